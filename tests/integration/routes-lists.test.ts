/** Lists with keyset paging (limit / after / before), against real PostgreSQL. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FastifyInstance } from '../../src/http/app.js';
import { dispatch, ev, makeApp } from '../helpers/app.js';
import { createPostgres } from '../helpers/db.js';
import { get, put } from '../helpers/http.js';

let app: FastifyInstance;
let close: () => Promise<void>;

// Ids whose text order differs from their numeric order: paging must compare them as bigints.
const GUILDS = ['9', '10', '100', '2000', '9223372036854775807'];

beforeAll(async () => {
  const pg = await createPostgres();
  close = pg.close;
  app = await makeApp(pg.db);
  for (const id of GUILDS) await put(app, `/v1/guilds/${id}`, { name: `g${id}` });
  for (const u of ['3', '20', '100']) {
    await put(app, `/v1/guilds/9/members/${u}`, { user: { id: u, username: `u${u}` }, nick: `n${u}` });
    await put(app, `/v1/guilds/9/presences/${u}`, { status: 'online' });
  }
  await put(app, '/v1/guilds/10/members/5', { nick: 'other guild' });
  await put(app, '/v1/guilds/10/presences/5', { status: 'idle' });
  // 120 messages in one channel, ids 1000..1119, plus one elsewhere
  const messages = Array.from({ length: 120 }, (_, i) =>
    ev('MESSAGE_CREATE', { id: String(1000 + i), channel_id: '50', guild_id: '9', content: `m${i}` }),
  );
  messages.push(ev('MESSAGE_CREATE', { id: '5000', channel_id: '51', guild_id: '9', content: 'elsewhere' }));
  expect((await dispatch(app, messages)).status).toBe(200);
  // 150 unavailable guilds (more than the default page)
  const outages = Array.from({ length: 150 }, (_, i) => ev('GUILD_DELETE', { id: String(90000 + i), unavailable: true }));
  expect((await dispatch(app, outages)).status).toBe(200);
  await put(app, '/v1/channels/50', { type: 0, guild_id: '9' });
  await put(app, '/v1/channels/52', { type: 2, guild_id: '9' });
  await put(app, '/v1/channels/53', { type: 0, guild_id: '10' });
  await put(app, '/v1/threads/60', { type: 11, guild_id: '9', parent_id: '50' });
  await put(app, '/v1/threads/61', { type: 11, guild_id: '9', parent_id: '52' });
  await put(app, '/v1/threads/62', { type: 12, guild_id: '9', parent_id: '50' });
  await put(app, '/v1/threads/63', { type: 11, guild_id: '10', parent_id: '53' });
});
afterAll(async () => {
  await app?.close();
  await close?.();
});

const ids = (rows: { id?: string }[]) => rows.map((r) => r.id);

describe('guilds', () => {
  test('by id ascending (numerically), limit and after', async () => {
    expect(ids((await get(app, '/v1/guilds')).body)).toEqual(GUILDS);
    expect(ids((await get(app, '/v1/guilds?limit=2')).body)).toEqual(['9', '10']);
    expect(ids((await get(app, '/v1/guilds?limit=2&after=10')).body)).toEqual(['100', '2000']);
    expect(ids((await get(app, '/v1/guilds?after=2000')).body)).toEqual(['9223372036854775807']);
    expect((await get(app, '/v1/guilds?after=9223372036854775807')).body).toEqual([]);
    expect(ids((await get(app, '/v1/guilds?after=0&limit=1000')).body)).toEqual(GUILDS);
    expect(ids((await get(app, '/v1/guilds?after=')).body)).toEqual(GUILDS);
  });

  test.each([
    ['limit=0', 'querystring.limit'],
    ['limit=1001', 'querystring.limit'],
    ['limit=-1', 'querystring.limit'],
    ['limit=abc', 'querystring.limit'],
    ['limit=2.5', 'querystring.limit'],
    ['after=abc', 'querystring.after'],
    ['after=-5', 'querystring.after'],
    ['after=9223372036854775808', 'querystring.after'],
  ])('?%s → 400 naming %s', async (qs, field) => {
    const res = await get(app, `/v1/guilds?${qs}`);
    expect(res.status).toBe(400);
    expect(res.body.message.startsWith(`${field} `)).toBe(true);
  });

  test('limit 1 and 1000 are accepted', async () => {
    expect((await get(app, '/v1/guilds?limit=1')).body).toHaveLength(1);
    expect((await get(app, '/v1/guilds?limit=1000')).body).toHaveLength(GUILDS.length);
  });
});

describe('unavailable guilds', () => {
  test('default page of 100, then after', async () => {
    const first = (await get(app, '/v1/unavailable-guilds')).body;
    expect(first).toHaveLength(100);
    expect(first[0]).toEqual({ id: '90000', unavailable: true });
    const rest = (await get(app, `/v1/unavailable-guilds?after=${first[99].id}&limit=1000`)).body;
    expect(rest).toHaveLength(50);
    expect(rest[0].id).toBe('90100');
    expect((await get(app, '/v1/unavailable-guilds?limit=0')).status).toBe(400);
  });
});

describe('members and presences', () => {
  test("a guild's members by user id, with their users", async () => {
    const all = (await get(app, '/v1/guilds/9/members')).body;
    expect(all).toEqual([
      { nick: 'n3', user: { id: '3', username: 'u3', global_name: null, avatar: null } },
      { nick: 'n20', user: { id: '20', username: 'u20', global_name: null, avatar: null } },
      { nick: 'n100', user: { id: '100', username: 'u100', global_name: null, avatar: null } },
    ]);
    const page = (await get(app, '/v1/guilds/9/members?limit=1&after=3')).body;
    expect(page).toEqual([{ nick: 'n20', user: { id: '20', username: 'u20', global_name: null, avatar: null } }]);
    expect((await get(app, '/v1/guilds/10/members')).body).toEqual([{ nick: 'other guild', user: { id: '5' } }]);
    expect((await get(app, '/v1/guilds/11/members')).body).toEqual([]);
    expect((await get(app, '/v1/guilds/9/members?limit=1001')).status).toBe(400);
    expect((await get(app, '/v1/guilds/x/members')).body.message).toMatch(/^params\.guildId /);
  });

  test("a guild's presences by user id", async () => {
    const all = (await get(app, '/v1/guilds/9/presences')).body;
    expect(all.map((p: { user: { id: string } }) => p.user.id)).toEqual(['3', '20', '100']);
    const page = (await get(app, '/v1/guilds/9/presences?after=20')).body;
    expect(page).toEqual([{ guild_id: '9', status: 'online', user: { id: '100', username: 'u100', global_name: null, avatar: null } }]);
    expect((await get(app, '/v1/guilds/9/presences?after=nope')).body.message).toMatch(/^querystring\.after /);
  });
});

describe('messages', () => {
  test('newest first, before, limit', async () => {
    const first = (await get(app, '/v1/channels/50/messages')).body;
    expect(first).toHaveLength(100);
    expect(first[0].id).toBe('1119');
    expect(first[99].id).toBe('1020');
    const next = (await get(app, `/v1/channels/50/messages?before=${first[99].id}`)).body;
    expect(ids(next)).toEqual(Array.from({ length: 20 }, (_, i) => String(1019 - i)));
    expect(ids((await get(app, '/v1/channels/50/messages?before=1003&limit=2')).body)).toEqual(['1002', '1001']);
    expect((await get(app, '/v1/channels/50/messages?before=1000')).body).toEqual([]);
    expect(ids((await get(app, '/v1/channels/51/messages')).body)).toEqual(['5000']);
    expect((await get(app, '/v1/channels/50/messages?limit=0')).body.message).toMatch(/^querystring\.limit /);
    expect((await get(app, '/v1/channels/50/messages?before=x')).body.message).toMatch(/^querystring\.before /);
  });
});

describe('channels and threads of a guild', () => {
  test('channels of one guild, by id', async () => {
    expect(ids((await get(app, '/v1/guilds/9/channels')).body)).toEqual(['50', '52']);
    expect(ids((await get(app, '/v1/guilds/10/channels')).body)).toEqual(['53']);
    expect((await get(app, '/v1/guilds/12/channels')).body).toEqual([]);
  });

  test('threads of one guild, optionally of one parent', async () => {
    expect(ids((await get(app, '/v1/guilds/9/threads')).body)).toEqual(['60', '61', '62']);
    expect(ids((await get(app, '/v1/guilds/9/threads?parent_id=50')).body)).toEqual(['60', '62']);
    expect(ids((await get(app, '/v1/guilds/9/threads?parent_id=53')).body)).toEqual([]);
    expect((await get(app, '/v1/guilds/9/threads?parent_id=abc')).body.message).toMatch(/^querystring\.parent_id /);
  });
});
