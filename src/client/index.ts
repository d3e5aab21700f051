/**
 * Typed client of discord-state-cache (`import { CacheClient } from 'discord-state-cache/client'`).
 *
 * Self-contained: only Node's global `fetch` (and `node:fs` for the `record` option) at run time, and type-only
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
import type {
  BigString,
  DiscordChannel,
  DiscordGatewayPayload,
  DiscordGuild,
  DiscordMember,
  DiscordMessage,
  DiscordPresenceUpdate,
  DiscordUnavailableGuild,
  DiscordUser,
} from '@discordeno/types';
import { Dispatcher, type DispatchStats } from './dispatcher.js';
import { CacheError } from './errors.js';
import { Transport, answerError, toJson, type Query, type RetryInfo } from './http.js';
import { Recorder } from './recorder.js';

export { CacheError } from './errors.js';
export type { DispatchStats } from './dispatcher.js';
export type { RetryInfo } from './http.js';

/** What the gateway workers of a Discordeno big bot forward to the event handler. */
export interface GatewayForward {
  payload: DiscordGatewayPayload;
  shardId: number;
}

/** What `dispatch()` takes: a raw (snake_case) gateway payload, or a `{ payload, shardId }` forward. */
export type DispatchPacket = DiscordGatewayPayload | GatewayForward;

/** A member as the cache returns it: `user` is the cached user, or only `{ id }` when the user is not cached. */
export type CachedMember = DiscordMember & { user: DiscordUser | { id: string } };

export type PageOptions = {
  /** 1 to 1000 (the server's default: 100). */
  limit?: number;
  /** Only ids greater than this one (pass the last id of the previous page). */
  after?: BigString;
};

export type MessagePageOptions = {
  /** 1 to 1000 (the server's default: 100). */
  limit?: number;
  /** Only ids smaller than this one (newest first: pass the last id of the previous page). */
  before?: BigString;
};

export interface CacheStats {
  tables: {
    users: number;
    members: number;
    guilds: number;
    channels: number;
    threads: number;
    messages: number;
    presences: number;
    unavailable_guilds: number;
  };
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
  /** Base URL of the service, e.g. `http://127.0.0.1:8080` (a path prefix is kept). */
  url: string;
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
  dispatch?: {
    /** Events per request at most (default 500). */
    batchSize?: number;
    /** How long the first buffered event waits for others before a batch is sent (ms, default 5). */
    batchDelayMs?: number;
    /** Events buffered or in flight at most; further `dispatch()` calls wait for room (default 10 000). */
    maxQueued?: number;
    /** Bytes per request at most, about (default 8 MiB; a larger single event is sent alone). */
    maxBatchBytes?: number;
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
export class CacheClient {
  private readonly transport: Transport;
  private readonly dispatcher: Dispatcher;
  private readonly attempts: number;
  private readonly recorder: Recorder | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: CacheClientOptions) {
    if (!options?.url) throw new TypeError('CacheClient needs { url }');
    this.attempts = Math.max(1, options.requestAttempts ?? 4);
    this.transport = new Transport({
      url: options.url,
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
    });
    const batchSize = options.dispatch?.batchSize ?? 500;
    this.dispatcher = new Dispatcher(this.transport, {
      batchSize,
      batchDelayMs: options.dispatch?.batchDelayMs ?? 5,
      maxQueued: options.dispatch?.maxQueued ?? Math.max(10_000, batchSize),
      maxBatchBytes: options.dispatch?.maxBatchBytes ?? 8 * 1024 * 1024,
    });
    this.recorder = options.record ? new Recorder(options.record) : undefined;
  }

  // ---- resources ----

  readonly users = {
    get: (userId: BigString) => this.getOne<DiscordUser>(`/v1/users/${enc(userId)}`),
    put: (userId: BigString, user: Partial<DiscordUser>) => this.put<DiscordUser>(`/v1/users/${enc(userId)}`, user),
    delete: (userId: BigString) => this.remove(`/v1/users/${enc(userId)}`),
  };

  readonly guilds = {
    get: (guildId: BigString) => this.getOne<DiscordGuild>(`/v1/guilds/${enc(guildId)}`),
    /** Only the guild's own properties are stored (nested channels, members, … are ignored). */
    put: (guildId: BigString, guild: Partial<DiscordGuild>) => this.put<DiscordGuild>(`/v1/guilds/${enc(guildId)}`, guild),
    /** Also deletes the guild's members, channels, threads, messages and presences. */
    delete: (guildId: BigString) => this.remove(`/v1/guilds/${enc(guildId)}`),
    /** By id ascending. */
    list: (page: PageOptions = {}) => this.list<DiscordGuild>('/v1/guilds', page),
    /** Every cached guild, page by page. */
    iterate: (pageSize = 1000) => this.pages<DiscordGuild>('/v1/guilds', pageSize),
  };

  readonly members = {
    /** `user` is the cached user, or `{ id }` when the user is not cached. */
    get: (guildId: BigString, userId: BigString) => this.getOne<CachedMember>(memberPath(guildId, userId)),
    /** A `user` in the body also upserts the user. */
    put: (guildId: BigString, userId: BigString, member: Partial<CachedMember>) =>
      this.put<CachedMember>(memberPath(guildId, userId), member),
    delete: (guildId: BigString, userId: BigString) => this.remove(memberPath(guildId, userId)),
    /** By user id ascending. */
    list: (guildId: BigString, page: PageOptions = {}) =>
      this.list<CachedMember>(`/v1/guilds/${enc(guildId)}/members`, page),
    iterate: (guildId: BigString, pageSize = 1000) => this.pages<CachedMember>(`/v1/guilds/${enc(guildId)}/members`, pageSize),
  };

  readonly channels = {
    get: (channelId: BigString) => this.getOne<DiscordChannel>(`/v1/channels/${enc(channelId)}`),
    /** Not for threads (types 10, 11, 12: a 400); use `threads.put`. */
    put: (channelId: BigString, channel: Partial<DiscordChannel>) =>
      this.put<DiscordChannel>(`/v1/channels/${enc(channelId)}`, channel),
    /** Also deletes the channel's threads and the messages of both. */
    delete: (channelId: BigString) => this.remove(`/v1/channels/${enc(channelId)}`),
    /** Every cached channel of the guild (not paged), by id. */
    list: (guildId: BigString) => this.list<DiscordChannel>(`/v1/guilds/${enc(guildId)}/channels`, {}),
  };

  readonly threads = {
    get: (threadId: BigString) => this.getOne<DiscordChannel>(`/v1/threads/${enc(threadId)}`),
    put: (threadId: BigString, thread: Partial<DiscordChannel>) =>
      this.put<DiscordChannel>(`/v1/threads/${enc(threadId)}`, thread),
    /** Also deletes the thread's messages. */
    delete: (threadId: BigString) => this.remove(`/v1/threads/${enc(threadId)}`),
    /** Every cached thread of the guild, or of one parent channel. */
    list: (guildId: BigString, options: { parent_id?: BigString } = {}) =>
      this.list<DiscordChannel>(`/v1/guilds/${enc(guildId)}/threads`, { parent_id: options.parent_id }),
  };

  readonly messages = {
    get: (channelId: BigString, messageId: BigString) => this.getOne<DiscordMessage>(messagePath(channelId, messageId)),
    put: (channelId: BigString, messageId: BigString, message: Partial<DiscordMessage>) =>
      this.put<DiscordMessage>(messagePath(channelId, messageId), message),
    delete: (channelId: BigString, messageId: BigString) => this.remove(messagePath(channelId, messageId)),
    /** Newest first. */
    list: (channelId: BigString, page: MessagePageOptions = {}) =>
      this.list<DiscordMessage>(`/v1/channels/${enc(channelId)}/messages`, page),
    /** Every cached message of the channel or thread, newest first. */
    iterate: (channelId: BigString, pageSize = 1000) =>
      this.pages<DiscordMessage>(`/v1/channels/${enc(channelId)}/messages`, pageSize, 'before'),
  };

  readonly presences = {
    get: (guildId: BigString, userId: BigString) => this.getOne<DiscordPresenceUpdate>(presencePath(guildId, userId)),
    put: (guildId: BigString, userId: BigString, presence: Partial<DiscordPresenceUpdate>) =>
      this.put<DiscordPresenceUpdate>(presencePath(guildId, userId), presence),
    delete: (guildId: BigString, userId: BigString) => this.remove(presencePath(guildId, userId)),
    list: (guildId: BigString, page: PageOptions = {}) =>
      this.list<DiscordPresenceUpdate>(`/v1/guilds/${enc(guildId)}/presences`, page),
    iterate: (guildId: BigString, pageSize = 1000) =>
      this.pages<DiscordPresenceUpdate>(`/v1/guilds/${enc(guildId)}/presences`, pageSize),
  };

  readonly unavailableGuilds = {
    get: (guildId: BigString) => this.getOne<DiscordUnavailableGuild>(`/v1/unavailable-guilds/${enc(guildId)}`),
    /** Marks the guild unavailable (its cached data stays). */
    put: (guildId: BigString) => this.put<DiscordUnavailableGuild>(`/v1/unavailable-guilds/${enc(guildId)}`, undefined),
    delete: (guildId: BigString) => this.remove(`/v1/unavailable-guilds/${enc(guildId)}`),
    list: (page: PageOptions = {}) => this.list<DiscordUnavailableGuild>('/v1/unavailable-guilds', page),
    iterate: (pageSize = 1000) => this.pages<DiscordUnavailableGuild>('/v1/unavailable-guilds', pageSize),
  };

  /**
   * A member's permissions in the guild, or in a channel or thread, as a `bigint` bit set (what Discordeno
   * uses; the wire format is a decimal string). `undefined` when the guild, member or channel is not cached.
   */
  async permissions(guildId: BigString, userId: BigString, channelId?: BigString): Promise<bigint | undefined> {
    const path = `${memberPath(guildId, userId)}/permissions`;
    const query = channelId === undefined ? undefined : { channel_id: channelId };
    const answer = await this.transport.request('GET', path, this.attempts, undefined, query);
    if (isNotCached(answer.status, answer.body)) return undefined;
    const body = this.expect<{ permissions: string }>(answer, 'GET', path);
    return BigInt(body.permissions);
  }

  /** Rows per table and ingest counters. */
  async stats(): Promise<CacheStats> {
    return this.expect<CacheStats>(await this.transport.request('GET', '/v1/stats', this.attempts), 'GET', '/v1/stats');
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
   * Delivery is at least once (see dispatcher.ts): a batch whose answer was lost is sent again.
   */
  dispatch(packet: DispatchPacket): Promise<void> {
    // Only what the dispatcher takes (it refuses after close() and anything but one object).
    if (this.recorder && this.closing === undefined && typeof packet === 'object' && packet !== null && !Array.isArray(packet)) {
      this.recorder.write(packet);
    }
    return this.dispatcher.dispatch(packet);
  }

  /** Resolves when every event dispatched before the call is settled (committed, or rejected to its caller). */
  flush(): Promise<void> {
    return this.dispatcher.flush();
  }

  /** Queue and delivery counters (for metrics and tests). */
  get dispatchStats(): DispatchStats {
    return this.dispatcher.stats;
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
      await this.recorder?.end();
    })();
    return this.closing;
  }

  /** Stops at once: aborts requests and retries, rejects every event not yet committed. */
  destroy() {
    void this.recorder?.end().catch(() => {}); // what was recorded stays in the file
    this.dispatcher.abandon(new CacheError('the client was destroyed before the event was committed', 0, 'POST', '/v1/dispatch'));
    this.transport.lifetime.abort(new Error('CacheClient destroyed'));
  }

  // ---- plumbing ----

  private async getOne<T>(path: string): Promise<T | undefined> {
    const answer = await this.transport.request('GET', path, this.attempts);
    if (isNotCached(answer.status, answer.body)) return undefined;
    return this.expect<T>(answer, 'GET', path);
  }

  private async put<T>(path: string, body: unknown): Promise<T> {
    const answer = await this.transport.request('PUT', path, this.attempts, body === undefined ? undefined : toJson(body));
    return this.expect<T>(answer, 'PUT', path);
  }

  private async remove(path: string): Promise<void> {
    const answer = await this.transport.request('DELETE', path, this.attempts);
    this.expect<unknown>(answer, 'DELETE', path);
  }

  private async list<T>(path: string, query: Query): Promise<T[]> {
    return this.expect<T[]>(await this.transport.request('GET', path, this.attempts, undefined, query), 'GET', path);
  }

  private async *pages<T extends { id?: string; user?: { id?: string } }>(
    path: string,
    pageSize: number,
    bound: 'after' | 'before' = 'after',
  ): AsyncGenerator<T, void, undefined> {
    let cursor: string | undefined;
    for (;;) {
      const page = await this.list<T>(path, { limit: pageSize, [bound]: cursor });
      yield* page;
      if (page.length < pageSize) return;
      const last = page[page.length - 1]!;
      // Members and presences are keyed by their user's id.
      const next = last.id ?? last.user?.id;
      if (next === undefined) {
        throw new CacheError(`cannot page ${path}: its last item carries no id`, 0, 'GET', path);
      }
      if (next === cursor) return;
      cursor = next;
    }
  }

  private expect<T>(answer: { status: number; body: unknown; retryAfterMs: number | undefined }, method: string, path: string): T {
    if (answer.status >= 200 && answer.status < 300) return answer.body as T;
    throw answerError(answer, method, path);
  }

  private async probe(path: string): Promise<boolean> {
    try {
      return (await this.transport.send('GET', path)).status === 200;
    } catch {
      return false;
    }
  }
}

const memberPath = (guildId: BigString, userId: BigString) => `/v1/guilds/${enc(guildId)}/members/${enc(userId)}`;
const presencePath = (guildId: BigString, userId: BigString) => `/v1/guilds/${enc(guildId)}/presences/${enc(userId)}`;
const messagePath = (channelId: BigString, messageId: BigString) =>
  `/v1/channels/${enc(channelId)}/messages/${enc(messageId)}`;

/**
 * A 404 of the service's own `"<kind> <id> is not cached"` (a missing object), not Fastify's
 * `"Route GET:/v1/… not found"` (a wrong URL or version, which must not look like an empty cache).
 */
function isNotCached(status: number, body: unknown): boolean {
  if (status !== 404) return false;
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && / is not cached$/.test(message);
}
