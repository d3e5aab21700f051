/**
 * Hostile and odd inputs through the real app, on PostgreSQL and PGlite: every bad input is a 4xx naming the
 * field, stored data of any shape never makes later events fail, counters saturate, metrics labels stay
 * bounded, bodies may be compressed. (The database-level timeouts are PostgreSQL-only, below.)
 */
import { gzipSync, deflateSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { dispatch, ev, makeApp } from '../helpers/app.js';
import { createPglite, createPostgres, type TestDatabase } from '../helpers/db.js';
import { truncateAll } from '../helpers/snapshot.js';

const G = '81384788765712384';
const C = '81384788765712385';
const T = '81384788765712390';
const M = '81384788765712400';
const U = '80351110224678912';
const ROLE = '81384788765712500';

/** JSON text nested `depth` objects deep (built as text: JSON.stringify itself overflows near 4,500 levels). */
const nestedJson = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe.each([
  ['PostgreSQL', async () => createPostgres()],
  ['PGlite', async () => {
    const db = await createPglite();
    return { db, close: () => db.close() };
  }],
] as const)('robustness (%s)', (_name, open) => {
  let db: Database;
  let close: () => Promise<void>;
  let app: FastifyInstance;
  beforeAll(async () => {
    ({ db, close } = await open());
    app = await makeApp(db, { bodyLimit: 64 * 1024 });
  });
  afterAll(async () => {
    await app?.close();
    await close?.();
  });
  beforeEach(async () => truncateAll(db));

  const one = async (sql: string) => (await db.query(sql))[0] as Record<string, unknown>;

  describe('stored data of the wrong shape never makes later events fail', () => {
    it.each(['[null]', '"x"', '{"a":1}', '[{"emoji":null}]', '5', '[{"emoji":{"name":"👍"},"count":"x"}]'])(
      'messages.reactions stored as %s: reactions still apply',
      async (stored) => {
        await db.query(`INSERT INTO messages (id, channel_id, reactions) VALUES (${M}, ${C}, '${stored}'::jsonb)`);
        const add = ev('MESSAGE_REACTION_ADD', { message_id: M, channel_id: C, user_id: U, emoji: { id: null, name: '👍' } });
        expect((await dispatch(app, [add, add])).status).toBe(200);
        const { reactions } = await one(`SELECT reactions FROM messages WHERE id = ${M}`);
        const thumbs = (reactions as { emoji: { name: string }; count: number }[]).find((r) => r.emoji.name === '👍');
        expect(thumbs?.count).toBeGreaterThanOrEqual(2);
        const remove = ev('MESSAGE_REACTION_REMOVE_EMOJI', { message_id: M, channel_id: C, emoji: { id: null, name: '👍' } });
        expect((await dispatch(app, remove)).status).toBe(200);
      },
    );

    it.each(['[null]', '"x"', '5', '{}', '[{"name":"no id"}]'])('guilds.roles stored as %s: role events still apply', async (stored) => {
      await db.query(`INSERT INTO guilds (id, roles) VALUES (${G}, '${stored}'::jsonb)`);
      const role = { id: ROLE, name: 'r', permissions: '8', position: 1 };
      expect((await dispatch(app, ev('GUILD_ROLE_CREATE', { guild_id: G, role }))).status).toBe(200);
      expect((await one(`SELECT roles FROM guilds WHERE id = ${G}`)).roles).toContainEqual(role);
      expect((await dispatch(app, ev('GUILD_ROLE_UPDATE', { guild_id: G, role: { ...role, name: 's' } }))).status).toBe(200);
      expect((await dispatch(app, ev('GUILD_ROLE_DELETE', { guild_id: G, role_id: ROLE }))).status).toBe(200);
      expect((await one(`SELECT roles FROM guilds WHERE id = ${G}`)).roles).not.toContainEqual(expect.objectContaining({ id: ROLE }));
      const perms = await app.inject({ method: 'GET', url: `/v1/guilds/${G}/members/${U}/permissions` });
      expect(perms.statusCode).toBe(404); // no member: never a 500
    });

    it('and such shapes are refused at the door, naming the field', async () => {
      const bad = await dispatch(app, ev('MESSAGE_CREATE', { id: M, channel_id: C, reactions: [null] }));
      expect(bad).toMatchObject({ status: 400, body: { message: 'body.d.reactions[0] must be an object' } });
      const roles = await dispatch(app, ev('GUILD_UPDATE', { id: G, roles: 'x' }));
      expect(roles).toMatchObject({ status: 400, body: { message: 'body.d.roles must be an array' } });
      const put = await app.inject({ method: 'PUT', url: `/v1/channels/${C}`, payload: { permission_overwrites: [{ id: '1', allow: 5 }] } });
      expect(put.statusCode).toBe(400);
      expect(put.json().message).toBe('body.permission_overwrites[0].allow must be a permission bit set (a decimal string)');
    });
  });

  it('JSON nested 5,000 levels is a 400 naming the field, not a 500', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/dispatch',
      headers: { 'content-type': 'application/json' },
      payload: `{"op":0,"t":"MESSAGE_CREATE","s":1,"d":{"id":"${M}","channel_id":"${C}","embeds":[${nestedJson(5_000)}]}}`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/^body\.d\.embeds\[0\](\.a)+ is nested deeper than 64 levels$/);
  });

  describe('counters saturate at the int4 bounds', () => {
    it('a thread at message_count 2^31-1 takes more MESSAGE_CREATEs', async () => {
      expect((await dispatch(app, ev('THREAD_CREATE', { id: T, type: 11, guild_id: G, parent_id: C, message_count: 2147483647, total_message_sent: 2147483646 }))).status).toBe(200);
      const msg = (id: string) => ev('MESSAGE_CREATE', { id, channel_id: T, guild_id: G, content: 'x', author: { id: U, username: 'u' } });
      expect((await dispatch(app, [msg('81384788765712601'), msg('81384788765712602')])).status).toBe(200);
      expect(await one(`SELECT message_count, total_message_sent FROM threads WHERE id = ${T}`)).toEqual({ message_count: 2147483647, total_message_sent: 2147483647 });
    });

    it('a counter that is NULL stays NULL (not the lower bound)', async () => {
      expect((await dispatch(app, ev('THREAD_CREATE', { id: T, type: 11, guild_id: G, parent_id: C }))).status).toBe(200);
      expect((await dispatch(app, ev('MESSAGE_CREATE', { id: '81384788765712601', channel_id: T, guild_id: G, content: 'x' }))).status).toBe(200);
      expect(await one(`SELECT message_count, total_message_sent FROM threads WHERE id = ${T}`)).toEqual({ message_count: null, total_message_sent: null });
    });

    it('in the same request as the value that reached the bound (merged in the writer)', async () => {
      const create = ev('THREAD_CREATE', { id: T, type: 11, guild_id: G, parent_id: C, message_count: 2147483647 });
      const msg = ev('MESSAGE_CREATE', { id: '81384788765712601', channel_id: T, guild_id: G, content: 'x' });
      expect((await dispatch(app, [create, msg, msg])).status).toBe(200);
      expect((await one(`SELECT message_count FROM threads WHERE id = ${T}`)).message_count).toBe(2147483647);
    });

    it('member_count at -2^31 and 2^31-1 takes member removals and additions', async () => {
      await db.query(`INSERT INTO guilds (id, member_count) VALUES (${G}, -2147483648), (${C}, 2147483647)`);
      await db.query(`INSERT INTO members (guild_id, user_id) VALUES (${G}, ${U})`);
      expect((await dispatch(app, ev('GUILD_MEMBER_REMOVE', { guild_id: G, user: { id: U } }))).status).toBe(200);
      const add = ev('GUILD_MEMBER_ADD', { guild_id: C, user: { id: U, username: 'u' }, roles: [], joined_at: '2024-01-01T00:00:00Z', deaf: false, mute: false });
      expect((await dispatch(app, add)).status).toBe(200);
      expect(await one(`SELECT (SELECT member_count FROM guilds WHERE id = ${G}) AS low, (SELECT member_count FROM guilds WHERE id = ${C}) AS high`)).toEqual({
        low: -2147483648,
        high: 2147483647,
      });
    });
  });

  it('metrics label only known event names: 2,000 made-up names are one `other`', async () => {
    const made = Array.from({ length: 2_000 }, (_, i) => ({ op: 0, t: `MADE_UP_${i.toString(36).toUpperCase()}`, d: {} }));
    for (let i = 0; i < made.length; i += 500) expect((await dispatch(app, made.slice(i, i + 500))).status).toBe(200);
    expect((await dispatch(app, [{ op: 0, t: 'TYPING_START', d: {} }, { op: 99, d: null }, { op: 1, d: 1 }])).status).toBe(200);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).not.toMatch(/MADE_UP/);
    expect(metrics).toMatch(/dsc_events_total\{type="other",outcome="ignored"\} 2001/);
    expect(metrics).toMatch(/dsc_events_total\{type="TYPING_START",outcome="ignored"\} 1/);
    expect(metrics).toMatch(/dsc_events_total\{type="op:1",outcome="ignored"\} 1/);
  });

  describe('what the database would refuse is a 400 naming the field', () => {
    it.each([
      ['year 0000', { joined_at: '0000-01-01T00:00:00+00:00' }, 'body.d.joined_at must be an ISO-8601 timestamp string or null'],
      ['a leap second with a fraction', { joined_at: '2024-01-01T23:59:60.5+00:00' }, 'body.d.joined_at must be an ISO-8601 timestamp string or null'],
      ['a lone surrogate in a JSON column', { avatar_decoration_data: { asset: 'a\uD800' } }, 'body.d.avatar_decoration_data.asset contains a lone UTF-16 surrogate (not valid Unicode)'],
      ['a lone surrogate in a text column', { nick: '\uDC00' }, 'body.d.nick contains a lone UTF-16 surrogate (not valid Unicode)'],
    ])('%s', async (_label, extra, message) => {
      const res = await dispatch(app, ev('GUILD_MEMBER_UPDATE', { guild_id: G, user: { id: U }, roles: [], ...extra }));
      expect(res).toMatchObject({ status: 400, body: { message } });
    });

    it('READY with shard [0, 1e21]', async () => {
      const res = await dispatch(app, ev('READY', { v: 10, user: { id: U, username: 'bot' }, guilds: [], session_id: 's', shard: [0, 1e21] }));
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/^body\.d\.shard must be/);
    });

    it('a snowflake with leading zeros (it would be stored as another number)', async () => {
      const res = await dispatch(app, ev('USER_UPDATE', { id: '00000000000000000042', username: 'x' }));
      expect(res).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^body\.d\.id must be a snowflake/) } });
      expect((await app.inject({ method: 'GET', url: '/v1/users/0042' })).statusCode).toBe(400);
    });

    it('camelCase keys in nested objects', async () => {
      const res = await dispatch(app, ev('MESSAGE_CREATE', { id: M, channel_id: C, author: { id: U, globalName: 'x' } }));
      expect(res).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^body\.d\.author\.globalName is camelCased/) } });
    });
  });

  describe('bodies', () => {
    const user = ev('USER_UPDATE', { id: U, username: 'zipped' });
    const post = (payload: Buffer | string, headers: Record<string, string>) =>
      app.inject({ method: 'POST', url: '/v1/dispatch', payload, headers: { 'content-type': 'application/json', ...headers } });

    it('text/plain is a 415', async () => {
      const res = await post(JSON.stringify(user), { 'content-type': 'text/plain' });
      expect(res.statusCode).toBe(415);
    });

    it.each([
      ['gzip', gzipSync],
      ['deflate', deflateSync],
    ])('content-encoding %s is decoded and applied', async (encoding, encode) => {
      const res = await post(encode(JSON.stringify(user)), { 'content-encoding': encoding });
      expect(res.statusCode).toBe(200);
      expect((await one(`SELECT username FROM users WHERE id = ${U}`)).username).toBe('zipped');
    });

    it('an unknown encoding is a 415, a corrupt stream a 400, a bomb over BODY_LIMIT a 413', async () => {
      expect((await post('{}', { 'content-encoding': 'zstd' })).statusCode).toBe(415);
      const corrupt = await post(Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
      expect(corrupt.statusCode).toBe(400);
      expect(corrupt.json().message).toMatch(/gzip/);
      const bomb = gzipSync(JSON.stringify([user, ...Array(40_000).fill({ op: 11, d: null })]));
      expect(bomb.length).toBeLessThan(64 * 1024);
      expect((await post(bomb, { 'content-encoding': 'gzip' })).statusCode).toBe(413);
    });
  });
});

describe('PostgreSQL timeouts are "retry later" (503 + Retry-After), not 500', () => {
  let db: Database;
  let test: TestDatabase;
  let close: () => Promise<void>;
  let app: FastifyInstance;
  let holder: pg.Client;
  beforeAll(async () => {
    ({ db, test, close } = await createPostgres());
    app = await makeApp(db);
    await db.query(`INSERT INTO users (id, username) VALUES (${U}, 'locked')`);
    holder = new pg.Client({ connectionString: test.url });
    await holder.connect();
  });
  afterAll(async () => {
    await holder?.end();
    await app?.close();
    await close?.();
  });

  it.each([
    ['lock_timeout (55P03)', 'lock_timeout'],
    ['statement_timeout (57014)', 'statement_timeout'],
  ])('%s', async (_label, setting) => {
    await db.query(`ALTER DATABASE ${test.name} SET ${setting} = '100ms'`);
    const pool = await makeApp(await (await import('../../src/db/connect.js')).openPostgres({ url: test.url }));
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT * FROM users WHERE id = ${U} FOR UPDATE`);
      const res = await pool.inject({ method: 'POST', url: '/v1/dispatch', payload: ev('USER_UPDATE', { id: U, username: 'waits' }) });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
    } finally {
      await holder.query('ROLLBACK');
      await db.query(`ALTER DATABASE ${test.name} RESET ${setting}`);
      await pool.close();
      await pool.cache.db.close();
    }
  });
});
