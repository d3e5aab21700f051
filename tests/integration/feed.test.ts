/**
 * GET /v1/changes on PostgreSQL: two instances of the service on one database, real ports. Every instance
 * relays every commit (NOTIFY in the committing transaction, LISTEN on each); rows by key, set operations as
 * scopes; `x-change-id` on write answers; filters; resuming inside the window; a slow subscriber reset while
 * ingest goes on; the LISTEN connection lost and found again; message retention; the token. Then the
 * embedded PGlite database, which publishes in-process.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeedChange } from '../../src/cache/feed-protocol.js';
import { buildApp, type AppOptions, type FastifyInstance } from '../../src/http/app.js';
import { openPostgres, type Database } from '../../src/db/connect.js';
import { ADMIN_URL, createPglite, createPostgres } from '../helpers/db.js';
import { SseReader } from '../helpers/sse.js';

const G = '81384788765712384';
const G2 = '81384788765712999';
const U = (n: number) => String(80351110224678912n + BigInt(n));
const C1 = '81384788765712385';
const C2 = '81384788765712386';
const T1 = '81384788765712390';
const ROLE = '81384788765712500';

const ev = (t: string, d: unknown, s = 1) => ({ op: 0, t, s, d });
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
const channel = (id: string, extra: object = {}) => ({ id, type: 0, name: `c${id.slice(-3)}`, position: 0, permission_overwrites: [], ...extra });
const guildCreate = (id: string, channels: string[], extra: object = {}) =>
  ev('GUILD_CREATE', {
    id,
    name: 'Guild',
    owner_id: U(0),
    roles: [{ id, name: '@everyone', permissions: '1024', position: 0 }, { id: ROLE, name: 'r', permissions: '0', position: 1 }],
    emojis: [],
    features: [],
    channels: channels.map((c) => channel(c)),
    threads: [],
    members: [],
    presences: [],
    ...extra,
  });
const message = (id: string, channelId: string, guildId = G) => ({
  id,
  channel_id: channelId,
  guild_id: guildId,
  author: user(U(1)),
  content: `m${id}`,
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

interface Instance {
  app: FastifyInstance;
  url: string;
}

async function start(db: Database, options: Partial<AppOptions> = {}): Promise<Instance> {
  const app = await buildApp({ db, logLevel: false, ...options });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}` };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/dispatch`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`dispatch answered ${res.status}: ${text}`);
  const id = res.headers.get('x-change-id');
  return id === null ? undefined : Number(id);
}

const keyOf = (c: FeedChange) => ('scope' in c ? `${c.table} scope ${JSON.stringify(c.scope)}` : `${c.table} ${c.op} ${Object.values(c.key).join(':')}`);
const keys = (changes: FeedChange[]) => changes.map(keyOf);

describe('the change feed on PostgreSQL, two instances', () => {
  let database: Awaited<ReturnType<typeof createPostgres>>;
  let second: Database;
  let a: Instance;
  let b: Instance;
  const readers: SseReader[] = [];
  const subscribe = async (instance: Instance, query = '', headers: Record<string, string> = {}) => {
    const reader = await SseReader.open(`${instance.url}/v1/changes${query}`, headers);
    readers.push(reader);
    return reader;
  };

  beforeAll(async () => {
    database = await createPostgres();
    second = await openPostgres({ url: database.test.url });
    a = await start(database.db, { messageLimit: 4 });
    b = await start(second, { feed: { windowEvents: 4 } });
  });
  afterAll(async () => {
    for (const r of readers) r.close();
    await a?.app.close();
    await b?.app.close();
    await second?.close();
    await database?.close();
  });

  it('a dispatch on one instance reaches the subscribers of both, its id in x-change-id', async () => {
    const onA = await subscribe(a);
    const onB = await subscribe(b);
    for (const r of [onA, onB]) {
      expect((await r.next((e) => e.event === 'reset')).data.reason).toBe('new subscriber');
      await r.next((e) => e.event === 'ready');
    }
    const id = await post(a.url, ev('GUILD_MEMBER_ADD', member(G, U(1))));
    expect(id).toBeGreaterThan(0);
    for (const r of [onA, onB]) {
      const change = await r.change(id!);
      expect(change.data.id).toBe(id);
      // member_count moves with a new member: the guild changed too.
      expect(keys(change.data.changes).sort()).toEqual([`guilds upsert ${G}`, `members upsert ${G}:${U(1)}`, `users upsert ${U(1)}`]);
    }
    // An untracked event changes nothing: no id.
    expect(await post(a.url, ev('TYPING_START', { channel_id: C1, user_id: U(1) }))).toBeUndefined();
    // PUT and DELETE answer their commit's id too.
    const put = await fetch(`${b.url}/v1/users/${U(2)}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"username":"x"}' });
    await put.text();
    const putId = Number(put.headers.get('x-change-id'));
    expect(putId).toBeGreaterThan(id!);
    expect(keys((await onA.change(putId)).data.changes)).toEqual([`users upsert ${U(2)}`]);
    const del = await fetch(`${a.url}/v1/users/${U(2)}`, { method: 'DELETE' });
    expect(keys((await onB.change(Number(del.headers.get('x-change-id')))).data.changes)).toEqual([`users delete ${U(2)}`]);
  });

  it('set operations arrive as scopes and as the keys they deleted', async () => {
    const r = await subscribe(a);
    await post(a.url, [guildCreate(G, [C1, C2]), ev('THREAD_CREATE', { id: T1, guild_id: G, parent_id: C1, type: 11, name: 't' })]);
    await post(a.url, ev('MESSAGE_CREATE', message(U(100), T1)));

    // GUILD_CREATE no longer lists C1: C1, its thread, and the messages and voice states of both. (The guild
    // object itself is unchanged: not written again, so not in the feed.)
    const retained = await post(a.url, guildCreate(G, [C2]));
    const changes = keys((await r.change(retained!)).data.changes);
    expect(changes).not.toContain(`guilds upsert ${G}`);
    expect(changes).toEqual(
      expect.arrayContaining([
        `channels upsert ${C2}`,
        `channels delete ${C1}`,
        `threads delete ${T1}`,
        `messages scope {"channel_id":"${C1}"}`,
        `messages scope {"channel_id":"${T1}"}`,
        `voice_states scope {"channel_id":"${T1}"}`,
      ]),
    );
    expect(changes).not.toContain(`channels delete ${C2}`);

    // A role deleted: stripped from every member of the guild.
    const stripped = await post(a.url, ev('GUILD_ROLE_DELETE', { guild_id: G, role_id: ROLE }));
    expect(keys((await r.change(stripped!)).data.changes).sort()).toEqual([`guilds upsert ${G}`, `members scope {"guild_id":"${G}"}`]);

    // A guild deleted: every owned table by guild.
    const deleted = await post(a.url, ev('GUILD_DELETE', { id: G }));
    expect(keys((await r.change(deleted!)).data.changes)).toEqual(
      expect.arrayContaining([
        `guilds delete ${G}`,
        `members scope {"guild_id":"${G}"}`,
        `presences scope {"guild_id":"${G}"}`,
        `channels scope {"guild_id":"${G}"}`,
        `messages scope {"guild_id":"${G}"}`,
        `channels delete ${C2}`,
      ]),
    );
  });

  it('a commit larger than one notification (8,000 bytes) arrives whole', async () => {
    const r = await subscribe(b);
    const members = Array.from({ length: 600 }, (_, i) => member(G2, U(1_000 + i)));
    const id = await post(a.url, ev('GUILD_MEMBERS_CHUNK', { guild_id: G2, members, chunk_index: 0, chunk_count: 1 }));
    const change = await r.change(id!);
    const got = keys(change.data.changes);
    expect(got).toHaveLength(1_200);
    expect(got).toEqual(expect.arrayContaining(members.map((m) => `members upsert ${G2}:${m.user.id}`)));
    expect(JSON.stringify(change.data).length).toBeGreaterThan(30_000);
  });

  it('filters: ?tables= and ?guild_id= (changes without a guild pass); unknown tables are a 400', async () => {
    const onlyMembers = await subscribe(a, '?tables=members,channels');
    const onlyG2 = await subscribe(a, `?guild_id=${G2}`);
    await onlyG2.next((e) => e.event === 'ready');
    const id = await post(a.url, [ev('GUILD_MEMBER_ADD', member(G, U(5))), ev('GUILD_MEMBER_ADD', member(G2, U(6))), ev('CHANNEL_CREATE', { ...channel(C1), guild_id: G })]);
    expect(keys((await onlyMembers.change(id!)).data.changes).sort()).toEqual([`channels upsert ${C1}`, `members upsert ${G}:${U(5)}`, `members upsert ${G2}:${U(6)}`]);
    expect(keys((await onlyG2.change(id!)).data.changes).sort()).toEqual([
      `guilds upsert ${G2}`,
      `members upsert ${G2}:${U(6)}`,
      `users upsert ${U(5)}`,
      `users upsert ${U(6)}`,
    ]);
    // A commit with nothing for the filter is not sent; the heartbeat's id moves past it.
    const other = await post(a.url, ev('GUILD_MEMBER_ADD', member(G, U(7))));
    const next = await post(a.url, ev('GUILD_MEMBER_ADD', member(G2, U(8))));
    await onlyMembers.change(next!);
    expect(onlyG2.events.some((e) => e.id === other && e.event === 'change' && e.data.changes.some((c: FeedChange) => c.table === 'members'))).toBe(false);

    const bad = await SseReader.open(`${a.url}/v1/changes?tables=members,nope`);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ code: 'INVALID_PARAM', message: expect.stringContaining('nope') });
  });

  it('Last-Event-ID inside the window replays what was missed; outside it, a reset', async () => {
    const r = await subscribe(b);
    await r.next((e) => e.event === 'ready');
    const first = await post(a.url, ev('GUILD_MEMBER_ADD', member(G, U(10))));
    await r.change(first!);
    r.close();
    const missed = [await post(a.url, ev('GUILD_MEMBER_ADD', member(G, U(11)))), await post(a.url, ev('GUILD_MEMBER_ADD', member(G, U(12))))];
    const resumed = await subscribe(b, '', { 'last-event-id': String(first) });
    await resumed.next((e) => e.event === 'ready');
    expect(resumed.events.map((e) => [e.event, e.id])).toEqual([['change', missed[0]], ['change', missed[1]], ['ready', missed[1]]]);

    // b keeps 4 commits: after 5 more, `first` is out of its window.
    for (let i = 0; i < 5; i++) await post(a.url, ev('GUILD_MEMBER_ADD', member(G, U(20 + i))));
    const last = await post(a.url, ev('GUILD_MEMBER_ADD', member(G, U(30))));
    await resumed.change(last!);
    const late = await subscribe(b, '', { 'last-event-id': String(first) });
    const reset = await late.next((e) => e.event === 'reset');
    expect(reset.id).toBe(last);
    expect(reset.data.reason).toMatch(/outside the window/);
  });

  it('a subscriber that does not read falls behind and is reset; ingest goes on', async () => {
    const small = await start(database.db, { feed: { maxBuffered: 16 * 1024 } });
    // A raw socket that sends the request and then reads nothing: the kernel's buffers fill (about 4 MB on
    // loopback), then the service's own buffer passes 16 KiB and it stops writing to it.
    const socket = net.connect(Number(new URL(small.url).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`GET /v1/changes HTTP/1.1\r\nHost: x\r\n\r\n`);
    socket.pause();
    // MESSAGE_DELETE_BULK of absent messages: little work for the database, ~60 bytes of feed per id.
    let last = 0;
    for (let i = 0; i < 120; i++) {
      const ids = Array.from({ length: 900 }, (_, j) => U(10_000 + i * 1_000 + j));
      last = (await post(small.url, ev('MESSAGE_DELETE_BULK', { ids, channel_id: C1, guild_id: G })))!;
    }
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.resume();
    const deadline = Date.now() + 20_000;
    while (!text.includes('fell behind') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(text).toContain('event: reset');
    expect(text).toMatch(/"reason":"the subscriber fell behind"/);
    const changes = text.match(/event: change/g)?.length ?? 0;
    expect(changes).toBeLessThan(120); // commits were dropped for it, not queued without bound
    // After the reset it is live again.
    const next = await post(small.url, ev('GUILD_MEMBER_ADD', member(G, U(40))));
    while (!text.includes(`id: ${next}\nevent: change`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(text).toContain(`id: ${next}\nevent: change`);
    expect(next).toBeGreaterThan(last);
    socket.destroy();
    await small.app.close();
  }, 60_000);

  it('the LISTEN connection lost: streams end, 503 while it is down, a reset once it is back', async () => {
    const r = await subscribe(b);
    await r.next((e) => e.event === 'ready');
    const before = await post(a.url, ev('GUILD_MEMBER_ADD', member(G, U(50))));
    await r.change(before!);
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    try {
      // Keep it down: no new connections to the database (the pools keep theirs), then cut the listeners.
      await admin.query(`ALTER DATABASE ${database.test.name} ALLOW_CONNECTIONS false`);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'discord-state-cache listen' AND datname = $1`, [database.test.name]);
      await r.closed();
      const down = await SseReader.open(`${b.url}/v1/changes`);
      expect(down.status).toBe(503);
      expect(JSON.parse(down.body)).toMatchObject({ code: 'UNAVAILABLE' });
      // Writes still commit meanwhile (the writer's connection is there): nobody hears of them.
      await post(a.url, ev('GUILD_MEMBER_ADD', member(G, U(51))));
    } finally {
      await admin.query(`ALTER DATABASE ${database.test.name} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    let back: SseReader | undefined;
    for (let i = 0; i < 100 && back?.status !== 200; i++) {
      back = await SseReader.open(`${b.url}/v1/changes`, { 'last-event-id': String(before) });
      if (back.status !== 200) await new Promise((res) => setTimeout(res, 100));
    }
    readers.push(back!);
    expect(back!.status).toBe(200);
    expect((await back!.next((e) => e.event === 'reset')).data.reason).toMatch(/outside the window/);
    const after = await post(a.url, ev('GUILD_MEMBER_ADD', member(G, U(52))));
    await back!.change(after!);
  }, 30_000);

  it('messages pruned by retention are published as deletes', async () => {
    const r = await subscribe(a);
    await r.next((e) => e.event === 'ready');
    // MESSAGE_LIMIT=4 on a: a channel is pruned after each new message beyond 4.
    const ids = Array.from({ length: 6 }, (_, i) => U(200 + i));
    for (const id of ids) await post(a.url, ev('MESSAGE_CREATE', message(id, C2)));
    const pruned = await r.next((e) => e.event === 'change' && e.data.changes.some((c: FeedChange) => keyOf(c) === `messages delete ${ids[0]}`));
    expect(pruned.id).toBeGreaterThan(0);
    await r.next((e) => e.event === 'change' && e.data.changes.some((c: FeedChange) => keyOf(c) === `messages delete ${ids[1]}`));
  });

  it('needs the token when CACHE_TOKEN is set', async () => {
    const secured = await start(database.db, { cacheToken: 'sesame' });
    try {
      expect((await SseReader.open(`${secured.url}/v1/changes`)).status).toBe(401);
      expect((await SseReader.open(`${secured.url}/v1/changes`, { authorization: 'Bearer nope' })).status).toBe(401);
      const ok = await subscribe(secured, '', { authorization: 'Bearer sesame' });
      expect(ok.status).toBe(200);
      await ok.next((e) => e.event === 'ready');
    } finally {
      await secured.app.close();
    }
  });
});

describe('the change feed on PGlite (in-process)', () => {
  it('publishes each commit to the instance’s subscribers', async () => {
    const db = await createPglite();
    const instance = await start(db);
    try {
      const r = await SseReader.open(`${instance.url}/v1/changes`);
      await r.next((e) => e.event === 'ready');
      const first = await post(instance.url, ev('GUILD_MEMBER_ADD', member(G, U(1))));
      const second = await post(instance.url, [ev('CHANNEL_CREATE', { ...channel(C1), guild_id: G }), ev('CHANNEL_DELETE', { ...channel(C1), guild_id: G })]);
      expect(second).toBeGreaterThan(first!);
      expect(keys((await r.change(first!)).data.changes).sort()).toEqual([`guilds upsert ${G}`, `members upsert ${G}:${U(1)}`, `users upsert ${U(1)}`]);
      expect(keys((await r.change(second!)).data.changes)).toEqual(expect.arrayContaining([`channels delete ${C1}`, `messages scope {"channel_id":"${C1}"}`]));
      r.close();
    } finally {
      await instance.app.close();
      await db.close();
    }
  });
});
