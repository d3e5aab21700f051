/**
 * Shard leases (TOTAL_SHARDS, SHARDS) with real apps on one real PostgreSQL database: A writes shards 0-1, B
 * shards 2-3, C was started for every shard and stands by. 421 for the others' shards (naming the holder),
 * whole requests refused, 400 for a forward whose shard disagrees with its guild, PUT/DELETE by the row's
 * shard, takeover when a holder's session is lost or it stops, sequence states read again on re-acquiring, and
 * one TOTAL_SHARDS per database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.js';
import { Leases } from '../../src/db/leases.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { makeApp } from '../helpers/app.js';
import { createPostgres, type TestDatabase } from '../helpers/db.js';

const TOTAL = 4;
/** A guild id on `shard` (of 4): (id >> 22) % 4 = shard. */
const guildOn = (shard: number, n = 0) => String(((1000n + BigInt(shard) + 4n * BigInt(n)) << 22n) + 7n);
const user = (id: string) => ({ id, username: `u${id.slice(-3)}`, discriminator: '0' });
const memberAdd = (guild: string, userId: string) => ({
  guild_id: guild,
  user: user(userId),
  roles: [],
  joined_at: '2024-01-01T00:00:00+00:00',
  deaf: false,
  mute: false,
});
const forward = (t: string, s: number | null, d: unknown, shardId: number) => ({ payload: { op: 0, t, s, d }, shardId });
const bare = (t: string, d: unknown) => ({ op: 0, t, s: null, d });

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('shard leases', () => {
  let pg: { db: Database; test: TestDatabase; close(): Promise<void> };
  const apps: FastifyInstance[] = [];
  let a: FastifyInstance;
  let b: FastifyInstance;
  let c: FastifyInstance;

  const start = async (name: string, shards: number[]) => {
    const app = await makeApp(pg.db, {
      shardLeases: { url: pg.test.url, totalShards: TOTAL, shards, advertiseUrl: `http://${name}.test`, pollMs: 50 },
    });
    apps.push(app);
    return app;
  };
  const post = async (app: FastifyInstance, body: unknown) => {
    const res = await app.inject({ method: 'POST', url: '/v1/dispatch', payload: body as object });
    return { status: res.statusCode, body: res.json() as Record<string, any> };
  };
  const held = (app: FastifyInstance) => app.cache.leases!.state().held;
  const sessionPid = async (app: FastifyInstance) =>
    (await pg.db.query<{ pid: number }>('SELECT session_pid AS pid FROM shard_writers WHERE instance_id = $1', [app.cache.leases!.instanceId]))[0]?.pid;
  const members = async (guild: string) =>
    (await pg.db.query<{ n: number }>('SELECT count(*)::int AS n FROM members WHERE guild_id = $1', [guild]))[0]!.n;

  beforeAll(async () => {
    pg = await createPostgres();
    a = await start('a', [0, 1]);
    b = await start('b', [2, 3]);
    c = await start('c', [0, 1, 2, 3]);
  });
  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => {});
    await pg?.close();
  });

  it('each instance holds what it was started for and nobody holds yet; GET /v1/shards tells holders, standbys and what each is', async () => {
    expect(held(a)).toEqual([0, 1]);
    expect(held(b)).toEqual([2, 3]);
    expect(c.cache.leases!.state()).toEqual({ held: [], standby: [0, 1, 2, 3] });
    const listed = (await c.inject({ method: 'GET', url: '/v1/shards' })).json() as Record<string, any>[];
    expect(listed.map((s) => [s.shard_id, s.holder?.url, s.standbys.map((x: { url: string }) => x.url), s.here, s.total_shards])).toEqual([
      [0, 'http://a.test', ['http://c.test'], 'standby', 4],
      [1, 'http://a.test', ['http://c.test'], 'standby', 4],
      [2, 'http://b.test', ['http://c.test'], 'standby', 4],
      [3, 'http://b.test', ['http://c.test'], 'standby', 4],
    ]);
    expect(listed[0]).toMatchObject({ session_id: null, last_sequence: null, last_event_at: null, events_applied: 0 });
    const fromA = (await a.inject({ method: 'GET', url: '/v1/shards' })).json() as Record<string, any>[];
    expect(fromA.map((s) => s.here)).toEqual(['held', 'held', null, null]);
    const metrics = (await a.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^dsc_shard_leases_held 2$/m);
  });

  it("an event of another instance's shard: 421 naming the shard and its holder; a request mixing shards is refused whole", async () => {
    const g0 = guildOn(0);
    const g2 = guildOn(2);
    const refused = await post(a, forward('GUILD_MEMBER_ADD', 1, memberAdd(g2, '5001'), 2));
    expect(refused.status).toBe(421);
    expect(refused.body).toMatchObject({
      statusCode: 421,
      error: 'Misdirected Request',
      code: 'SHARD_NOT_HELD',
      shards: [{ shard: 2, instance_id: b.cache.leases!.instanceId, url: 'http://b.test' }],
    });
    expect(refused.body.message).toContain('http://b.test');

    const mixed = await post(a, [forward('GUILD_MEMBER_ADD', 1, memberAdd(g0, '5002'), 0), forward('GUILD_MEMBER_ADD', 2, memberAdd(g2, '5003'), 2)]);
    expect(mixed.status).toBe(421);
    expect(mixed.body.shards.map((s: { shard: number }) => s.shard)).toEqual([2]);
    expect(await members(g0)).toBe(0); // atomic: nothing of it

    expect((await post(a, forward('GUILD_MEMBER_ADD', 1, memberAdd(g0, '5002'), 0))).body).toEqual({ applied: 1, ignored: 0, duplicates: 0 });
    expect((await post(b, forward('GUILD_MEMBER_ADD', 1, memberAdd(g2, '5003'), 2))).status).toBe(200);
    // A standby writes nothing.
    expect((await post(c, forward('GUILD_MEMBER_ADD', 2, memberAdd(g0, '5004'), 0))).status).toBe(421);
    // Events the cache does not track are ignored wherever they land.
    expect((await post(a, forward('TYPING_START', 9, { guild_id: g2, channel_id: '1', user_id: '2' }, 2))).body).toMatchObject({ ignored: 1 });
  });

  it('bare payloads go by their guild (no guild: shard 0); a forward must agree with its guild, READY with TOTAL_SHARDS', async () => {
    const g3 = guildOn(3);
    expect((await post(b, bare('GUILD_MEMBER_ADD', memberAdd(g3, '5010')))).status).toBe(200);
    expect((await post(a, bare('GUILD_MEMBER_ADD', memberAdd(g3, '5011')))).status).toBe(421);
    expect((await post(a, bare('USER_UPDATE', user('5012')))).status).toBe(200); // no guild: shard 0
    expect((await post(b, bare('USER_UPDATE', user('5012')))).status).toBe(421);

    const wrong = await post(a, [forward('USER_UPDATE', 3, user('5013'), 0), forward('GUILD_MEMBER_ADD', 4, memberAdd(g3, '5014'), 1)]);
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ code: 'INVALID_EVENT', index: 1, path: 'body[1].shardId' });
    expect(wrong.body.message).toContain(`guild ${g3} is on shard 3 of 4`);
    expect((await post(a, forward('USER_UPDATE', 5, user('5013'), 4))).body).toMatchObject({ code: 'INVALID_EVENT', path: 'body.shardId' });

    const ready = (shard: unknown) => ({ v: 10, user: user('9000'), guilds: [], session_id: 'x', ...(shard === undefined ? {} : { shard }) });
    const noShard = await post(a, bare('READY', ready(undefined)));
    expect(noShard.status).toBe(400);
    expect(noShard.body.message).toMatch(/body\.d\.shard is \[0, 1\]: the shard count must be TOTAL_SHARDS \(4\)/);
    expect((await post(a, forward('READY', 1, ready([1, 4]), 0))).body).toMatchObject({ code: 'INVALID_EVENT', path: 'body.shardId' });
    expect((await post(b, forward('READY', 1, ready([1, 4]), 1))).status).toBe(421);
  });

  it('PUT and DELETE go by the shard of their row: guild-keyed from the path, channels and messages from the body or the cached row; users anywhere', async () => {
    const g2 = guildOn(2, 1);
    const put = (app: FastifyInstance, url: string, payload?: object) => app.inject({ method: 'PUT', url, ...(payload ? { payload } : {}) });
    expect((await put(a, `/v1/guilds/${g2}`, { id: g2, name: 'g2' })).statusCode).toBe(421);
    expect((await put(b, `/v1/guilds/${g2}`, { id: g2, name: 'g2' })).statusCode).toBe(200);
    expect((await put(a, `/v1/guilds/${g2}/members/5020`, { roles: [] })).statusCode).toBe(421);
    const channel = '777000000000000001';
    expect((await put(a, `/v1/channels/${channel}`, { id: channel, type: 0, guild_id: g2 })).statusCode).toBe(421);
    expect((await put(b, `/v1/channels/${channel}`, { id: channel, type: 0, guild_id: g2, name: 'c' })).statusCode).toBe(200);
    // Without guild_id in the body: the cached channel's guild.
    const renamed = await put(a, `/v1/channels/${channel}`, { id: channel, name: 'renamed' });
    expect(renamed.statusCode).toBe(421);
    expect(renamed.json()).toMatchObject({ shards: [{ shard: 2, url: 'http://b.test' }] });
    // A message of that channel, not cached, without guild_id: its channel's guild.
    expect((await put(a, `/v1/channels/${channel}/messages/778000000000000001`, { id: '778000000000000001', channel_id: channel, content: 'x' })).statusCode).toBe(421);
    expect((await a.inject({ method: 'DELETE', url: `/v1/channels/${channel}` })).statusCode).toBe(421);
    expect((await b.inject({ method: 'DELETE', url: `/v1/channels/${channel}` })).statusCode).toBe(204);
    expect((await put(c, '/v1/users/5021', { id: '5021', username: 'anywhere' })).statusCode).toBe(200);
    // Reads are served by every instance.
    expect((await c.inject({ method: 'GET', url: `/v1/guilds/${g2}` })).json()).toMatchObject({ name: 'g2' });
  });

  it('a holder whose session is lost: the standby takes its shards over and the holder stands by; re-acquired shards read their sequence state again', async () => {
    const g0 = guildOn(0, 2);
    const ready = (session: string) => ({ v: 10, user: user('9000'), guilds: [{ id: g0, unavailable: true }], session_id: session, shard: [0, TOTAL] });
    await post(a, forward('READY', 1, ready('session-a'), 0));
    for (let s = 2; s <= 5; s++) expect((await post(a, forward('GUILD_MEMBER_ADD', s, memberAdd(g0, `60${s}`), 0))).status).toBe(200);

    // The connection of A's lease session is cut: its leases go with it, and C (standing by) takes them.
    const pid = await sessionPid(a);
    await pg.db.query('SELECT pg_terminate_backend($1)', [pid]);
    await until('C takes shards 0 and 1', () => held(c).join() === '0,1');
    await until('A registers again, as a standby', async () => (await sessionPid(a)) !== undefined && (await sessionPid(a)) !== pid);
    expect(held(a)).toEqual([]);
    const misdirected = await post(a, forward('GUILD_MEMBER_ADD', 6, memberAdd(g0, '606'), 0));
    expect(misdirected.status).toBe(421);
    expect(misdirected.body.shards).toEqual([{ shard: 0, instance_id: c.cache.leases!.instanceId, url: 'http://c.test' }]);

    // C writes shard 0 meanwhile: a new gateway session, sequence numbers from 1 again.
    await post(c, forward('READY', 1, ready('session-b'), 0));
    expect((await post(c, forward('GUILD_MEMBER_ADD', 2, memberAdd(g0, '610'), 0))).body).toMatchObject({ applied: 1 });
    expect((await post(c, forward('GUILD_MEMBER_ADD', 3, memberAdd(g0, '611'), 0))).body).toMatchObject({ applied: 1 });

    // C stops: its leases are given back once its last write committed, and A takes shards 0 and 1 back.
    await c.close();
    await until('A takes shards 0 and 1 back', () => held(a).join() === '0,1');
    // A remembered session-a at s = 5: had it kept that, s = 4 of session-b would be a duplicate.
    expect((await post(a, forward('GUILD_MEMBER_ADD', 4, memberAdd(g0, '612'), 0))).body).toEqual({ applied: 1, ignored: 0, duplicates: 0 });
    expect((await post(a, forward('GUILD_MEMBER_ADD', 4, memberAdd(g0, '612'), 0))).body).toEqual({ applied: 0, ignored: 0, duplicates: 1 });
    expect(await members(g0)).toBe(7);
    const [shard0] = (await a.inject({ method: 'GET', url: '/v1/shards' })).json() as Record<string, any>[];
    expect(shard0).toMatchObject({ session_id: 'session-b', last_sequence: 4, holder: { url: 'http://a.test' }, here: 'held' });
  });

  it('every instance on a database must use the same TOTAL_SHARDS', async () => {
    const log = { info() {}, warn() {}, error() {} };
    await expect(Leases.start({ url: pg.test.url, totalShards: 8, shards: [0], log })).rejects.toThrow(
      /TOTAL_SHARDS=8, but a running instance \(http:\/\/[ab]\.test\) on this database has TOTAL_SHARDS=4/,
    );
  });
});
