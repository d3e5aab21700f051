/**
 * The typed client (src/client) against the real service: every method over a real port and PostgreSQL,
 * dispatch batching and ordering, retries, backpressure, and a service restarted (SIGKILL, then SIGTERM)
 * while 3,000 dispatches stream through the client.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheClient, CacheError, type DispatchPacket, type RetryInfo } from '../../src/client/index.js';
import type { Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { makeApp } from '../helpers/app.js';
import { createEmptyDatabase, createPostgres, type TestDatabase } from '../helpers/db.js';
import { freePort, startService, waitHealthy, type Service } from '../helpers/process.js';
import { truncateAll } from '../helpers/snapshot.js';

const G = '81384788765712384';
const G2 = '81384788765712399';
const U1 = '80351110224678912';
const U2 = '80351110224678913';
const U3 = '80351110224678914';
const C1 = '81384788765712385';
const C2 = '81384788765712386';
const T1 = '81384788765712390';
const M1 = '81384788765712400';
const M2 = '81384788765712401';
const M3 = '81384788765712402';
const ROLE = '81384788765712500';

const ev = (t: string, d: unknown, s = 1): DispatchPacket => ({ op: 0, t: t as never, s, d });
const user = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  username: `user${id.slice(-3)}`,
  discriminator: '0',
  global_name: null,
  avatar: null,
  ...extra,
});
const memberAdd = (guildId: string, userId: string, extra: Record<string, unknown> = {}) =>
  ev('GUILD_MEMBER_ADD', {
    guild_id: guildId,
    user: user(userId),
    roles: [],
    joined_at: '2024-02-27T19:50:51.701000+00:00',
    deaf: false,
    mute: false,
    flags: 0,
    ...extra,
  });
const memberUpdate = (guildId: string, userId: string, nick: string) =>
  ev('GUILD_MEMBER_UPDATE', {
    guild_id: guildId,
    user: user(userId),
    roles: [],
    nick,
    joined_at: '2024-02-27T19:50:51.701000+00:00',
    flags: 0,
  });
const messageCreate = (id: string, channelId: string, authorId: string, content = `content ${id}`) =>
  ev('MESSAGE_CREATE', {
    id,
    channel_id: channelId,
    guild_id: G,
    author: user(authorId),
    content,
    timestamp: '2026-02-27T23:56:48.287000+00:00',
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: [],
    embeds: [],
    pinned: false,
    type: 0,
  });
const messageDelete = (id: string, channelId: string) => ev('MESSAGE_DELETE', { id, channel_id: channelId, guild_id: G });
const guildCreate = (channels: string[]) =>
  ev('GUILD_CREATE', {
    id: G,
    name: 'Guild',
    owner_id: U1,
    member_count: 0,
    roles: [{ id: G, name: '@everyone', permissions: '1024', position: 0 }],
    emojis: [],
    features: [],
    channels: channels.map((id) => ({ id, type: 0, name: `chan-${id.slice(-3)}`, position: 0, permission_overwrites: [] })),
    threads: [],
    members: [],
    presences: [],
  });

/** A snowflake above `base` (keeps order): base + n. */
const plus = (base: string, n: number) => (BigInt(base) + BigInt(n)).toString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rejects when `promise` takes longer than `ms` (every wait in these tests is bounded). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A `fetch` that counts requests per "METHOD path". */
function countingFetch() {
  const counts = new Map<string, number>();
  const fetcher: typeof fetch = (input, init) => {
    const url = new URL(String(input));
    const key = `${init?.method ?? 'GET'} ${url.pathname}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return fetch(input, init);
  };
  return { fetch: fetcher, count: (key: string) => counts.get(key) ?? 0 };
}

async function expectCacheError(promise: Promise<unknown>, status: number, message: RegExp | string) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CacheError);
  const e = err as CacheError;
  expect(e.statusCode).toBe(status);
  if (typeof message === 'string') expect(e.message).toContain(message);
  else expect(e.message).toMatch(message);
  return e;
}

describe('CacheClient against makeApp(db) on a real port', () => {
  let pg: Awaited<ReturnType<typeof createPostgres>>;
  let db: Database;
  let app: FastifyInstance;
  let url: string;
  let cache: CacheClient;

  beforeAll(async () => {
    pg = await createPostgres();
    db = pg.db;
    app = await makeApp(db, { messageLimit: 0 });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    cache = new CacheClient({ url });
  });
  afterAll(async () => {
    await cache?.close({ timeoutMs: 5_000 });
    await app?.close();
    await pg?.close();
  });

  describe('resources', () => {
    beforeAll(async () => truncateAll(db));

    it('users: put, get, delete; 404 → undefined; 400 → CacheError with the server message', async () => {
      expect(await cache.users.get(U1)).toBeUndefined();
      const stored = await cache.users.put(U1, { username: 'nelly', discriminator: '0', global_name: 'Nelly' });
      expect(stored).toMatchObject({ id: U1, username: 'nelly', global_name: 'Nelly' });
      // ids as bigints (Discordeno's) work too; merge keeps absent keys
      expect(await cache.users.put(BigInt(U1), { avatar: 'abc' })).toMatchObject({ username: 'nelly', avatar: 'abc' });
      expect(await cache.users.get(BigInt(U1))).toMatchObject({ id: U1, username: 'nelly', avatar: 'abc' });

      await expectCacheError(cache.users.put(U1, { id: U2, username: 'x' }), 400, `body.id (${U2}) differs from the path (${U1})`);
      const bad = await expectCacheError(cache.users.get('not-a-snowflake'), 400, 'params.userId must be a snowflake');
      expect(bad.error).toBe('Bad Request');

      await cache.users.delete(U1);
      expect(await cache.users.get(U1)).toBeUndefined();
      await cache.users.delete(U1); // absent: still fine (204)
    });

    it('guilds: put, get, list with paging, iterate, delete', async () => {
      const roles = [{ id: G, name: '@everyone', permissions: '1024', position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 }];
      const g = await cache.guilds.put(G, { name: 'Guild', owner_id: U1, roles: roles as never });
      expect(g).toMatchObject({ id: G, name: 'Guild', owner_id: U1 });
      await cache.guilds.put(G2, { name: 'Other' });
      expect(await cache.guilds.get(G)).toMatchObject({ id: G, name: 'Guild', roles: [{ id: G, permissions: '1024' }] });

      expect((await cache.guilds.list()).map((x) => x.id)).toEqual([G, G2]);
      expect((await cache.guilds.list({ limit: 1 })).map((x) => x.id)).toEqual([G]);
      expect((await cache.guilds.list({ limit: 1, after: G })).map((x) => x.id)).toEqual([G2]);
      const all: string[] = [];
      for await (const x of cache.guilds.iterate(1)) all.push(x.id);
      expect(all).toEqual([G, G2]);

      await expectCacheError(cache.guilds.list({ limit: 5000 }), 400, 'querystring.limit must be an integer from 1 to 1000');
      await expectCacheError(cache.guilds.put(G, { id: G2 }), 400, 'differs from the path');

      await cache.guilds.delete(G2);
      expect(await cache.guilds.get(G2)).toBeUndefined();
    });

    it('members: put with user (also upserts the user), get, list, iterate, delete', async () => {
      const m = await cache.members.put(G, U1, {
        user: user(U1, { username: 'alpha' }) as never,
        roles: [],
        nick: 'first',
        joined_at: '2024-01-01T00:00:00+00:00',
        deaf: false,
        mute: false,
        flags: 0,
      });
      expect(m).toMatchObject({ nick: 'first', user: { id: U1, username: 'alpha' } });
      expect(await cache.users.get(U1)).toMatchObject({ username: 'alpha' });
      await cache.members.put(G, U2, { user: user(U2) as never, roles: [], joined_at: '2024-01-01T00:00:00+00:00' });

      expect(await cache.members.get(G, U1)).toMatchObject({ nick: 'first', user: { id: U1 } });
      expect(await cache.members.get(G, U3)).toBeUndefined();
      expect((await cache.members.list(G)).map((x) => x.user?.id)).toEqual([U1, U2]);
      expect((await cache.members.list(G, { limit: 1, after: U1 })).map((x) => x.user?.id)).toEqual([U2]);
      const ids: (string | undefined)[] = [];
      for await (const x of cache.members.iterate(G, 1)) ids.push(x.user?.id);
      expect(ids).toEqual([U1, U2]);

      await expectCacheError(cache.members.put(G, U1, { user: user(U2) as never }), 400, 'body.user.id');
      await cache.members.delete(G, U2);
      expect(await cache.members.get(G, U2)).toBeUndefined();
    });

    it('channels: put, get, list of a guild, a thread type is a 400, delete', async () => {
      const c = await cache.channels.put(C1, { guild_id: G, type: 0, name: 'general', position: 0, permission_overwrites: [] });
      expect(c).toMatchObject({ id: C1, name: 'general', type: 0 });
      await cache.channels.put(C2, { guild_id: G, type: 2, name: 'voice', position: 1 });
      expect(await cache.channels.get(C1)).toMatchObject({ id: C1, guild_id: G, name: 'general' });
      expect((await cache.channels.list(G)).map((x) => x.id)).toEqual([C1, C2]);
      await expectCacheError(cache.channels.put(T1, { type: 11, name: 't' }), 400, 'thread type');
      await cache.channels.delete(C2);
      expect(await cache.channels.get(C2)).toBeUndefined();
    });

    it('threads: put, get, list by guild and parent, delete', async () => {
      const t = await cache.threads.put(T1, { guild_id: G, parent_id: C1, type: 11, name: 'thread', owner_id: U1 });
      expect(t).toMatchObject({ id: T1, parent_id: C1, type: 11 });
      expect(await cache.threads.get(T1)).toMatchObject({ id: T1, name: 'thread' });
      expect((await cache.threads.list(G)).map((x) => x.id)).toEqual([T1]);
      expect((await cache.threads.list(G, { parent_id: C1 })).map((x) => x.id)).toEqual([T1]);
      expect(await cache.threads.list(G, { parent_id: C2 })).toEqual([]);
      await expectCacheError(cache.threads.put(T1, { type: 0 }), 400, 'not a thread type');
      await cache.threads.delete(T1);
      expect(await cache.threads.get(T1)).toBeUndefined();
    });

    it('messages: put, get, list newest first with before, iterate, delete', async () => {
      for (const id of [M1, M2, M3]) {
        const m = await cache.messages.put(C1, id, {
          content: `hello ${id}`,
          author: user(U1) as never,
          timestamp: '2026-02-27T23:56:48.287000+00:00',
          type: 0,
        });
        expect(m).toMatchObject({ id, channel_id: C1, content: `hello ${id}`, author: { id: U1 } });
      }
      expect(await cache.messages.get(C1, M2)).toMatchObject({ id: M2, content: `hello ${M2}` });
      expect(await cache.messages.get(C2, M2)).toBeUndefined(); // another channel's path
      expect((await cache.messages.list(C1)).map((x) => x.id)).toEqual([M3, M2, M1]);
      expect((await cache.messages.list(C1, { limit: 1, before: M3 })).map((x) => x.id)).toEqual([M2]);
      const ids: string[] = [];
      for await (const x of cache.messages.iterate(C1, 2)) ids.push(x.id);
      expect(ids).toEqual([M3, M2, M1]);
      await expectCacheError(cache.messages.put(C1, M1, { channel_id: C2 }), 400, 'body.channel_id');
      await cache.messages.delete(C1, M3);
      expect(await cache.messages.get(C1, M3)).toBeUndefined();
    });

    it('presences: put, get, list, delete', async () => {
      const p = await cache.presences.put(G, U1, { status: 'online', activities: [], client_status: { desktop: 'online' } });
      expect(p).toMatchObject({ status: 'online', user: { id: U1 } });
      expect(await cache.presences.get(G, U1)).toMatchObject({ status: 'online', client_status: { desktop: 'online' } });
      expect(await cache.presences.get(G, U2)).toBeUndefined();
      expect((await cache.presences.list(G)).map((x) => x.user.id)).toEqual([U1]);
      await expectCacheError(cache.presences.put(G, U1, { user: { id: U2 } as never }), 400, 'body.user.id');
      await cache.presences.delete(G, U1);
      expect(await cache.presences.get(G, U1)).toBeUndefined();
    });

    it('unavailable guilds: put (no body), get, list, delete', async () => {
      expect(await cache.unavailableGuilds.put(G2)).toEqual({ id: G2, unavailable: true });
      expect(await cache.unavailableGuilds.get(G2)).toEqual({ id: G2, unavailable: true });
      expect(await cache.unavailableGuilds.get(G)).toBeUndefined();
      expect(await cache.unavailableGuilds.list({ limit: 10 })).toEqual([{ id: G2, unavailable: true }]);
      await cache.unavailableGuilds.delete(G2);
      expect(await cache.unavailableGuilds.list()).toEqual([]);
    });

    it('permissions: a bigint, in the guild and in a channel; undefined when not cached', async () => {
      // @everyone has VIEW_CHANNEL (1024); the role adds SEND_MESSAGES (2048); C1 denies VIEW_CHANNEL to @everyone.
      await cache.guilds.put(G, {
        owner_id: U3,
        roles: [
          { id: G, name: '@everyone', permissions: '1024', position: 0 },
          { id: ROLE, name: 'talker', permissions: '2048', position: 1 },
        ] as never,
      });
      await cache.members.put(G, U2, { roles: [ROLE], joined_at: '2024-01-01T00:00:00+00:00' });
      await cache.channels.put(C1, { permission_overwrites: [{ id: G, type: 0, allow: '0', deny: '1024' }] });
      expect(await cache.permissions(G, U2)).toBe(1024n | 2048n);
      expect(await cache.permissions(BigInt(G), BigInt(U2), BigInt(C1))).toBe(2048n);
      expect(await cache.permissions(G, U3)).toBeUndefined(); // owner, but not a cached member
      expect(await cache.permissions(G, U2, C2)).toBeUndefined(); // channel not cached
      await expectCacheError(cache.permissions(G, 'x'), 400, 'params.userId');
    });

    it('stats, ready, health', async () => {
      const stats = await cache.stats();
      expect(stats.tables.guilds).toBe(1);
      expect(stats.tables.users).toBeGreaterThanOrEqual(1);
      expect(typeof stats.ingest.transactions).toBe('number');
      expect(await cache.ready()).toBe(true);
      expect(await cache.health()).toBe(true);

      const nowhere = new CacheClient({ url: `http://127.0.0.1:${await freePort()}`, requestAttempts: 2, retryDelayMs: 1 });
      expect(await nowhere.ready()).toBe(false);
      expect(await nowhere.health()).toBe(false);
      const down = await expectCacheError(nowhere.users.get(U1), 0, 'could not be reached');
      expect(down.cause).toBeDefined();
      await nowhere.close();
    });

    it('a wrong base URL is an error, not an empty cache (route 404 ≠ not cached)', async () => {
      const wrong = new CacheClient({ url: `${url}/nope` });
      await expectCacheError(wrong.users.get(U1), 404, 'Route GET:/nope/v1/users');
      await wrong.close();
    });

    it('sends the bearer token', async () => {
      const secured = await makeApp(db, { cacheToken: 'sekret' });
      const securedUrl = await secured.listen({ port: 0, host: '127.0.0.1' });
      try {
        const anonymous = new CacheClient({ url: securedUrl });
        await expectCacheError(anonymous.users.get(U1), 401, 'bearer token');
        await expectCacheError(anonymous.dispatch(memberAdd(G, U3)), 401, 'bearer token');
        await anonymous.close();
        const authorised = new CacheClient({ url: securedUrl, token: 'sekret' });
        expect(await authorised.users.get(U1)).toMatchObject({ id: U1 });
        await authorised.dispatch(memberAdd(G, U3));
        expect(await authorised.members.get(G, U3)).toMatchObject({ user: { id: U3 } });
        await authorised.close();
      } finally {
        await secured.close();
      }
    });
  });

  describe('dispatch', () => {
    it('batches many dispatches into few requests and keeps their order', async () => {
      await truncateAll(db);
      const counter = countingFetch();
      const client = new CacheClient({ url, fetch: counter.fetch });
      const before = (await client.stats()).ingest.transactions;

      const pending: Promise<void>[] = [client.dispatch(guildCreate([C1, C2]))];
      const members = [U1, U2, U3];
      const expectedNick = new Map<string, string>();
      const expectedMessages = new Set<string>();
      for (const u of members) pending.push(client.dispatch(memberAdd(G, u)));
      // 2,000 events: nick changes of 3 members interleaved with message creates and deletes
      for (let i = 0; i < 2_000; i++) {
        if (i % 4 === 0) {
          const u = members[i % 3]!;
          expectedNick.set(u, `nick-${i}`);
          // Forwards carry increasing sequence numbers, as the gateway's do (a repeated one is a duplicate).
          pending.push(client.dispatch({ payload: { ...memberUpdate(G, u, `nick-${i}`), s: 10 + i } as never, shardId: 0 }));
        } else if (i % 4 === 3) {
          const id = plus(M1, i - 1); // created just before: create then delete must end deleted
          expectedMessages.delete(id);
          pending.push(client.dispatch(messageDelete(id, C2)));
        } else {
          const id = plus(M1, i);
          expectedMessages.add(id);
          pending.push(client.dispatch(messageCreate(id, i % 2 ? C1 : C2, U1)));
        }
      }
      await within(Promise.all(pending), 30_000, 'dispatches');
      await client.flush();

      const requests = counter.count('POST /v1/dispatch');
      expect(requests).toBeGreaterThanOrEqual(Math.ceil(pending.length / 500));
      expect(requests).toBeLessThanOrEqual(10); // 2,004 events in 500-event batches (≈ 5 requests)
      const transactions = (await client.stats()).ingest.transactions - before;
      expect(transactions).toBeLessThanOrEqual(requests + 2); // + the stats reads do not commit
      expect(client.dispatchStats).toMatchObject({ committed: pending.length, rejected: 0, retries: 0, buffered: 0, inFlight: 0 });

      for (const [u, nick] of expectedNick) expect((await client.members.get(G, u))?.nick).toBe(nick);
      const cached = new Set<string>();
      for (const c of [C1, C2]) for await (const m of client.messages.iterate(c)) cached.add(m.id);
      expect([...cached].sort()).toEqual([...expectedMessages].sort());
      await client.close();
    });

    it('sends a lone event after batchDelayMs, and flush() sends at once', async () => {
      const counter = countingFetch();
      const client = new CacheClient({ url, fetch: counter.fetch, dispatch: { batchDelayMs: 20 } });
      const started = Date.now();
      await client.dispatch(memberUpdate(G, U1, 'lone'));
      expect(Date.now() - started).toBeGreaterThanOrEqual(15);
      expect(counter.count('POST /v1/dispatch')).toBe(1);

      const slow = new CacheClient({ url, fetch: counter.fetch, dispatch: { batchDelayMs: 60_000 } });
      const p = slow.dispatch(memberUpdate(G, U1, 'flushed'));
      await within(slow.flush(), 5_000, 'flush');
      await p;
      expect((await slow.members.get(G, U1))?.nick).toBe('flushed');
      await slow.close();
      await client.close();
    });

    it('a bad event rejects alone with the server message; the rest of its batch is committed in order', async () => {
      const counter = countingFetch();
      const client = new CacheClient({ url, fetch: counter.fetch });
      const ok1 = client.dispatch(memberUpdate(G, U1, 'before-bad'));
      const bad = client.dispatch(ev('GUILD_MEMBER_UPDATE', { guild_id: G, user: { id: 'abc' }, roles: [] }));
      const ok2 = client.dispatch(memberUpdate(G, U1, 'after-bad'));
      const camel = client.dispatch(ev('GUILD_MEMBER_UPDATE', { guildId: G, user: { id: U2 } }));
      const ok3 = client.dispatch(memberUpdate(G, U2, 'last'));
      const badChecked = expectCacheError(bad, 400, /^body\.d\.user\.id must be a snowflake/);
      const camelChecked = expectCacheError(camel, 400, 'camelCased');
      await Promise.all([ok1, ok2, ok3]);
      expect((await badChecked).error).toBe('Bad Request');
      await camelChecked;
      expect((await client.members.get(G, U1))?.nick).toBe('after-bad');
      expect((await client.members.get(G, U2))?.nick).toBe('last');
      expect(client.dispatchStats).toMatchObject({ committed: 3, rejected: 2 });
      // one batch of 5 → prefix [ok1] sent, bad rejected, [ok2, camel, ok3] → [ok2] sent, camel rejected, [ok3] sent
      expect(counter.count('POST /v1/dispatch')).toBeLessThanOrEqual(5);
      await client.close();
    });

    it('rejects what cannot be sent, and refuses after close()', async () => {
      const client = new CacheClient({ url });
      await expect(client.dispatch(null as never)).rejects.toThrow(TypeError);
      await expect(client.dispatch([memberUpdate(G, U1, 'x')] as never)).rejects.toThrow(TypeError);
      const circular: Record<string, unknown> = { op: 0, t: 'X', s: 1 };
      circular.d = circular;
      await expect(client.dispatch(circular as never)).rejects.toThrow(TypeError);
      // bigints (Discordeno ids) are sent as strings
      await client.dispatch(ev('GUILD_MEMBER_UPDATE', { guild_id: BigInt(G), user: user(U1), roles: [], nick: 'bigint', joined_at: '2024-01-01T00:00:00+00:00' }));
      expect((await client.members.get(G, U1))?.nick).toBe('bigint');
      await client.close();
      await expectCacheError(client.dispatch(memberUpdate(G, U1, 'late')), 0, 'closed');
    });

    it('retries a 503, honouring Retry-After, then commits', async () => {
      let served = 0;
      const fetcher: typeof fetch = async (input, init) => {
        if (new URL(String(input)).pathname === '/v1/dispatch' && served++ === 0) {
          return new Response(JSON.stringify({ statusCode: 503, error: 'Service Unavailable', message: 'write queue full' }), {
            status: 503,
            headers: { 'content-type': 'application/json', 'retry-after': '1' },
          });
        }
        return fetch(input, init);
      };
      const retries: RetryInfo[] = [];
      const client = new CacheClient({ url, fetch: fetcher, onRetry: (r) => retries.push(r) });
      const started = Date.now();
      await within(client.dispatch(memberUpdate(G, U1, 'after-503')), 10_000, 'dispatch after 503');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(retries).toHaveLength(1);
      expect(retries[0]).toMatchObject({ kind: 'dispatch', attempt: 1, events: 1, error: { statusCode: 503, message: 'write queue full' } });
      expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(1_000);
      expect((await client.members.get(G, U1))?.nick).toBe('after-503');
      await client.close();
    });

    it('while the service is unreachable: callers wait when the buffer is full, nothing is lost once it listens', async () => {
      const port = await freePort();
      const client = new CacheClient({
        url: `http://127.0.0.1:${port}`,
        retryDelayMs: 20,
        maxRetryDelayMs: 100,
        dispatch: { batchSize: 10, maxQueued: 20 },
      });
      const pending: Promise<void>[] = [];
      for (let i = 0; i < 100; i++) pending.push(client.dispatch(memberUpdate(G, U3, `offline-${i}`)));
      await sleep(300); // refused, retried
      const stats = client.dispatchStats;
      expect(stats.retries).toBeGreaterThan(0);
      expect(stats.buffered + stats.inFlight).toBe(20);
      expect(stats.waiting).toBe(80);
      expect(stats.committed).toBe(0);

      const late = await makeApp(db);
      try {
        await late.listen({ port, host: '127.0.0.1' });
        await within(Promise.all(pending), 20_000, 'dispatches after the service came up');
        await client.flush();
        expect(client.dispatchStats).toMatchObject({ committed: 100, waiting: 0, buffered: 0, inFlight: 0 });
        expect((await client.members.get(G, U3))?.nick).toBe('offline-99');
        await client.close();
      } finally {
        await late.close();
      }
    });

    it('close({ timeoutMs }) gives up on an unreachable service and rejects what is left', async () => {
      const client = new CacheClient({ url: `http://127.0.0.1:${await freePort()}`, retryDelayMs: 10, maxRetryDelayMs: 50 });
      const p = client.dispatch(memberUpdate(G, U1, 'never'));
      await within(client.close({ timeoutMs: 300 }), 5_000, 'close');
      await expectCacheError(p, 0, 'destroyed');
    });
  });
});

describe('restart while sending: the real service killed and started again mid-stream', () => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await createEmptyDatabase();
  });
  afterAll(async () => {
    await test?.drop();
  });

  it('3,000 dispatches across a SIGKILL and a SIGTERM: nothing lost, order kept', { timeout: 180_000 }, async () => {
    const port = String(await freePort());
    const env = { DATABASE_URL: test.url, MIGRATE_ON_START: 'true', PORT: port, MESSAGE_LIMIT: '0' };
    const start = async () => {
      const svc = await startService(env);
      if (!(await waitHealthy(svc, 60_000))) throw new Error(`service did not start:\n${svc.output()}`);
      return svc;
    };
    let service: Service = await start();
    const client = new CacheClient({
      url: `http://127.0.0.1:${port}`,
      retryDelayMs: 50,
      maxRetryDelayMs: 500,
      timeoutMs: 10_000,
      dispatch: { batchSize: 100, maxQueued: 400 },
    });
    try {
      await client.dispatch(guildCreate([C1, C2]));
      const members = Array.from({ length: 10 }, (_, i) => plus(U1, 100 + i));
      for (const u of members) void client.dispatch(memberAdd(G, u));
      await client.flush();

      const TOTAL = 3_000;
      const expectedNick = new Map<string, string>();
      const expectedMessages = new Set<string>();
      const pending: Promise<void>[] = [];
      const restarts: Promise<void>[] = [];
      let sigtermExit: number | null | undefined;

      for (let i = 0; i < TOTAL; i++) {
        if (i === 1_000) {
          // SIGKILL: batches in flight may be committed without an answer (then sent again).
          const killed = service;
          restarts.push(
            (async () => {
              killed.child.kill('SIGKILL');
              await killed.exited;
              service = await start();
            })(),
          );
        }
        if (i === 2_000) {
          // The second stop needs the first restart done; stop while the backlog of the outage is being delivered.
          await within(restarts[0]!, 90_000, 'restart after SIGKILL');
          for (let wait = 0; wait < 30_000 && client.dispatchStats.committed < 1_300; wait++) await sleep(1);
          expect(client.dispatchStats.committed).toBeLessThan(i + 1 + members.length);
          const stopped = service;
          restarts.push(
            (async () => {
              sigtermExit = await stopped.stop('SIGTERM'); // commits what it accepted, then exits 0
              service = await start();
            })(),
          );
        }
        let packet: DispatchPacket;
        if (i % 3 === 0) {
          const u = members[(i / 3) % members.length]!;
          expectedNick.set(u, `nick-${i}`);
          packet = memberUpdate(G, u, `nick-${i}`);
        } else if (i % 10 === 5) {
          const id = plus(M1, i - 1); // i - 1 ≡ 4 (mod 10) was created: delete it
          expectedMessages.delete(id);
          packet = messageDelete(id, i % 2 ? C1 : C2);
        } else {
          const id = plus(M1, i);
          expectedMessages.add(id);
          packet = messageCreate(id, i % 2 ? C2 : C1, U1);
        }
        pending.push(client.dispatch(i % 2 ? packet : ({ payload: { ...packet, s: 10 + i }, shardId: 0 } as DispatchPacket)));
        if (i % 25 === 24) await sleep(5); // a stream, not one burst
        const s = client.dispatchStats;
        expect(s.buffered + s.inFlight).toBeLessThanOrEqual(400);
      }

      await within(Promise.all(restarts), 90_000, 'restarts');
      expect(sigtermExit).toBe(0);
      const settled = await within(Promise.allSettled(pending), 90_000, 'dispatches');
      expect(settled.filter((r) => r.status === 'rejected')).toEqual([]);
      await within(client.flush(), 30_000, 'flush');

      const stats = client.dispatchStats;
      expect(stats.retries).toBeGreaterThan(0); // the stream did cross the outages
      expect(stats).toMatchObject({ rejected: 0, waiting: 0, buffered: 0, inFlight: 0 });
      expect(stats.committed).toBe(TOTAL + 1 + members.length);

      // Final state equals the expected one: every message (and only those), every nick at its last value.
      const reader = new CacheClient({ url: `http://127.0.0.1:${port}` });
      const cached = new Set<string>();
      for (const c of [C1, C2]) for await (const m of reader.messages.iterate(c)) cached.add(m.id);
      expect(cached.size).toBe(expectedMessages.size);
      expect([...cached].sort()).toEqual([...expectedMessages].sort());
      for (const [u, nick] of expectedNick) expect((await reader.members.get(G, u))?.nick).toBe(nick);
      expect((await reader.stats()).tables.messages).toBe(expectedMessages.size);
      await reader.close();
    } finally {
      client.destroy();
      expect(await service.stop('SIGTERM')).toBe(0);
    }
  });
});

describe('examples/event-handler.ts', () => {
  it('dry run (npm run example): no Discord token, no network; the bot reads back what it dispatched', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/event-handler.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '' },
      timeout: 60_000,
    });
    expect(stdout).toContain('"Dry Run Guild" (1 members, 1 roles): Nel: hello from the dry run');
    expect(stdout).toContain('dry run done');
  });
});
