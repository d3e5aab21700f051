/**
 * The client's local cache against the real service on PostgreSQL (real ports): answers from the process,
 * dropped when another process changes the row (by key, through a user a member embeds, by scope),
 * read-your-writes with a feed that lags behind the answers, nothing served while the feed is down and a
 * reset when it is back, the LRU bound, and `permissions()` computed locally with the route's answers.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheClient, CacheError, type DispatchPacket } from '../../src/client/index.js';
import { buildApp, type FastifyInstance } from '../../src/http/app.js';
import { ADMIN_URL, createPostgres } from '../helpers/db.js';
import { FeedDelayProxy } from '../helpers/feed-proxy.js';

const G = '81384788765712384';
const G2 = '81384788765712999';
const U = (n: number) => String(80351110224678912n + BigInt(n));
const C1 = '81384788765712385';
const C2 = '81384788765712386';
const C3 = '81384788765712387';
const T1 = '81384788765712390';
const R1 = '81384788765712501';
const R2 = '81384788765712502';
const M1 = '81384788765712600';

const ev = (t: string, d: unknown): DispatchPacket => ({ op: 0, t: t as never, s: 1, d });
const user = (id: string, extra: object = {}) => ({ id, username: `user${id.slice(-3)}`, discriminator: '0', ...extra });
const member = (guildId: string, userId: string, extra: object = {}) => ({
  guild_id: guildId,
  user: user(userId),
  roles: [],
  joined_at: '2024-02-27T19:50:51.701000+00:00',
  deaf: false,
  mute: false,
  flags: 0,
  ...extra,
});
const memberUpdate = (guildId: string, userId: string, nick: string) => ev('GUILD_MEMBER_UPDATE', { ...member(guildId, userId), nick });
const overwrite = (id: string, type: 0 | 1, allow: bigint, deny: bigint) => ({ id, type, allow: String(allow), deny: String(deny) });
const VIEW = 1n << 10n;
const SEND = 1n << 11n;
const READ_HISTORY = 1n << 16n;
const guildCreate = (id: string, channels: object[], extra: object = {}) =>
  ev('GUILD_CREATE', {
    id,
    name: 'Guild',
    owner_id: U(0),
    roles: [
      { id, name: '@everyone', permissions: String(VIEW | SEND), position: 0 },
      { id: R1, name: 'mod', permissions: String(READ_HISTORY), position: 1 },
      { id: R2, name: 'admin', permissions: String(1n << 3n), position: 2 },
    ],
    emojis: [],
    features: [],
    channels,
    threads: [],
    members: [],
    presences: [],
    ...extra,
  });

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const whenServing = (client: CacheClient) => eventually(async () => client.localCacheStats!, (s) => s.serving);

describe('the local cache', () => {
  let database: Awaited<ReturnType<typeof createPostgres>>;
  let app: FastifyInstance;
  let url: string;
  let writer: CacheClient;
  const clients: CacheClient[] = [];
  const local = async (extra: { maxEntries?: number; url?: string; fetch?: typeof fetch } = {}) => {
    const client = new CacheClient({ url: extra.url ?? url, localCache: { maxEntries: extra.maxEntries ?? 1_000 }, ...(extra.fetch ? { fetch: extra.fetch } : {}) });
    clients.push(client);
    await whenServing(client);
    return client;
  };

  beforeAll(async () => {
    database = await createPostgres();
    app = await buildApp({ db: database.db, logLevel: false, messageLimit: 0 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
    writer = new CacheClient({ url });
    await writer.dispatch(
      guildCreate(G, [
        { id: C1, type: 0, name: 'c1', position: 0, permission_overwrites: [overwrite(G, 0, 0n, SEND), overwrite(R1, 0, SEND, 0n)] },
        { id: C2, type: 0, name: 'c2', position: 1, permission_overwrites: [overwrite(U(2), 1, 0n, VIEW)] },
      ]),
    );
    await writer.dispatch(guildCreate(G2, [{ id: C3, type: 0, name: 'c3', position: 0, permission_overwrites: [] }], { owner_id: U(9) }));
    await writer.dispatch(ev('THREAD_CREATE', { id: T1, guild_id: G, parent_id: C1, type: 11, name: 't' }));
    for (let u = 1; u <= 4; u++) await writer.dispatch(ev('GUILD_MEMBER_ADD', member(G, U(u), { roles: u === 3 ? [R1] : u === 4 ? [R2] : [] })));
    await writer.dispatch(ev('GUILD_MEMBER_ADD', member(G, U(5), { communication_disabled_until: '2999-01-01T00:00:00.000000+00:00' })));
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await writer?.close();
    await app?.close();
    await database?.close();
  });

  it('answers from the process after the first read, until another process changes the row', async () => {
    const cache = await local();
    expect((await cache.members.get(G, U(1)))?.nick).toBeUndefined();
    const hits = cache.localCacheStats!.hits;
    expect((await cache.members.get(G, BigInt(U(1))))?.user.id).toBe(U(1));
    expect(await cache.guilds.get('81384788765719999')).toBeUndefined(); // "not cached" is kept too
    expect(await cache.guilds.get('81384788765719999')).toBeUndefined();
    expect(cache.localCacheStats!.hits).toBe(hits + 2);
    const shared = await cache.members.get(G, U(1));
    expect(Object.isFrozen(shared) && Object.isFrozen(shared!.user)).toBe(true);

    await writer.dispatch(memberUpdate(G, U(1), 'renamed'));
    expect((await eventually(() => cache.members.get(G, U(1)), (m) => m?.nick === 'renamed'))?.nick).toBe('renamed');
    await writer.dispatch(ev('GUILD_CREATE', { id: '81384788765719999', name: 'late', channels: [], threads: [], members: [], roles: [] }));
    expect((await eventually(() => cache.guilds.get('81384788765719999'), (g) => g !== undefined))?.name).toBe('late');
  });

  it('a message asked for under another channel is not the cached one', async () => {
    const cache = await local();
    await writer.messages.put(C1, M1, { content: 'hello', author: { ...user(U(1)), global_name: null, avatar: null } });
    expect((await cache.messages.get(C1, M1))?.content).toBe('hello');
    expect(await cache.messages.get(C2, M1)).toBeUndefined();
    expect((await cache.messages.get(C1, M1))?.content).toBe('hello');
  });

  it("a user's change drops the members and presences that embed it", async () => {
    const cache = await local();
    expect((await cache.members.get(G, U(2)))?.user).toMatchObject({ username: `user${U(2).slice(-3)}` });
    await writer.users.put(U(2), { username: 'new-name' });
    await eventually(() => cache.members.get(G, U(2)), (m) => (m?.user as { username?: string }).username === 'new-name');
  });

  it('scopes: a deleted channel takes its cached messages; a deleted guild its members', async () => {
    const cache = await local();
    await writer.dispatch(ev('MESSAGE_CREATE', { id: U(700), channel_id: C3, guild_id: G2, author: user(U(9)), content: 'x', timestamp: '2026-01-01T00:00:00+00:00', type: 0, mentions: [], attachments: [], embeds: [] }));
    await writer.dispatch(ev('GUILD_MEMBER_ADD', member(G2, U(9))));
    expect((await cache.messages.get(C3, U(700)))?.content).toBe('x');
    expect(await cache.members.get(G2, U(9))).toBeDefined();
    await writer.dispatch(ev('CHANNEL_DELETE', { id: C3, guild_id: G2, type: 0 }));
    await eventually(() => cache.messages.get(C3, U(700)), (m) => m === undefined);
    await writer.dispatch(ev('GUILD_DELETE', { id: G2 }));
    await eventually(() => cache.members.get(G2, U(9)), (m) => m === undefined);
  });

  it('reads its own writes: after dispatch() or put() resolves, the next read reflects it, however late the feed', async () => {
    const proxy = new FeedDelayProxy(new URL(url), 400);
    await proxy.start();
    try {
      const cache = await local({ url: proxy.url });
      await cache.members.get(G, U(3));
      expect((await cache.members.get(G, U(3)))?.nick).toBeUndefined(); // a local answer now
      const bypassed = cache.localCacheStats!.bypassed;

      await cache.dispatch(memberUpdate(G, U(3), 'mine'));
      expect((await cache.members.get(G, U(3)))?.nick).toBe('mine'); // the feed is still 400 ms behind
      expect(cache.localCacheStats!.bypassed).toBe(bypassed + 1);
      await cache.users.put(U(3), { username: 'mine-too' });
      expect(((await cache.members.get(G, U(3)))?.user as { username: string }).username).toBe('mine-too');

      // Once the feed has passed those writes, reads are local again.
      await whenServing(cache);
      await cache.members.get(G, U(3));
      const hits = cache.localCacheStats!.hits;
      expect((await cache.members.get(G, U(3)))?.nick).toBe('mine');
      expect(cache.localCacheStats!.hits).toBe(hits + 1);
    } finally {
      await proxy.close();
    }
  });

  it('serves nothing locally while the feed is down, and starts over (reset) when it is back', async () => {
    const cache = await local();
    await cache.members.get(G, U(4));
    await cache.members.get(G, U(4));
    const resets = cache.localCacheStats!.resets;
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    try {
      // The service loses its LISTEN connection and cannot open another: its streams end, /v1/changes is a 503.
      await admin.query(`ALTER DATABASE ${database.test.name} ALLOW_CONNECTIONS false`);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'discord-state-cache listen' AND datname = $1`, [database.test.name]);
      await eventually(async () => cache.localCacheStats!, (s) => !s.live);
      // A change nobody hears of: the local copy must not be served.
      await writer.dispatch(memberUpdate(G, U(4), 'unheard'));
      const bypassed = cache.localCacheStats!.bypassed;
      expect((await cache.members.get(G, U(4)))?.nick).toBe('unheard');
      expect(cache.localCacheStats!.bypassed).toBe(bypassed + 1);
    } finally {
      await admin.query(`ALTER DATABASE ${database.test.name} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    await eventually(async () => cache.localCacheStats!, (s) => s.serving, 15_000);
    expect(cache.localCacheStats!.resets).toBe(resets + 1);
    expect(cache.localCacheStats!.entries).toBe(0);
    expect((await cache.members.get(G, U(4)))?.nick).toBe('unheard');
  }, 30_000);

  it('keeps at most maxEntries objects', async () => {
    const cache = await local({ maxEntries: 3 });
    for (let u = 1; u <= 5; u++) await cache.users.get(U(u));
    expect(cache.localCacheStats!.entries).toBe(3);
    const hits = cache.localCacheStats!.hits;
    await cache.users.get(U(5)); // recent: kept
    await cache.users.get(U(1)); // the oldest: evicted
    expect(cache.localCacheStats!.hits).toBe(hits + 1);
  });

  it('permissions() computed locally gives the route its answers, without asking the service again', async () => {
    let permissionRequests = 0;
    const counting: typeof fetch = (input, init) => {
      if (String(input).includes('/permissions')) permissionRequests++;
      return fetch(input, init);
    };
    const cache = await local({ fetch: counting });
    const cases: [string, string, string | undefined][] = [];
    for (const u of [0, 1, 2, 3, 4, 5, 6]) for (const c of [undefined, C1, C2, T1, '81384788765718888']) cases.push([G, U(u), c]);
    cases.push(['81384788765717777', U(1), undefined]);
    const answer = async (p: Promise<bigint | undefined>) => p.then((v) => (v === undefined ? 'not cached' : v.toString()), (e: CacheError) => `${e.statusCode} ${e.code}`);
    for (const round of [1, 2]) {
      for (const [g, u, c] of cases) {
        const server = await answer(writer.permissions(g, u, c));
        expect(await answer(cache.permissions(g, u, c)), `round ${round}: guild ${g} user ${u} channel ${c}`).toBe(server);
      }
    }
    // A channel of another guild is the route's 400 too.
    await writer.dispatch(ev('CHANNEL_CREATE', { id: C3, guild_id: G2, type: 0, name: 'c3', permission_overwrites: [] }));
    expect(await answer(cache.permissions(G, U(1), C3))).toBe(await answer(writer.permissions(G, U(1), C3)));
    expect(await answer(cache.permissions(G, U(1), C3))).toBe('400 INVALID_PARAM');
    expect(permissionRequests).toBe(0);
  });
});
