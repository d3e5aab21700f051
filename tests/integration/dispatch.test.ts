/**
 * POST /v1/dispatch through the real app, against PostgreSQL and PGlite: every row of the event matrix,
 * the restart reconcile, and the traps.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { EXPAND_MEMBERS } from '../../src/cache/events/guilds.js';
import type { Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { backends } from '../helpers/db.js';
import { dispatch, ev, makeApp } from '../helpers/app.js';
import { truncateAll } from '../helpers/snapshot.js';

// Guild ids chosen so their shard (id >> 22) % 2 is known.
const G = '81384788765712384'; // shard (G >> 22) % 2 computed below
const U1 = '80351110224678912';
const U2 = '80351110224678913';
const U3 = '80351110224678914';
const BOT = '900000000000000018';
const C1 = '81384788765712385';
const C2 = '81384788765712386';
const T1 = '81384788765712390';
const M1 = '81384788765712400';
const M2 = '81384788765712401';
const ROLE = '81384788765712500';

const user = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  username: `user${id.slice(-3)}`,
  discriminator: '0',
  global_name: null,
  avatar: null,
  ...extra,
});
const member = (id: string, extra: Record<string, unknown> = {}) => ({
  user: user(id),
  roles: [],
  joined_at: '2024-02-27T19:50:51.701000+00:00',
  nick: null,
  avatar: null,
  deaf: false,
  mute: false,
  flags: 0,
  ...extra,
});
const textChannel = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 0,
  name: `chan-${id.slice(-3)}`,
  position: 0,
  permission_overwrites: [],
  ...extra,
});
const thread = (id: string, parent: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 11,
  name: `thread-${id.slice(-3)}`,
  parent_id: parent,
  owner_id: U1,
  message_count: 0,
  member_count: 1,
  thread_metadata: { archived: false, auto_archive_duration: 1440, locked: false, archive_timestamp: '2024-01-01T00:00:00+00:00' },
  ...extra,
});
const guildCreate = (extra: Record<string, unknown> = {}) =>
  ev('GUILD_CREATE', {
    id: G,
    name: 'Guild',
    owner_id: U1,
    member_count: 2,
    roles: [{ id: G, name: '@everyone', permissions: '1024', position: 0 }],
    emojis: [],
    features: [],
    channels: [textChannel(C1), textChannel(C2)],
    threads: [thread(T1, C1)],
    members: [member(U1), member(U2)],
    presences: [{ user: { id: U1 }, status: 'online', activities: [], client_status: { desktop: 'online' } }],
    ...extra,
  });
const message = (id: string, channel: string, extra: Record<string, unknown> = {}) => ({
  id,
  channel_id: channel,
  guild_id: G,
  author: user(U1),
  member: { roles: [], joined_at: '2024-02-27T19:50:51.701000+00:00', deaf: false, mute: false, flags: 0 },
  content: 'hello',
  timestamp: '2026-01-01T00:00:00.000000+00:00',
  edited_timestamp: null,
  tts: false,
  mention_everyone: false,
  mentions: [user(U2)],
  mention_roles: [],
  attachments: [],
  embeds: [],
  pinned: false,
  type: 0,
  ...extra,
});

describe.each(backends)('dispatch on %s', (_name, open) => {
  let db: Database;
  let close: () => Promise<void>;
  let app: FastifyInstance;
  const one = async (table: string, where: string) => (await db.query(`SELECT * FROM ${table} WHERE ${where}`))[0];
  const count = async (table: string, where = 'true') =>
    Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} WHERE ${where}`))[0]!.n);
  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> };
  };

  beforeAll(async () => {
    ({ db, close } = await open());
    app = await makeApp(db, { messageLimit: 3 });
  });
  afterAll(async () => {
    await app.close();
    await close();
  });
  beforeEach(async () => truncateAll(db));

  it('answers applied/ignored counts for payloads, forwards and arrays; ignores op != 0 and untracked events', async () => {
    const r = await dispatch(app, [
      { payload: ev('USER_UPDATE', user(BOT)), shardId: 0 },
      ev('TYPING_START', { channel_id: C1, user_id: U1 }),
      { op: 11, d: null },
      ev('INTERACTION_CREATE', { id: '1' }),
    ]);
    expect(r).toEqual({ status: 200, body: { applied: 1, ignored: 3, duplicates: 0 } });
    expect(await count('users')).toBe(1);
    expect(await dispatch(app, { op: 1, d: 5 })).toEqual({ status: 200, body: { applied: 0, ignored: 1, duplicates: 0 } });
  });

  it('GUILD_CREATE writes guild, channels and threads with guild_id injected, members, users, presences', async () => {
    expect((await dispatch(app, guildCreate())).body).toEqual({ applied: 1, ignored: 0, duplicates: 0 });
    const guild = (await get(`/v1/stats`)).body.tables;
    expect(guild).toMatchObject({ guilds: 1, channels: 2, threads: 1, members: 2, users: 2, presences: 1 });
    expect(await count('channels', `guild_id = ${G}`)).toBe(2);
    expect(await count('threads', `guild_id = ${G} AND parent_id = ${C1}`)).toBe(1);
    expect(await count('presences', `guild_id = ${G} AND user_id = ${U1} AND status = 'online'`)).toBe(1);
    const g = await one('guilds', `id = ${G}`);
    expect(g!.roles).toEqual([{ id: G, name: '@everyone', permissions: '1024', position: 0 }]);
    expect(g!.member_count).toBe(2);
  });

  it('GUILD_CREATE is authoritative for channels and threads (with their messages) but never deletes members', async () => {
    await dispatch(app, [guildCreate(), ev('MESSAGE_CREATE', message(M1, C2)), ev('MESSAGE_CREATE', message(M2, T1))]);
    expect(await count('messages')).toBe(2);
    await dispatch(app, guildCreate({ channels: [textChannel(C1)], threads: [], members: [member(U1)] }));
    expect(await count('channels')).toBe(1);
    expect(await count('threads')).toBe(0);
    expect(await count('messages')).toBe(0);
    expect(await count('members', `guild_id = ${G}`)).toBe(2);
  });

  it('GUILD_CREATE / GUILD_DELETE unavailable keep everything; GUILD_DELETE removes the guild and its rows', async () => {
    await dispatch(app, [guildCreate(), ev('MESSAGE_CREATE', message(M1, C1))]);
    await dispatch(app, ev('GUILD_DELETE', { id: G, unavailable: true }));
    expect(await count('guilds')).toBe(1);
    expect(await count('unavailable_guilds', `id = ${G}`)).toBe(1);
    await dispatch(app, ev('GUILD_CREATE', { id: G, unavailable: true }));
    expect(await count('channels')).toBe(2);
    await dispatch(app, guildCreate());
    expect(await count('unavailable_guilds')).toBe(0);

    await dispatch(app, ev('GUILD_DELETE', { id: G }));
    for (const t of ['guilds', 'channels', 'threads', 'members', 'presences', 'messages', 'unavailable_guilds']) {
      expect(await count(t), t).toBe(0);
    }
    expect(await count('users')).toBe(2); // users are global: they stay
  });

  it('READY reconciles its shard: guilds left while offline go, other shards and listed guilds stay', async () => {
    // Three guilds; pick two on shard 0 of 2 and one on shard 1.
    const ids = ['81384788765712384', '81384788769906688', '81384788774100992', '81384788778295296'];
    const shard = (id: string) => Number((BigInt(id) >> 22n) % 2n);
    const s0 = ids.filter((id) => shard(id) === 0);
    const s1 = ids.filter((id) => shard(id) === 1);
    expect(s0.length).toBeGreaterThanOrEqual(2);
    expect(s1.length).toBeGreaterThanOrEqual(1);
    const [keep, gone] = s0 as [string, string];
    const other = s1[0]!;
    await dispatch(app, [
      ev('GUILD_CREATE', { id: keep, name: 'k', channels: [textChannel('1000')] }),
      ev('GUILD_CREATE', { id: gone, name: 'g', channels: [textChannel('1001')], members: [member(U1)] }),
      ev('GUILD_CREATE', { id: other, name: 'o' }),
      ev('GUILD_CREATE', { id: '81384788782489600', unavailable: true }),
    ]);
    const r = await dispatch(app, ev('READY', { v: 10, user: user(BOT, { bot: true }), guilds: [{ id: keep, unavailable: true }], shard: [0, 2], session_id: 'x' }));
    expect(r.status).toBe(200);
    expect(await count('guilds', `id = ${gone}`)).toBe(0);
    expect(await count('channels', `id = 1001`)).toBe(0);
    expect(await count('members', `guild_id = ${gone}`)).toBe(0);
    expect(await count('guilds', `id IN (${keep}, ${other})`)).toBe(2);
    expect(await count('unavailable_guilds', `id = ${keep}`)).toBe(1);
    const stale = shard('81384788782489600') === 0 ? 0 : 1;
    expect(await count('unavailable_guilds', `id = 81384788782489600`)).toBe(stale);
    expect(await one('users', `id = ${BOT}`)).toMatchObject({ bot: true });
  });

  it('GUILD_MEMBER_ADD / REMOVE move member_count only when the cache membership changes', async () => {
    await dispatch(app, guildCreate());
    const add = ev('GUILD_MEMBER_ADD', { ...member('80351110224678999'), guild_id: G });
    await dispatch(app, [add, add]);
    expect((await one('guilds', `id = ${G}`))!.member_count).toBe(3);
    await dispatch(app, add);
    expect((await one('guilds', `id = ${G}`))!.member_count).toBe(3);
    const rm = ev('GUILD_MEMBER_REMOVE', { guild_id: G, user: user('80351110224678999') });
    await dispatch(app, [rm, rm]);
    expect((await one('guilds', `id = ${G}`))!.member_count).toBe(2);
    await dispatch(app, ev('GUILD_MEMBER_REMOVE', { guild_id: G, user: user(U1) }));
    expect(await count('presences', `user_id = ${U1}`)).toBe(0);
    expect((await one('guilds', `id = ${G}`))!.member_count).toBe(1);
    // add, remove, add in one request: +1 overall
    await dispatch(app, [add, rm, add]);
    expect((await one('guilds', `id = ${G}`))!.member_count).toBe(2);
  });

  it('GUILD_MEMBER_UPDATE merges present keys and inserts when absent; nulls are real', async () => {
    await dispatch(app, guildCreate());
    await dispatch(app, ev('GUILD_MEMBER_UPDATE', { guild_id: G, user: user(U1), roles: [ROLE], nick: 'nicky', joined_at: null, avatar: null }));
    const m = await get(`/v1/stats`);
    expect(m.status).toBe(200);
    const row = await db.query(`SELECT nick, roles::text[] AS roles, joined_at, deaf FROM members WHERE user_id = ${U1}`);
    expect(row[0]).toEqual({ nick: 'nicky', roles: [ROLE], joined_at: null, deaf: false });
    await dispatch(app, ev('GUILD_MEMBER_UPDATE', { guild_id: '999', user: user(U1), roles: [] }));
    expect(await count('members', `guild_id = 999`)).toBe(1);
  });

  it('GUILD_MEMBERS_CHUNK writes members, users and presences with the guild injected', async () => {
    await dispatch(app, ev('GUILD_MEMBERS_CHUNK', {
      guild_id: G,
      members: [member(U1), member(U2)],
      presences: [{ user: { id: U2 }, status: 'idle', activities: [], client_status: {} }],
      chunk_index: 0,
      chunk_count: 1,
    }));
    expect(await count('members', `guild_id = ${G}`)).toBe(2);
    expect(await count('presences', `guild_id = ${G} AND status = 'idle'`)).toBe(1);
  });

  it('roles: create/update replace in guilds.roles; delete strips members; unknown guild is dropped', async () => {
    await dispatch(app, [guildCreate(), ev('GUILD_MEMBER_UPDATE', { guild_id: G, user: user(U1), roles: [ROLE] })]);
    await dispatch(app, [
      ev('GUILD_ROLE_CREATE', { guild_id: G, role: { id: ROLE, name: 'mods', permissions: '8', position: 1 } }),
      ev('GUILD_ROLE_UPDATE', { guild_id: G, role: { id: ROLE, name: 'admins', permissions: '8', position: 1 } }),
      ev('GUILD_ROLE_CREATE', { guild_id: '12345', role: { id: ROLE, name: 'x', permissions: '0', position: 1 } }),
    ]);
    let roles = (await one('guilds', `id = ${G}`))!.roles as { id: string; name: string }[];
    expect(roles.map((r) => r.name)).toEqual(['@everyone', 'admins']);
    expect(await count('guilds')).toBe(1);
    await dispatch(app, ev('GUILD_ROLE_DELETE', { guild_id: G, role_id: ROLE }));
    roles = (await one('guilds', `id = ${G}`))!.roles as { id: string; name: string }[];
    expect(roles.map((r) => r.name)).toEqual(['@everyone']);
    expect(await count('members', `${ROLE} = ANY(roles)`)).toBe(0);
  });

  it('GUILD_EMOJIS_UPDATE replaces the list; GUILD_UPDATE merges', async () => {
    await dispatch(app, guildCreate());
    await dispatch(app, [
      ev('GUILD_EMOJIS_UPDATE', { guild_id: G, emojis: [{ id: '5', name: 'pog', roles: [] }] }),
      ev('GUILD_UPDATE', { id: G, name: 'Renamed', description: null }),
    ]);
    const g = await one('guilds', `id = ${G}`);
    expect(g).toMatchObject({ name: 'Renamed', description: null, member_count: 2 });
    expect(String(g!.owner_id)).toBe(U1);
    expect(g!.emojis).toEqual([{ id: '5', name: 'pog', roles: [] }]);
  });

  it('CHANNEL_* and CHANNEL_PINS_UPDATE; CHANNEL_DELETE cascades to threads and messages', async () => {
    await dispatch(app, [guildCreate(), ev('MESSAGE_CREATE', message(M1, C1)), ev('MESSAGE_CREATE', message(M2, T1))]);
    await dispatch(app, [
      ev('CHANNEL_UPDATE', textChannel(C1, { guild_id: G, name: 'renamed', topic: 'hi' })),
      ev('CHANNEL_PINS_UPDATE', { guild_id: G, channel_id: C1, last_pin_timestamp: '2026-01-02T00:00:00+00:00' }),
      ev('CHANNEL_PINS_UPDATE', { guild_id: G, channel_id: '4242', last_pin_timestamp: '2026-01-02T00:00:00+00:00' }),
    ]);
    const c = (await get(`/v1/stats`)).body;
    expect(c).toBeTruthy();
    expect(await count('channels', `id = ${C1} AND name = 'renamed' AND last_pin_timestamp IS NOT NULL`)).toBe(1);
    expect(await count('channels', `id = 4242`)).toBe(0);
    expect(await count('channels', `id = ${C1} AND last_message_id = ${M1}`)).toBe(1);
    expect(await count('threads', `id = ${T1} AND last_message_id = ${M2} AND message_count = 1`)).toBe(1);
    await dispatch(app, ev('CHANNEL_DELETE', { id: C1, type: 0, guild_id: G }));
    expect(await count('channels')).toBe(1);
    expect(await count('threads')).toBe(0);
    expect(await count('messages')).toBe(0);
  });

  it('an update-only change and a later upsert of the same cached row in one request both apply, in order', async () => {
    await dispatch(app, ev('CHANNEL_UPDATE', textChannel(C1, { guild_id: G, name: 'a' })));
    await dispatch(app, [
      ev('CHANNEL_PINS_UPDATE', { channel_id: C1, last_pin_timestamp: '2024-01-01T00:00:00+00:00' }),
      ev('MESSAGE_CREATE', message(M1, C1)),
      ev('CHANNEL_UPDATE', textChannel(C1, { guild_id: G, name: 'b' })),
    ]);
    expect(await count('channels', `id = ${C1} AND name = 'b' AND last_pin_timestamp IS NOT NULL AND last_message_id = ${M1}`)).toBe(1);
  });

  it('DM channels cache their recipients and have no guild', async () => {
    await dispatch(app, ev('CHANNEL_CREATE', { id: '777', type: 1, recipients: [user(U2)], last_message_id: null }));
    expect(await count('channels', `id = 777 AND guild_id IS NULL`)).toBe(1);
    expect(await count('users', `id = ${U2}`)).toBe(1);
  });

  it('threads: THREAD_DELETE (partial) deletes with messages; THREAD_LIST_SYNC drops unlisted threads of listed parents', async () => {
    await dispatch(app, [guildCreate(), ev('THREAD_CREATE', { ...thread('555', C2), guild_id: G, newly_created: true })]);
    await dispatch(app, ev('MESSAGE_CREATE', message(M1, '555')));
    await dispatch(app, ev('THREAD_DELETE', { id: '555', guild_id: G, parent_id: C2, type: 11 }));
    expect(await count('threads', `id = 555`)).toBe(0);
    expect(await count('messages')).toBe(0);

    await dispatch(app, [ev('THREAD_CREATE', { ...thread('556', C2), guild_id: G }), ev('THREAD_CREATE', { ...thread('557', C1), guild_id: G })]);
    await dispatch(app, ev('THREAD_LIST_SYNC', { guild_id: G, channel_ids: [C2], threads: [], members: [] }));
    expect(await count('threads', `id = 556`)).toBe(0);
    expect(await count('threads', `id IN (557, ${T1})`)).toBe(2);
    await dispatch(app, ev('THREAD_LIST_SYNC', { guild_id: G, threads: [{ ...thread('558', C1), guild_id: G }], members: [{ id: '558', user_id: BOT, join_timestamp: '2026-01-01T00:00:00+00:00', flags: 0 }] }));
    expect(await count('threads')).toBe(1);
    expect((await one('threads', 'id = 558'))!.member).toMatchObject({ user_id: BOT });
  });

  it('THREAD_MEMBERS_UPDATE sets member_count and caches added members and presences', async () => {
    await dispatch(app, guildCreate());
    await dispatch(app, ev('THREAD_MEMBERS_UPDATE', {
      id: T1,
      guild_id: G,
      member_count: 7,
      added_members: [{ id: T1, user_id: '42', join_timestamp: '2026-01-01T00:00:00+00:00', flags: 0, member: member('42'), presence: { user: { id: '42' }, status: 'dnd', activities: [], client_status: {} } }],
      removed_member_ids: [],
    }));
    expect(await count('threads', `id = ${T1} AND member_count = 7`)).toBe(1);
    expect(await count('members', `user_id = 42 AND guild_id = ${G}`)).toBe(1);
    expect(await count('presences', `user_id = 42 AND status = 'dnd'`)).toBe(1);
  });

  it('MESSAGE_CREATE caches author, mentions, the author member; webhooks create no users', async () => {
    await dispatch(app, ev('MESSAGE_CREATE', message(M1, C1)));
    expect(await count('users')).toBe(2);
    expect(await count('members', `guild_id = ${G} AND user_id = ${U1}`)).toBe(1);
    await truncateAll(db);
    await dispatch(app, ev('MESSAGE_CREATE', message(M2, C1, { webhook_id: '31337', author: user('31337', { bot: true }), member: undefined })));
    expect(await count('users')).toBe(0);
    expect(await count('members')).toBe(0);
    expect(await count('messages', `id = ${M2} AND webhook_id = 31337`)).toBe(1);
  });

  it('MESSAGE_UPDATE merges present keys (partial, null, edited_timestamp null) and inserts when absent', async () => {
    await dispatch(app, ev('MESSAGE_CREATE', message(M1, C1, { content: 'v1', pinned: false })));
    await dispatch(app, ev('MESSAGE_UPDATE', { id: M1, channel_id: C1, guild_id: G, embeds: [{ type: 'rich' }], edited_timestamp: null }));
    expect(await one('messages', `id = ${M1}`)).toMatchObject({ content: 'v1', embeds: [{ type: 'rich' }], edited_timestamp: null });
    await dispatch(app, ev('MESSAGE_UPDATE', { id: M1, channel_id: C1, pinned: true, content: null }));
    expect(await one('messages', `id = ${M1}`)).toMatchObject({ content: null, pinned: true, embeds: [{ type: 'rich' }] });
    await dispatch(app, ev('MESSAGE_UPDATE', { id: M2, channel_id: C1, content: 'late' }));
    expect(await count('messages', `id = ${M2} AND content = 'late'`)).toBe(1);
  });

  it('MESSAGE_DELETE and MESSAGE_DELETE_BULK; retention keeps the newest messages per channel', async () => {
    const ids = ['100', '101', '102', '103', '104'];
    await dispatch(app, ids.map((id) => ev('MESSAGE_CREATE', message(id, C1))));
    // messageLimit is 3 in this app. Pruning is housekeeping the writer does right after the commit.
    const kept = async () => (await db.query<{ id: string }>(`SELECT id::text AS id FROM messages ORDER BY id`)).map((r) => r.id);
    for (let i = 0; i < 100 && (await kept()).length > 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await kept()).toEqual(['102', '103', '104']);
    await dispatch(app, ev('MESSAGE_DELETE', { id: '104', channel_id: C1, guild_id: G }));
    await dispatch(app, ev('MESSAGE_DELETE_BULK', { ids: ['102', '999'], channel_id: C1, guild_id: G }));
    expect(await count('messages')).toBe(1);
  });

  it('reactions count on cached messages; unknown messages are ignored', async () => {
    await dispatch(app, [ev('READY', { user: user(BOT), guilds: [] }), ev('MESSAGE_CREATE', message(M1, C1))]);
    const emoji = { id: null, name: '👍' };
    const react = (t: string, extra: Record<string, unknown>) =>
      ev(t, { channel_id: C1, message_id: M1, guild_id: G, emoji, ...extra });
    await dispatch(app, [
      react('MESSAGE_REACTION_ADD', { user_id: U1, burst: false, member: { user: user(U1), roles: [], joined_at: null, deaf: false, mute: false, flags: 0 } }),
      react('MESSAGE_REACTION_ADD', { user_id: BOT, burst: false }),
      react('MESSAGE_REACTION_ADD', { user_id: U2, burst: true }),
      ev('MESSAGE_REACTION_ADD', { channel_id: C1, message_id: '4444', user_id: U1, emoji }),
    ]);
    let reactions = (await one('messages', `id = ${M1}`))!.reactions as Record<string, unknown>[];
    expect(reactions).toEqual([
      { count: 3, count_details: { burst: 1, normal: 2 }, me: true, me_burst: false, burst_colors: [], emoji },
    ]);
    await dispatch(app, react('MESSAGE_REACTION_REMOVE', { user_id: BOT, burst: false }));
    reactions = (await one('messages', `id = ${M1}`))!.reactions as Record<string, unknown>[];
    expect(reactions[0]).toMatchObject({ count: 2, me: false });
    await dispatch(app, react('MESSAGE_REACTION_REMOVE_EMOJI', {}));
    expect((await one('messages', `id = ${M1}`))!.reactions).toEqual([]);
    expect(await count('messages', `id = 4444`)).toBe(0);
  });

  it('PRESENCE_UPDATE writes only the user keys present', async () => {
    await dispatch(app, ev('USER_UPDATE', user(U1, { username: 'keepme', avatar: 'abc' })));
    await dispatch(app, ev('PRESENCE_UPDATE', { guild_id: G, user: { id: U1 }, status: 'online', activities: [], client_status: {} }));
    expect(await one('users', `id = ${U1}`)).toMatchObject({ username: 'keepme', avatar: 'abc' });
    await dispatch(app, ev('PRESENCE_UPDATE', { guild_id: G, user: { id: U1, avatar: 'new' }, status: 'offline', activities: [], client_status: {} }));
    expect(await one('users', `id = ${U1}`)).toMatchObject({ username: 'keepme', avatar: 'new' });
    expect(await one('presences', `user_id = ${U1}`)).toMatchObject({ status: 'offline' });
  });

  it('a bad event anywhere in a request: 400 naming the index and field, nothing applied', async () => {
    const r = await dispatch(app, [ev('USER_UPDATE', user(U1)), ev('GUILD_MEMBER_ADD', { guild_id: G, user: { id: 12345 } })]);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(String(r.body.message)).toContain('body[1].d.user.id');
    expect(await count('users')).toBe(0);
    const before = (await get('/v1/stats')).body.ingest as { rejected: number };
    await dispatch(app, ev('GUILD_MEMBER_ADD', { guild_id: 'x' }));
    expect(((await get('/v1/stats')).body.ingest as { rejected: number }).rejected).toBe(before.rejected + 1);
  });

  it('a giant GUILD_CREATE (members mapped while written): all applied; a bad last member: 400, nothing of it applied', { timeout: 60_000 }, async () => {
    const n = EXPAND_MEMBERS + 500;
    // 1,000 rows per statement: the first members are sent to the database before the last is mapped.
    const app = await makeApp(db, { messageLimit: 3, chunkRows: 1_000 });
    onTestFinished(() => app.close());
    const members = Array.from({ length: n }, (_, i) => member(String(90_000_000_000_000_000n + BigInt(i))));
    const big = guildCreate({ members, channels: [textChannel(C1)], threads: [], presences: [] });
    expect((await dispatch(app, big)).status).toBe(200);
    expect(await count('members', `guild_id = ${G}`)).toBe(n);
    expect(await count('users')).toBe(n);

    await db.query('DELETE FROM members');
    await db.query('DELETE FROM users');
    await db.query('DELETE FROM guilds');
    const bad = structuredClone(big);
    ((bad.d as { members: { user: { id: unknown } }[] }).members)[n - 1]!.user.id = 7;
    // Sent beside a good request: the two may share a transaction; the good one is applied alone.
    const [r, good] = await Promise.all([dispatch(app, [ev('USER_UPDATE', user(U2)), bad]), dispatch(app, ev('USER_UPDATE', user(U1)))]);
    expect(r.status).toBe(400);
    expect(String(r.body.message)).toContain(`body[1].d.members[${n - 1}].user.id`);
    expect(good.status).toBe(200);
    expect(await count('guilds')).toBe(0);
    expect(await count('members')).toBe(0);
    expect((await db.query<{ id: string }>('SELECT id::text AS id FROM users')).map((u) => u.id)).toEqual([U1]);
  });

  it('camelCased packets get a 400 that says to forward raw snake_case', async () => {
    const r = await dispatch(app, { payload: ev('MESSAGE_CREATE', { id: M1, channelId: C1, guildId: G }), shardId: 0 });
    expect(r.status).toBe(400);
    expect(String(r.body.message)).toMatch(/body\.payload\.d\.\w+Id is camelCased.*snake_case/);
  });

  it('NUL characters are stripped, the rest of the request is kept', async () => {
    const raw = `[${JSON.stringify(ev('USER_UPDATE', user(U2)))}, {"op":0,"t":"MESSAGE_CREATE","s":2,"d":${JSON.stringify(message(M1, C1, { content: 'a' }))}}]`
      .replace('"content":"a"', '"content":"a\\u0000b\\\\u0000"');
    const res = await app.inject({ method: 'POST', url: '/v1/dispatch', headers: { 'content-type': 'application/json' }, payload: raw });
    expect(res.statusCode).toBe(200);
    expect((await one('messages', `id = ${M1}`))!.content).toBe('ab\\u0000');
    expect(await count('users', `id = ${U2}`)).toBe(1);
  });

  it('any string and JSON value round-trips through the bound arrays unchanged', async () => {
    // Bodies with "__proto__" / "constructor.prototype" keys are refused as a whole (Fastify's prototype-poisoning guard).
    const safeJson = fc.jsonValue().filter((v) => !/"(__proto__|constructor)"/.test(JSON.stringify(v) ?? ''));
    await fc.assert(
      fc.asyncProperty(fc.string(), safeJson, async (text, json) => {
        const clean = text.replaceAll('\0', '');
        const value = JSON.parse(JSON.stringify(json ?? null).replaceAll('\\u0000', '')) as unknown;
        const r = await dispatch(app, [
          ev('USER_UPDATE', { id: U1, username: clean, global_name: 'NULL', avatar: '{"a",\\b}', collectibles: value }),
          ev('USER_UPDATE', { id: U2, username: '' }),
          // Same columns as U1 (one statement), with JSON null: SQL NULL, not JSON null.
          ev('USER_UPDATE', { id: U3, username: 'u3', global_name: null, avatar: null, collectibles: null }),
        ]);
        expect(r.status).toBe(200);
        expect(await one('users', `id = ${U3}`)).toMatchObject({ username: 'u3', collectibles: null });
        expect((await db.query(`SELECT count(*)::int AS n FROM users WHERE collectibles = 'null'::jsonb`))[0]).toEqual({ n: 0 });
        const row = await one('users', `id = ${U1}`);
        expect(row).toMatchObject({ username: clean, global_name: 'NULL', avatar: '{"a",\\b}' });
        expect(row!.collectibles).toEqual(value === null ? null : value);
        expect((await one('users', `id = ${U2}`))!.username).toBe('');
      }),
      { numRuns: 40 },
    );
  });

  it('a body over BODY_LIMIT is a 413 in the error shape', async () => {
    const small = await makeApp(db, { bodyLimit: 2048 });
    try {
      const res = await small.inject({ method: 'POST', url: '/v1/dispatch', payload: [guildCreate(), guildCreate()] });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
      expect(await count('guilds')).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('malformed envelopes and JSON are 400s, never 500s', async () => {
    for (const body of [[1], [{ t: 'READY' }], [{ op: 0 }], [{ op: 0, t: 'MESSAGE_CREATE', d: 'x' }], [{ payload: 5 }], null]) {
      const r = await dispatch(app, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    const bad = await app.inject({ method: 'POST', url: '/v1/dispatch', headers: { 'content-type': 'application/json' }, payload: '{"op":' });
    expect(bad.statusCode).toBe(400);
  });
});
