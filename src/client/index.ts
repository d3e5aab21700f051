/**
 * Typed client of discord-state-cache (`import { CacheClient } from 'discord-state-cache/client'`).
 *
 * Self-contained: only Node's global `fetch` (`node:fs` for the `record` option, `node:http(s)` for the change
 * feed of the `localCache` option, and the pure `cache/feed-protocol.ts` and `cache/permissions.ts`) at run time, and type-only
 * imports of `@discordeno/types`, so it can be imported by a bot without pulling in the service (Fastify,
 * Drizzle, pg).
 *
 * ```ts
 * const cache = new CacheClient({ url: 'http://127.0.0.1:8080', token: process.env.CACHE_TOKEN });
 * await cache.dispatch({ payload, shardId });          // resolves once committed (batched with others)
 * const guild = await cache.guilds.get(guildId);       // DiscordGuild | undefined (404 → undefined)
 * if (guild) bot.transformers.guild(bot, { guild, shardId });
 * ```
 *
 * Objects come back in Discord's raw shape (snake_case, snowflakes as strings). They hold the properties the
 * cache stores, and leave out those whose cached value is null: they are typed with the `@discordeno/types`
 * interfaces because Discordeno's transformers accept them as such, but a property the interface declares as
 * required may be absent. Ids may be passed as strings or bigints (Discordeno's ids).
 */
import type { BigString, DiscordGatewayPayload } from '@discordeno/types';
import type { TableName } from '../db/tables.js';
import { Dispatcher, type DispatchStats } from './dispatcher.js';
import { CacheError } from './errors.js';
import { FeedConnection } from './feed.js';
import { Transport, answerError, toJson, type Answer, type Query, type RetryInfo } from './http.js';
import { LocalCache, type LocalCacheStats } from './local-cache.js';
import { localPermissions } from './permissions.js';
import { Recorder } from './recorder.js';
import { onePath, resources, type Resources } from './resources.js';
import { RoutedDispatcher, RoutedRequests, ShardMap } from './router.js';
import { TrackedEvents } from './tracked.js';

export { CacheError } from './errors.js';
export type { DispatchStats } from './dispatcher.js';
export type { RetryInfo } from './http.js';
export type { LocalCacheStats } from './local-cache.js';

/** What the gateway workers of a Discordeno big bot forward to the event handler. */
export interface GatewayForward {
  payload: DiscordGatewayPayload;
  shardId: number;
}

/** What `dispatch()` takes: a raw (snake_case) gateway payload, or a `{ payload, shardId }` forward. */
export type DispatchPacket = DiscordGatewayPayload | GatewayForward;

export type { CachedMember, DiscordObjects, TableName } from '../db/tables.js';
export type { ListOptions, ResourceClient, Resources } from './resources.js';

/** The options of the id-ordered lists (`guilds.list`, `members.list`, …). */
export type PageOptions = {
  /** 1 to 1000 (the server's default: 100). */
  limit?: number;
  /** Only ids greater than this one (pass the last id of the previous page). */
  after?: BigString;
};

/** The options of `messages.list` (newest first). */
export type MessagePageOptions = {
  /** 1 to 1000 (the server's default: 100). */
  limit?: number;
  /** Only ids smaller than this one (pass the last id of the previous page). */
  before?: BigString;
};

export interface CacheStats {
  /** Rows of each cached table (a table left out of CACHE_TABLES is not listed). */
  tables: Partial<Record<TableName, number>>;
  ingest: {
    applied: number;
    ignored: number;
    transactions: number;
    rejected: number;
    unavailable: number;
    queue_depth: number;
    [counter: string]: number;
  };
}

export interface CacheClientOptions {
  /**
   * Base URL of the service, e.g. `http://127.0.0.1:8080` (a path prefix is kept). Several instances writing
   * different shards (TOTAL_SHARDS, SHARDS): every one's URL, `[a, b, c]`. Each event then goes to the instance
   * holding its shard (learned from their `GET /v1/shards`, learned again when an instance answers 421, 503 or
   * not at all), each shard's events in call order; resource calls go to any instance (see router.ts).
   */
  url: string | readonly string[];
  /** The service's `CACHE_TOKEN`, sent as `Authorization: Bearer <token>`. */
  token?: string | undefined;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** A `fetch` implementation (default: Node's global `fetch`). */
  fetch?: typeof fetch;
  /** Per-request timeout in ms (default 30 000). A timed-out dispatch batch is sent again. */
  timeoutMs?: number;
  /**
   * Resource calls (get/put/delete/list, permissions, stats): attempts in all when there is no answer or a
   * 408/429/502/503/504 (default 4). Dispatches are retried without limit.
   */
  requestAttempts?: number;
  /** Backoff: first step in ms (default 100), doubling up to `maxRetryDelayMs` (default 5 000). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** A `Retry-After` longer than this is cut to it (ms, default 60 000). */
  maxRetryAfterMs?: number;
  /** Called before each retry (to log outages). */
  onRetry?: (info: RetryInfo) => void;
  /**
   * A file path: every packet passed to `dispatch()` is also appended to it as one JSON line, in call order
   * (whatever the service answers), for `discord-state-cache replay FILE`. The file is opened at once (a bad
   * path throws here) and written out by `close()`, which rejects if a write failed.
   */
  record?: string | undefined;
  /**
   * Keep `get()` answers in this process (an LRU of `maxEntries` objects, default 10,000), kept fresh by the
   * service's change feed (`GET /v1/changes`, which the client subscribes to): reads of hot objects answer
   * in microseconds. Served only while the feed is connected; after `dispatch()`, `put()` or `delete()`
   * resolves, reads go to the service until the feed has passed that write; `permissions()` is computed
   * locally. Objects served from it are frozen (shared by every caller). See the README, "Local cache".
   */
  localCache?: { maxEntries?: number } | undefined;
  dispatch?: {
    /** Events per request at most (default 500). */
    batchSize?: number;
    /** How long the first buffered event waits for others before a batch is sent (ms, default 5). */
    batchDelayMs?: number;
    /** Events buffered or in flight at most; further `dispatch()` calls wait for room (default 10 000). */
    maxQueued?: number;
    /** Bytes per request at most, about (default 8 MiB; a larger single event is sent alone). */
    maxBatchBytes?: number;
    /**
     * Send events the service does not track too (default false: their `dispatch()` resolves at once and
     * nothing is sent; the list comes from `GET /v1/events`).
     */
    sendUntracked?: boolean;
  };
}

const enc = (id: BigString) => encodeURIComponent(String(id));

/**
 * The client. Resource groups mirror the HTTP API: `users`, `guilds`, `members`, `channels`, `threads`,
 * `messages`, `presences`, `unavailableGuilds`; plus `permissions()`, `stats()`, `ready()`, `health()` and the
 * batched `dispatch()` / `flush()` / `close()`.
 *
 * Errors: every call rejects with a `CacheError` (`statusCode`, the server's `message`) on an error answer
 * (400, 401, 413, …) — except a `get` of an object that is not cached, which resolves `undefined` — and with
 * `statusCode: 0` when the service cannot be reached after `requestAttempts` attempts.
 */
// The resource groups (`users`, `members`, `voiceStates`, …) are added by the constructor (see resources.ts).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface CacheClient extends Resources {}

/** Where resource calls go: the one instance, or any of several (router.ts). */
interface Requests {
  request(method: string, path: string, attempts: number, body?: string, query?: Query): Promise<Answer>;
  send(method: string, path: string): Promise<Answer>;
}

export class CacheClient {
  private readonly transports: Transport[];
  private readonly http: Requests;
  private readonly dispatcher: Dispatcher | RoutedDispatcher;
  private readonly attempts: number;
  private readonly recorder: Recorder | undefined;
  private readonly tracked: TrackedEvents;
  private readonly sendUntracked: boolean;
  private readonly local: LocalCache | undefined;
  private readonly feed: FeedConnection | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: CacheClientOptions) {
    const urls = typeof options?.url === 'string' ? [options.url] : [...(options?.url ?? [])];
    if (urls.length === 0 || urls.some((u) => typeof u !== 'string' || u === '')) throw new TypeError('CacheClient needs { url } (one URL, or a non-empty array of them)');
    this.attempts = Math.max(1, options.requestAttempts ?? 4);
    // One lifetime for every transport: destroy() aborts them all.
    const lifetime = new AbortController();
    const transport = (url: string) =>
      new Transport(
        {
          url,
          token: options.token,
          headers: options.headers,
          fetch: options.fetch ?? globalThis.fetch,
          timeoutMs: options.timeoutMs ?? 30_000,
          retry: {
            baseDelayMs: options.retryDelayMs ?? 100,
            maxDelayMs: options.maxRetryDelayMs ?? 5_000,
            maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
          },
          onRetry: options.onRetry,
        },
        lifetime,
      );
    this.transports = urls.map(transport);
    if (options.localCache) {
      // Every instance serves every change: the feed comes from the first.
      this.local = new LocalCache(options.localCache.maxEntries ?? 10_000);
      this.feed = new FeedConnection(this.transports[0]!, this.local);
    }
    const batchSize = options.dispatch?.batchSize ?? 500;
    const dispatchOptions = {
      batchSize,
      batchDelayMs: options.dispatch?.batchDelayMs ?? 5,
      maxQueued: options.dispatch?.maxQueued ?? Math.max(10_000, batchSize),
      maxBatchBytes: options.dispatch?.maxBatchBytes ?? 8 * 1024 * 1024,
      onCommitted: (changeId: number | undefined) => this.local?.written(changeId),
    };
    if (this.transports.length === 1) {
      this.http = this.transports[0]!;
      this.dispatcher = new Dispatcher(this.transports[0]!, dispatchOptions);
    } else {
      const map = new ShardMap(this.transports);
      this.http = new RoutedRequests(this.transports, map);
      this.dispatcher = new RoutedDispatcher(this.transports, map, dispatchOptions);
    }
    this.recorder = options.record ? new Recorder(options.record) : undefined;
    this.tracked = new TrackedEvents(this.http);
    this.sendUntracked = options.dispatch?.sendUntracked ?? false;
    // A local cache's misses read the primary: a replica may lag behind the feed.
    const loadPrimary = (table: TableName, ids: readonly unknown[]) => this.getOne(onePath(table, ids), true);
    Object.assign(
      this,
      resources({
        getOne: (table, ids) => (this.local ? this.local.get(table, ids, loadPrimary) : this.getOne(onePath(table, ids))),
        put: (path, body) => this.put(path, body),
        remove: (path) => this.remove(path),
        list: (path, query) => this.list(path, query),
      }),
    );
    this.feed?.start();
  }

  // ---- resources: see resources.ts (one group per table, from the table descriptors) ----

  /**
   * A member's permissions in the guild, or in a channel or thread, as a `bigint` bit set (what Discordeno
   * uses; the wire format is a decimal string). `undefined` when the guild, member or channel is not cached.
   */
  async permissions(guildId: BigString, userId: BigString, channelId?: BigString): Promise<bigint | undefined> {
    if (this.local?.serving) {
      return localPermissions(
        {
          guild: (id) => this.guilds.get(id),
          member: (g, u) => this.members.get(g, u),
          channel: (id) => this.channels.get(id),
          thread: (id) => this.threads.get(id),
        },
        guildId,
        userId,
        channelId,
      );
    }
    const path = `${memberPath(guildId, userId)}/permissions`;
    const query = channelId === undefined ? undefined : { channel_id: channelId };
    const answer = await this.http.request('GET', path, this.attempts, undefined, query);
    if (isNotCached(answer.status, answer.body)) return undefined;
    const body = this.expect<{ permissions: string }>(answer, 'GET', path);
    return BigInt(body.permissions);
  }

  /** Rows per table and ingest counters. */
  async stats(): Promise<CacheStats> {
    return this.expect<CacheStats>(await this.http.request('GET', '/v1/stats', this.attempts), 'GET', '/v1/stats');
  }

  /** `true` when `/ready` answers 200 (database up, no migration pending); `false` on 503 or no answer. Never throws. */
  async ready(): Promise<boolean> {
    return this.probe('/ready');
  }

  /** `true` when `/health` answers 200 (the process runs). Never throws. */
  async health(): Promise<boolean> {
    return this.probe('/health');
  }

  // ---- ingest ----

  /**
   * Queues one gateway dispatch (a raw snake_case payload, or the `{ payload, shardId }` a gateway worker
   * forwards) and resolves once it is committed to the cache. Events are sent in call order, batched (up to
   * `batchSize` per request, or after `batchDelayMs`), and retried without limit while the service is down or
   * overloaded, so an event is never dropped; when `maxQueued` events are pending, the call first waits for room.
   *
   * Rejects only when the service refuses the event itself (400: the `CacheError` carries the server's message,
   * the other events of its batch are still committed), on another non-retryable answer (401 bad token, 413
   * too large), or when the client is closed or destroyed first.
   *
   * Call it for every packet without awaiting one before dispatching the next (an event handler awaits it per
   * incoming request, concurrently): awaiting each call in a sequential loop sends one event per request.
   * Delivery is at least once (see dispatcher.ts): a batch whose answer was lost is sent again; forwards with
   * their `s` and `shardId` are applied exactly once by the service.
   *
   * An event the service does not track (INTERACTION_CREATE, TYPING_START, non-dispatch opcodes; the list
   * comes from `GET /v1/events` at the first call) resolves at once and is not sent: its handler never waits
   * behind a storm of GUILD_CREATEs. `await flush()` still waits for everything dispatched before it.
   */
  dispatch(packet: DispatchPacket): Promise<void> {
    // Only what the dispatcher takes (it refuses after close() and anything but one object).
    const accepted = this.closing === undefined && typeof packet === 'object' && packet !== null && !Array.isArray(packet);
    if (this.recorder && accepted) this.recorder.write(packet);
    // An event the service does not track is not stored: nothing to send, nothing to wait for.
    if (accepted && !this.sendUntracked && this.tracked.skips(packet)) return Promise.resolve();
    return this.dispatcher.dispatch(packet);
  }

  /**
   * Whether the service stores the gateway event `name` (learned from `GET /v1/events` at the first
   * `dispatch()`; `undefined` until known). Handlers of untracked events need not wait for the cache.
   */
  tracks(name: string): boolean | undefined {
    return this.tracked.tracks(name);
  }

  /** Learns which events the service tracks now, rather than at the first `dispatch()`. */
  async learnTrackedEvents(): Promise<void> {
    await this.tracked.ready();
  }

  /** Resolves when every event dispatched before the call is settled (committed, or rejected to its caller). */
  flush(): Promise<void> {
    return this.dispatcher.flush();
  }

  /** Queue and delivery counters (for metrics and tests). */
  get dispatchStats(): DispatchStats {
    return this.dispatcher.stats;
  }

  /** The local cache's state and counters (undefined without `localCache`). */
  get localCacheStats(): LocalCacheStats | undefined {
    return this.local?.stats;
  }

  /**
   * Refuses new dispatches, delivers everything already dispatched, then stops. With `timeoutMs`, whatever is
   * still not committed when it runs out is rejected (`destroy()`); without, it waits as long as it takes.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      this.dispatcher.stopAccepting();
      if (options.timeoutMs === undefined) {
        await this.dispatcher.flush();
      } else {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), options.timeoutMs)));
        const outcome = await Promise.race([this.dispatcher.flush(), timedOut]);
        clearTimeout(timer);
        if (outcome === 'timeout') this.destroy();
      }
      this.feed?.close();
      await this.recorder?.end();
    })();
    return this.closing;
  }

  /** Stops at once: aborts requests and retries, rejects every event not yet committed. */
  destroy() {
    this.feed?.close();
    void this.recorder?.end().catch(() => {}); // what was recorded stays in the file
    this.dispatcher.abandon(new CacheError('the client was destroyed before the event was committed', 0, 'POST', '/v1/dispatch'));
    this.transports[0]!.lifetime.abort(new Error('CacheClient destroyed')); // shared by every transport
  }

  // ---- plumbing ----

  /** `primary`: the local cache's fills read the primary (a replica may lag behind the change feed). */
  private async getOne<T>(path: string, primary = false): Promise<T | undefined> {
    const answer = await this.http.request('GET', path, this.attempts, undefined, primary ? { consistency: 'primary' } : undefined);
    if (isNotCached(answer.status, answer.body)) return undefined;
    return this.expect<T>(answer, 'GET', path);
  }

  private async put<T>(path: string, body: unknown): Promise<T> {
    const answer = await this.http.request('PUT', path, this.attempts, body === undefined ? undefined : toJson(body));
    return this.expect<T>(this.written(answer), 'PUT', path);
  }

  private async remove(path: string): Promise<void> {
    const answer = await this.http.request('DELETE', path, this.attempts);
    this.expect<unknown>(this.written(answer), 'DELETE', path);
  }

  /** A write's answer: the local cache reads through until the feed has passed its commit. */
  private written(answer: Answer): Answer {
    this.local?.written(answer.changeId);
    return answer;
  }

  private async list<T>(path: string, query: Query): Promise<T[]> {
    return this.expect<T[]>(await this.http.request('GET', path, this.attempts, undefined, query), 'GET', path);
  }

  private expect<T>(answer: { status: number; body: unknown; retryAfterMs: number | undefined }, method: string, path: string): T {
    if (answer.status >= 200 && answer.status < 300) return answer.body as T;
    throw answerError(answer, method, path);
  }

  /** With several instances: true when any answers 200. */
  private async probe(path: string): Promise<boolean> {
    const answers = await Promise.all(
      this.transports.map(async (t) => {
        try {
          return (await t.send('GET', path)).status === 200;
        } catch {
          return false;
        }
      }),
    );
    return answers.some(Boolean);
  }
}

const memberPath = (guildId: BigString, userId: BigString) => `/v1/guilds/${enc(guildId)}/members/${enc(userId)}`;

/**
 * A 404 NOT_CACHED (a missing object), not ROUTE_NOT_FOUND (a wrong URL or version, which must not look like
 * an empty cache) nor TABLE_NOT_CACHED (the table is left out of the cache: an error to see).
 */
function isNotCached(status: number, body: unknown): boolean {
  return status === 404 && (body as { code?: unknown } | undefined)?.code === 'NOT_CACHED';
}
