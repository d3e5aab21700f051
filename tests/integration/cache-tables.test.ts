/**
 * CACHE_TABLES (buildApp's `cachedTables`), on PostgreSQL and PGlite: a table left out is never written by
 * events, PUTs or cascades, its routes answer 404 TABLE_NOT_CACHED, /v1/stats lists only the cached tables,
 * and what the cached tables get from an event is unchanged. Also: the process reads CACHE_TABLES from the
 * environment and refuses an unknown name.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CacheClient } from '../../src/client/index.js';
import type { Database } from '../../src/db/connect.js';
import type { TableName } from '../../src/db/tables.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { dispatch, ev, makeApp } from '../helpers/app.js';
import { backends, createPostgres } from '../helpers/db.js';
import { call, del, get, put } from '../helpers/http.js';
import { startService, waitHealthy } from '../helpers/process.js';
import { truncateAll } from '../helpers/snapshot.js';

const G = '81384788765712384';
const U1 = '80351110224678912';
const U2 = '80351110224678913';
const C1 = '81384788765712385';
const C2 = '81384788765712386';
const T1 = '81384788765712390';
const M1 = '81384788765712400';
const M2 = '81384788765712401';

const SCOPE: TableName[] = ['users', 'members', 'guilds', 'channels', 'threads'];
const LEFT_OUT: TableName[] = ['messages', 'presences', 'unavailable_guilds', 'voice_states'];

const user = (id: string) => ({ id, username: `user${id.slice(-3)}`, discriminator: '0', global_name: null, avatar: null });
const member = (id: string) => ({ user: user(id), roles: [], joined_at: '2024-02-27T19:50:51.701000+00:00', deaf: false, mute: false, flags: 0 });
const guildCreate = (extra: Record<string, unknown> = {}) =>
  ev('GUILD_CREATE', {
    id: G,
    name: 'Guild',
    owner_id: U1,
    member_count: 10,
    roles: [],
    emojis: [],
    features: [],
    channels: [
      { id: C1, type: 0, name: 'general', position: 0, permission_overwrites: [] },
      { id: C2, type: 2, name: 'voice', position: 1, permission_overwrites: [] },
    ],
    threads: [{ id: T1, type: 11, name: 'thread', parent_id: C1, owner_id: U1, message_count: 0, total_message_sent: 0 }],
    members: [member(U1)],
    presences: [{ user: { id: U1 }, status: 'online', activities: [], client_status: { desktop: 'online' } }],
    voice_states: [{ user_id: U1, channel_id: C2, session_id: 's', deaf: false, mute: false, self_deaf: false, self_mute: false, self_video: false, suppress: false }],
    ...extra,
  });
const messageCreate = (id: string, channelId: string) =>
  ev('MESSAGE_CREATE', {
    id,
    channel_id: channelId,
    guild_id: G,
    author: user(U2),
    member: { roles: [], joined_at: '2024-03-01T00:00:00+00:00', deaf: false, mute: false, flags: 0, nick: 'writer' },
    content: 'hello',
    timestamp: '2026-01-01T00:00:00.000000+00:00',
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: [user(U1)],
    mention_roles: [],
    attachments: [],
    embeds: [],
    pinned: false,
    type: 0,
  });
const memberEvent = (t: 'GUILD_MEMBER_ADD' | 'GUILD_MEMBER_REMOVE', userId: string) =>
  ev(t, t === 'GUILD_MEMBER_ADD' ? { ...member(userId), guild_id: G } : { guild_id: G, user: user(userId) });

describe.each(backends)('CACHE_TABLES=users,members,guilds,channels,threads on %s', (_name, open) => {
  let db: Database;
  let close: () => Promise<void>;
  let app: FastifyInstance;
  const count = async (table: string, where = 'true') =>
    Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} WHERE ${where}`))[0]!.n);
  const ok = async (body: unknown) => expect((await dispatch(app, body)).status).toBe(200);
  const leftOutRows = async () => Object.fromEntries(await Promise.all(LEFT_OUT.map(async (t) => [t, await count(t)])));

  beforeAll(async () => {
    ({ db, close } = await open());
    app = await makeApp(db, { cachedTables: SCOPE });
  });
  afterAll(async () => {
    await app.close();
    await close();
  });
  beforeEach(async () => truncateAll(db));

  it('events never write the tables left out; the cached ones get what they always get', async () => {
    await ok([
      guildCreate(),
      messageCreate(M1, C1),
      messageCreate(M2, T1),
      ev('PRESENCE_UPDATE', { guild_id: G, user: { id: U2 }, status: 'idle', activities: [], client_status: {} }),
      ev('VOICE_STATE_UPDATE', { guild_id: G, user_id: U2, channel_id: C2, session_id: 's2', member: member(U2) }),
      ev('MESSAGE_REACTION_ADD', { user_id: U1, channel_id: C1, message_id: M1, guild_id: G, emoji: { id: null, name: '👍' }, burst: false, type: 0 }),
      ev('GUILD_DELETE', { id: '81384788765712999', unavailable: true }),
    ]);
    expect(await leftOutRows()).toEqual({ messages: 0, presences: 0, unavailable_guilds: 0, voice_states: 0 });
    // MESSAGE_CREATE still moves the channel's last_message_id and the thread's counters, and caches the
    // author, its member and the mentioned users
    expect((await get(app, `/v1/channels/${C1}`)).body).toMatchObject({ last_message_id: M1 });
    expect((await get(app, `/v1/threads/${T1}`)).body).toMatchObject({ last_message_id: M2, message_count: 1, total_message_sent: 1 });
    expect((await get(app, `/v1/users/${U2}`)).body).toMatchObject({ username: 'user913' });
    expect((await get(app, `/v1/guilds/${G}/members/${U2}`)).body).toMatchObject({ nick: 'writer', user: { id: U2 } });
    expect(await count('users')).toBe(2);
    expect(await count('members')).toBe(2);
    expect(await count('channels')).toBe(2);
  });

  it('rows already in a table left out (cached before) are neither written nor deleted, not even by cascades', async () => {
    await ok(guildCreate());
    await db.query(`INSERT INTO messages (id, channel_id, guild_id, content) VALUES (${M1}, ${C1}, ${G}, 'old')`);
    await db.query(`INSERT INTO presences (guild_id, user_id, status) VALUES (${G}, ${U1}, 'online')`);
    await ok([ev('MESSAGE_DELETE', { id: M1, channel_id: C1, guild_id: G }), ev('MESSAGE_UPDATE', { id: M1, channel_id: C1, content: 'new' })]);
    expect((await db.query<{ content: string }>(`SELECT content FROM messages`))[0]!.content).toBe('old');
    await ok([ev('CHANNEL_DELETE', { id: C1, type: 0, guild_id: G }), ev('GUILD_DELETE', { id: G })]);
    expect(await count('messages')).toBe(1);
    expect(await count('presences')).toBe(1);
  });

  it('cascades still take the cached rows: CHANNEL_DELETE its threads, GUILD_DELETE everything of the guild', async () => {
    await ok(guildCreate());
    await ok(ev('CHANNEL_DELETE', { id: C1, type: 0, guild_id: G }));
    expect(await count('threads')).toBe(0);
    expect(await count('channels')).toBe(1);
    await ok(guildCreate());
    expect(await count('threads')).toBe(1);
    await ok(ev('GUILD_DELETE', { id: G }));
    for (const t of ['guilds', 'channels', 'threads', 'members']) expect(await count(t), t).toBe(0);
    expect(await count('users')).toBe(1);
    // GUILD_CREATE's authoritative channel list still applies
    await ok(guildCreate());
    await ok(guildCreate({ channels: [], threads: [] }));
    expect(await count('channels')).toBe(0);
    expect(await count('threads')).toBe(0);
  });

  it('every route of a table left out answers 404 TABLE_NOT_CACHED naming CACHE_TABLES, and writes nothing', async () => {
    const routes: [method: 'GET' | 'PUT' | 'DELETE', url: string, body?: unknown][] = [
      ['GET', `/v1/channels/${C1}/messages/${M1}`],
      ['PUT', `/v1/channels/${C1}/messages/${M1}`, { content: 'x' }],
      ['DELETE', `/v1/channels/${C1}/messages/${M1}`],
      ['GET', `/v1/channels/${C1}/messages`],
      ['GET', `/v1/guilds/${G}/presences/${U1}`],
      ['PUT', `/v1/guilds/${G}/presences/${U1}`, { status: 'online' }],
      ['GET', `/v1/guilds/${G}/presences`],
      ['GET', `/v1/guilds/${G}/voice-states/${U1}`],
      ['PUT', `/v1/guilds/${G}/voice-states/${U1}`, { channel_id: C2 }],
      ['DELETE', `/v1/guilds/${G}/voice-states/${U1}`],
      ['GET', `/v1/guilds/${G}/voice-states`],
      ['GET', `/v1/channels/${C2}/voice-states`],
      ['GET', `/v1/unavailable-guilds`],
      ['PUT', `/v1/unavailable-guilds/${G}`],
    ];
    for (const [method, url, body] of routes) {
      const r = await call(app, method, url, body);
      expect(r.status, `${method} ${url}`).toBe(404);
      expect(r.body, `${method} ${url}`).toMatchObject({ statusCode: 404, error: 'Not Found', code: 'TABLE_NOT_CACHED' });
      expect(r.body.message, `${method} ${url}`).toContain('CACHE_TABLES');
    }
    expect(await leftOutRows()).toEqual({ messages: 0, presences: 0, unavailable_guilds: 0, voice_states: 0 });
    // the cached tables' routes answer as usual; a missing object is NOT_CACHED, not TABLE_NOT_CACHED
    expect(await get(app, `/v1/guilds/${G}`)).toMatchObject({ status: 404, body: { code: 'NOT_CACHED' } });
    expect((await put(app, `/v1/guilds/${G}`, { name: 'g' })).status).toBe(200);
    expect((await del(app, `/v1/guilds/${G}`)).status).toBe(204);
  });

  it('/v1/stats lists only the cached tables', async () => {
    await ok(guildCreate());
    const stats = await get(app, '/v1/stats');
    expect(stats.body.tables).toEqual({ users: 1, guilds: 1, members: 1, channels: 2, threads: 1 });
  });

  it('the client: a table left out is a CacheError with code TABLE_NOT_CACHED (not "not cached": undefined)', async () => {
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const cache = new CacheClient({ url });
    try {
      expect(await cache.guilds.get(G)).toBeUndefined();
      const err = await cache.messages.get(C1, M1).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'CacheError', statusCode: 404, code: 'TABLE_NOT_CACHED' });
      expect(await cache.voiceStates.list(G).catch((e: unknown) => e)).toMatchObject({ code: 'TABLE_NOT_CACHED' });
    } finally {
      await cache.close({ timeoutMs: 5_000 });
    }
  });

  describe('without a members table', () => {
    let noMembers: FastifyInstance;
    beforeAll(async () => {
      noMembers = await makeApp(db, { cachedTables: ['users', 'guilds', 'channels'] });
    });
    afterAll(async () => noMembers.close());

    const memberCount = async () => (await get(noMembers, `/v1/guilds/${G}`)).body.member_count as number;

    it('member_count moves on every GUILD_MEMBER_ADD and REMOVE (the cache cannot tell a repeat)', async () => {
      expect((await dispatch(noMembers, guildCreate())).status).toBe(200);
      expect(await memberCount()).toBe(10);
      await dispatch(noMembers, [memberEvent('GUILD_MEMBER_ADD', U2), memberEvent('GUILD_MEMBER_ADD', U2)]);
      expect(await memberCount()).toBe(12);
      await dispatch(noMembers, memberEvent('GUILD_MEMBER_REMOVE', U2));
      await dispatch(noMembers, memberEvent('GUILD_MEMBER_REMOVE', U1));
      expect(await memberCount()).toBe(10);
      expect(await count('members')).toBe(0);
      expect(await count('users')).toBe(2);
    });

    it('with the members table (the scope above) a repeated add or remove does not move it', async () => {
      await ok(guildCreate()); // U1 is a cached member
      await ok([memberEvent('GUILD_MEMBER_ADD', U2), memberEvent('GUILD_MEMBER_ADD', U2), memberEvent('GUILD_MEMBER_ADD', U1)]);
      expect((await get(app, `/v1/guilds/${G}`)).body.member_count).toBe(11);
      await ok([memberEvent('GUILD_MEMBER_REMOVE', U2), memberEvent('GUILD_MEMBER_REMOVE', U2)]);
      expect((await get(app, `/v1/guilds/${G}`)).body.member_count).toBe(10);
    });
  });
});

describe('CACHE_TABLES in the environment (the service as a process)', () => {
  let pg: Awaited<ReturnType<typeof createPostgres>>;
  beforeAll(async () => {
    pg = await createPostgres();
  });
  afterAll(async () => pg.close());

  it('serves only the tables it names', async () => {
    const svc = await startService({ DATABASE_URL: pg.test.url, CACHE_TABLES: ' guilds, users ' });
    try {
      expect(await waitHealthy(svc), svc.output()).toBe(true);
      const stats = (await (await fetch(`${svc.url}/v1/stats`)).json()) as { tables: Record<string, number> };
      expect(Object.keys(stats.tables)).toEqual(['users', 'guilds']);
      const res = await fetch(`${svc.url}/v1/guilds/${G}/members`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { code: string }).code).toBe('TABLE_NOT_CACHED');
    } finally {
      await svc.stop();
    }
  });

  it('refuses to start with an unknown table, naming the variable and the name', async () => {
    const svc = await startService({ DATABASE_URL: pg.test.url, CACHE_TABLES: 'users,voicestates' });
    expect(await svc.exited).toBe(1);
    expect(svc.output()).toMatch(/CACHE_TABLES must list tables among users, guilds, .*voice_states, got "users,voicestates" \(unknown: voicestates\)/);
  });
});
