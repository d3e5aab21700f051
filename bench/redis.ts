/**
 * The Redis baseline: the cache a competent bot developer writes on Redis (ioredis, one connection), in the
 * benchmark process like the naive PostgreSQL cache, fed the same request bodies as the service: JSON text →
 * `JSON.parse` → one pipeline per request (every command of every event of the body), values as JSON text.
 *
 * Keys (database BENCH_REDIS_DB, 9 by default, owned by the benchmark: flushed before and after):
 * - `users` hash: user id → user;
 * - `guild:{id}` string: the guild without its member, channel, thread, presence and voice state lists (roles,
 *   emojis and stickers stay inside);
 * - `guild:{id}:members` hash: user id → member without `user`; `guild:{id}:presences` hash: user id → presence;
 * - `guild:{id}:channels`, `guild:{id}:threads` hashes: id → channel / thread (GUILD_CREATE's `guild_id` added),
 *   replaced whole by GUILD_CREATE (DEL then HSET: its lists are authoritative), and `channel:{id}` strings with
 *   the same JSON, to read a channel or thread by id alone;
 * - `channel:{id}:messages` hash: message id → message without `member` (the author's member goes to the members hash).
 *
 * What it does NOT do that the service does: durability (Redis' default snapshotting loses the last minutes;
 * the service answers after COMMIT); atomic requests (a pipeline is not MULTI: a failing command leaves the
 * others applied; a body that does not parse is rejected whole, one whose events are malformed is not checked);
 * validation; merges of partial objects (every write replaces the whole value: a PRESENCE_UPDATE's partial user
 * is not merged into `users`, a GUILD_MEMBER_UPDATE replaces the member); cascades (a channel dropped by a
 * GUILD_CREATE keeps its `channel:{id}` key and messages; nothing is deleted with a guild); retention (messages
 * are never pruned); a channel's `last_message_id` (moving it would need a read-modify-write of the channel);
 * the other events (roles, deletes, threads' events, reactions, READY's reconciliation). That is the bar: the
 * service must be at least as fast while doing all of it.
 */
import { Redis, type ChainableCommander } from 'ioredis';
import type { GuildSetCounts } from './db.js';

type Obj = Record<string, unknown>;

/** Marks the database as the benchmark's (with the owning pid), so a later run knows it may flush it. */
const OWNER_KEY = 'discord-state-cache:bench-owner';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export class RedisCache {
  /** Commands and pipelines sent so far. */
  commands = 0;
  pipelines = 0;
  /** Set by `close()`: no request is applied after the final flush. */
  private closed = false;
  /** The connection's last error (ioredis emits them as events). */
  lastError: Error | undefined;

  private constructor(
    readonly redis: Redis,
    readonly db: number,
  ) {}

  /**
   * Connects to database `db` and flushes it, refusing (throws) when it holds keys that are not the
   * benchmark's, or those of a benchmark still running.
   */
  static async open(url: string, db: number): Promise<RedisCache> {
    const redis = new Redis(url, { db, lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 1, retryStrategy: () => null });
    let firstError: Error | undefined;
    redis.on('error', (err: Error) => {
      firstError ??= err;
    });
    try {
      await redis.connect();
      if ((await redis.dbsize()) > 0) {
        const owner = await redis.get(OWNER_KEY);
        if (owner === null) throw new Error(`Redis database ${db} holds keys that are not the benchmark's: not touching it (set BENCH_REDIS_DB)`);
        if (Number(owner) !== process.pid && alive(Number(owner))) throw new Error(`Redis database ${db} is in use by benchmark pid ${owner}`);
      }
      await redis.flushdb();
      await redis.set(OWNER_KEY, String(process.pid));
      const cache = new RedisCache(redis, db);
      redis.on('error', (err: Error) => {
        cache.lastError = err;
      });
      return cache;
    } catch (err) {
      redis.disconnect();
      throw firstError ?? err;
    }
  }

  /** Flushes the benchmark's database and disconnects; later requests throw. */
  async close(): Promise<void> {
    this.closed = true;
    try {
      await this.redis.flushdb();
      await this.redis.quit();
    } finally {
      this.redis.disconnect();
    }
  }

  /** `redis-server`'s own figure for its memory (INFO memory's used_memory_human). */
  async usedMemory(): Promise<string> {
    const info = await this.redis.info('memory');
    return /^used_memory_human:(\S+)/m.exec(info)?.[1] ?? 'n/a';
  }

  /** One request: parses the body (a payload, a `{ payload, shardId }` forward or an array of them), one pipeline. */
  async handleBody(body: string | Buffer, expectApplied: number): Promise<void> {
    if (this.closed) throw new Error('redis: the cache is closed');
    const parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as unknown;
    const items = (Array.isArray(parsed) ? parsed : [parsed]) as Obj[];
    const p = this.redis.pipeline();
    let applied = 0;
    for (const item of items) {
      const payload = (item.payload ?? item) as Obj;
      if (payload.op === 0 && this.apply(p, payload.t as string, payload.d as Obj)) applied++;
    }
    if (applied !== expectApplied) throw new Error(`redis: expected ${expectApplied} applied, got ${applied}`);
    this.commands += p.length;
    this.pipelines++;
    const results = (await p.exec()) ?? [];
    for (const [err] of results) if (err) throw this.lastError ? new Error(`${err.message} (connection: ${this.lastError.message})`) : err;
  }

  private apply(p: ChainableCommander, t: string, d: Obj): boolean {
    switch (t) {
      case 'GUILD_CREATE':
        this.guildCreate(p, d);
        return true;
      case 'PRESENCE_UPDATE':
        p.hset(`guild:${String(d.guild_id)}:presences`, (d.user as Obj).id as string, JSON.stringify(d));
        return true;
      case 'GUILD_MEMBER_UPDATE': {
        const { user, guild_id, ...member } = d;
        const userId = (user as Obj).id as string;
        p.hset('users', userId, JSON.stringify(user));
        p.hset(`guild:${String(guild_id)}:members`, userId, JSON.stringify(member));
        return true;
      }
      case 'MESSAGE_CREATE': {
        const { member, ...message } = d;
        const author = d.author as Obj;
        const authorId = author.id as string;
        p.hset(`channel:${String(d.channel_id)}:messages`, d.id as string, JSON.stringify(message));
        if (d.webhook_id == null) {
          const users = new Map<string, string>([[authorId, JSON.stringify(author)]]);
          for (const m of (d.mentions as Obj[] | undefined) ?? []) users.set(m.id as string, JSON.stringify(m));
          p.hset('users', users);
          if (member && d.guild_id) p.hset(`guild:${String(d.guild_id)}:members`, authorId, JSON.stringify(member));
        }
        return true;
      }
      default:
        return false;
    }
  }

  private guildCreate(p: ChainableCommander, d: Obj) {
    const { members, channels, threads, presences, voice_states: _voice, ...guild } = d;
    const id = d.id as string;
    if (d.unavailable === true) return;
    p.set(`guild:${id}`, JSON.stringify(guild));
    p.del(`guild:${id}:channels`, `guild:${id}:threads`);
    const byId = new Map<string, string>();
    for (const [list, key] of [[channels, 'channels'], [threads, 'threads']] as const) {
      const hash = new Map<string, string>();
      for (const c of (list as Obj[] | undefined) ?? []) {
        const json = JSON.stringify({ ...c, guild_id: id });
        hash.set(c.id as string, json);
        byId.set(`channel:${String(c.id)}`, json);
      }
      if (hash.size > 0) p.hset(`guild:${id}:${key}`, hash);
    }
    if (byId.size > 0) p.mset(byId);
    const users = new Map<string, string>();
    const memberMap = new Map<string, string>();
    for (const m of (members as Obj[] | undefined) ?? []) {
      const { user, ...member } = m;
      const userId = (user as Obj).id as string;
      users.set(userId, JSON.stringify(user));
      memberMap.set(userId, JSON.stringify(member));
    }
    if (users.size > 0) p.hset('users', users);
    if (memberMap.size > 0) p.hset(`guild:${id}:members`, memberMap);
    const presenceMap = new Map<string, string>();
    for (const pr of (presences as Obj[] | undefined) ?? []) presenceMap.set((pr.user as Obj).id as string, JSON.stringify(pr));
    if (presenceMap.size > 0) p.hset(`guild:${id}:presences`, presenceMap);
  }

  /** A member and its user, in one pipeline (the service's read joins them too); throws when the member is absent. */
  async readMember(guildId: string, userId: string): Promise<void> {
    const res = (await this.redis.pipeline().hget(`guild:${guildId}:members`, userId).hget('users', userId).exec()) ?? [];
    if (res[0]?.[0] || res[0]?.[1] == null) throw new Error(`redis: no member ${guildId}/${userId}`);
  }

  /** A channel by id; throws when absent. */
  async readChannel(channelId: string): Promise<void> {
    if ((await this.redis.get(`channel:${channelId}`)) === null) throw new Error(`redis: no channel ${channelId}`);
  }

  /** What the cache holds for these guilds and users (the storm's check), read 500 guilds per pipeline. */
  async counts(guildIds: readonly string[], userIds: readonly string[]): Promise<GuildSetCounts> {
    const out: GuildSetCounts = { guilds: 0, channels: 0, threads: 0, members: 0, presences: 0, users: 0, roles: 0, emojis: 0, overwrites: 0 };
    for (let i = 0; i < guildIds.length; i += 500) {
      const p = this.redis.pipeline();
      const chunk = guildIds.slice(i, i + 500);
      for (const id of chunk) {
        p.get(`guild:${id}`).hvals(`guild:${id}:channels`).hlen(`guild:${id}:threads`).hlen(`guild:${id}:members`).hlen(`guild:${id}:presences`);
      }
      const res = (await p.exec()) ?? [];
      for (let j = 0; j < chunk.length; j++) {
        const [guild, channels, threads, members, presences] = res.slice(5 * j, 5 * j + 5).map((r) => {
          if (r[0]) throw r[0];
          return r[1];
        });
        if (typeof guild === 'string') {
          const g = JSON.parse(guild) as Obj;
          out.guilds++;
          out.roles += (g.roles as unknown[]).length;
          out.emojis += (g.emojis as unknown[]).length;
        }
        for (const c of channels as string[]) {
          out.channels++;
          out.overwrites += ((JSON.parse(c) as Obj).permission_overwrites as unknown[]).length;
        }
        out.threads += threads as number;
        out.members += members as number;
        out.presences += presences as number;
      }
    }
    for (let i = 0; i < userIds.length; i += 1_000) {
      const found = await this.redis.hmget('users', ...userIds.slice(i, i + 1_000));
      out.users += found.filter((u) => u !== null).length;
    }
    return out;
  }
}
