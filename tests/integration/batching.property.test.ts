/**
 * Property: the writer's batching is invisible. Random event sequences over a small id space end in the
 * same tables whether sent one request per event, as one array, or as random chunks queued together from
 * several concurrent requests (group commit merges them into shared transactions).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Change } from '../../src/cache/changes.js';
import { mapDispatch } from '../../src/cache/events/index.js';
import type { Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { dispatch, ev, makeApp } from '../helpers/app.js';
import { createPostgres } from '../helpers/db.js';
import { snapshot, truncateAll } from '../helpers/snapshot.js';

const GUILDS = ['4194304', '8388608']; // shards 0 and 1 of 2
const USERS = ['11', '12', '13'];
// Discord's invariants hold: a channel or thread belongs to one guild for good, and a message's guild is its
// channel's (the cache relies on them to skip unchanged GUILD_CREATE parts, cache/snapshots.ts).
const CHANNELS_OF: Record<string, string[]> = { '4194304': ['21', '22'], '8388608': ['23', '24'] };
const THREADS_OF: Record<string, string[]> = { '4194304': ['31', '32'], '8388608': ['33', '34'] };
const CHANNELS = Object.values(CHANNELS_OF).flat();
const THREADS = Object.values(THREADS_OF).flat();
/** A guild and one of its channels (or threads). */
const inGuild = (of: Record<string, string[]>) =>
  fc.record({ gi: fc.nat(GUILDS.length - 1), ci: fc.nat(1) }).map(({ gi, ci }) => ({ g: GUILDS[gi]!, c: of[GUILDS[gi]!]![ci]! }));
const MESSAGES = ['41', '42'];
const ROLES = ['51', '52'];

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const user = (id: string, name: string) => ({ id, username: name, discriminator: '0', global_name: null, avatar: null });
const member = (id: string, roles: string[], nick: string | null) => ({
  user: user(id, `u${id}`),
  roles,
  nick,
  joined_at: '2024-01-01T00:00:00+00:00',
  deaf: false,
  mute: false,
  flags: 0,
});
const channel = (id: string, guild: string, name: string) => ({ id, type: 0, guild_id: guild, name, position: 0, permission_overwrites: [] });
const thread = (id: string, guild: string, parent: string) => ({
  id,
  type: 11,
  guild_id: guild,
  parent_id: parent,
  name: `t${id}`,
  message_count: 0,
  member_count: 1,
  thread_metadata: { archived: false, auto_archive_duration: 60, locked: false, archive_timestamp: '2024-01-01T00:00:00+00:00' },
});

const event = fc.oneof(
  fc.record({ g: pick(GUILDS), ch: fc.subarray([0, 1]), th: fc.subarray([0, 1]), m: fc.subarray(USERS), v: fc.subarray(USERS), n: fc.nat(5) }).map(({ g, ch, th, m, v, n }) =>
    ev('GUILD_CREATE', {
      id: g,
      name: `g${n}`,
      member_count: n,
      roles: [{ id: g, name: '@everyone', permissions: '0', position: 0 }],
      emojis: [],
      channels: ch.map((i) => ({ ...channel(CHANNELS_OF[g]![i]!, g, 'c'), guild_id: undefined })),
      threads: th.map((i) => ({ ...thread(THREADS_OF[g]![i]!, g, CHANNELS_OF[g]![0]!), guild_id: undefined })),
      members: m.map((u) => member(u, [], null)),
      presences: m.slice(0, 1).map((u) => ({ user: { id: u }, status: 'online', activities: [], client_status: {} })),
      voice_states: v.map((u, i) => ({ user_id: u, channel_id: CHANNELS_OF[g]![i % 2], session_id: `s${n}`, deaf: false, mute: false, self_deaf: false, self_mute: false, self_video: false, suppress: false, request_to_speak_timestamp: null })),
    }),
  ),
  fc.record({ at: inGuild(CHANNELS_OF), left: fc.boolean(), u: pick(USERS), n: fc.nat(3) }).map(({ at: { g, c }, left, u, n }) =>
    ev('VOICE_STATE_UPDATE', { guild_id: g, user_id: u, channel_id: left ? null : c, session_id: `v${n}`, deaf: false, mute: n === 1, self_deaf: false, self_mute: false, self_video: false, suppress: false, request_to_speak_timestamp: null }),
  ),
  // The same GUILD_CREATE again (a reconnect): one of two fixed variants per guild, so repeats are frequent and
  // the events between them decide whether its unchanged parts may be skipped (cache/snapshots.ts).
  fc.record({ g: pick(GUILDS), v: fc.constantFrom(0, 1) }).map(({ g, v }) =>
    ev('GUILD_CREATE', {
      id: g,
      name: `fixed${v}`,
      member_count: 3 + v,
      roles: [{ id: g, name: '@everyone', permissions: '0', position: 0 }],
      emojis: [],
      channels: CHANNELS_OF[g]!.slice(v).map((c) => ({ ...channel(c, g, 'fixed'), guild_id: undefined })),
      threads: THREADS_OF[g]!.slice(v).map((t) => ({ ...thread(t, g, CHANNELS_OF[g]![1]!), guild_id: undefined })),
      members: USERS.slice(v).map((u) => member(u, [], 'fixed')),
      presences: USERS.slice(v, v + 1).map((u) => ({ user: { id: u }, status: 'idle', activities: [], client_status: {} })),
      voice_states: USERS.slice(v, v + 1).map((u) => ({ user_id: u, channel_id: CHANNELS_OF[g]![1], session_id: 'fixed', deaf: false, mute: false, self_deaf: false, self_mute: false, self_video: false, suppress: false, request_to_speak_timestamp: null })),
    }),
  ),
  fc.record({ g: pick(GUILDS), u: fc.boolean() }).map(({ g, u }) => ev('GUILD_DELETE', u ? { id: g, unavailable: true } : { id: g })),
  fc.record({ g: pick(GUILDS), name: fc.string({ maxLength: 3 }) }).map(({ g, name }) => ev('GUILD_UPDATE', { id: g, name })),
  fc.record({ g: pick(GUILDS), u: pick(USERS) }).map(({ g, u }) => ev('GUILD_MEMBER_ADD', { ...member(u, [], null), guild_id: g })),
  fc.record({ g: pick(GUILDS), u: pick(USERS), r: fc.subarray(ROLES), nick: fc.option(fc.constantFrom('a', 'b')) }).map(({ g, u, r, nick }) =>
    ev('GUILD_MEMBER_UPDATE', { ...member(u, r, nick), guild_id: g }),
  ),
  fc.record({ g: pick(GUILDS), u: pick(USERS) }).map(({ g, u }) => ev('GUILD_MEMBER_REMOVE', { guild_id: g, user: user(u, 'x') })),
  fc.record({ g: pick(GUILDS), r: pick(ROLES), p: fc.constantFrom('0', '8') }).map(({ g, r, p }) =>
    ev('GUILD_ROLE_CREATE', { guild_id: g, role: { id: r, name: `r${p}`, permissions: p, position: 1 } }),
  ),
  fc.record({ g: pick(GUILDS), r: pick(ROLES) }).map(({ g, r }) => ev('GUILD_ROLE_DELETE', { guild_id: g, role_id: r })),
  fc.record({ g: pick(GUILDS), n: fc.nat(2) }).map(({ g, n }) => ev('GUILD_EMOJIS_UPDATE', { guild_id: g, emojis: Array.from({ length: n }, (_, i) => ({ id: String(60 + i), name: 'e' })) })),
  fc.record({ at: inGuild(CHANNELS_OF), name: fc.constantFrom('x', 'y') }).map(({ at: { g, c }, name }) => ev('CHANNEL_UPDATE', channel(c, g, name))),
  pick(CHANNELS).map((c) => ev('CHANNEL_DELETE', { id: c, type: 0 })),
  fc.record({ c: pick([...CHANNELS, ...THREADS]), ts: fc.constantFrom('2024-01-01T00:00:00+00:00', null) }).map(({ c, ts }) => ev('CHANNEL_PINS_UPDATE', { channel_id: c, last_pin_timestamp: ts })),
  fc.record({ at: inGuild(THREADS_OF), p: fc.nat(1) }).map(({ at: { g, c: t }, p }) => ev('THREAD_CREATE', thread(t, g, CHANNELS_OF[g]![p]!))),
  inGuild(THREADS_OF).map(({ g, c: t }) => ev('THREAD_DELETE', { id: t, guild_id: g, parent_id: CHANNELS_OF[g]![0], type: 11 })),
  fc.record({ g: pick(GUILDS), keep: fc.subarray([0, 1]), parents: fc.option(fc.subarray([0, 1])) }).map(({ g, keep, parents }) =>
    ev('THREAD_LIST_SYNC', {
      guild_id: g,
      ...(parents ? { channel_ids: parents.map((i) => CHANNELS_OF[g]![i]) } : {}),
      threads: keep.map((i) => thread(THREADS_OF[g]![i]!, g, CHANNELS_OF[g]![0]!)),
      members: [],
    }),
  ),
  fc.record({ m: pick(MESSAGES), at: fc.oneof(inGuild(CHANNELS_OF), inGuild(THREADS_OF)), u: pick(USERS), hook: fc.boolean(), text: fc.string({ maxLength: 3 }) }).map(
    ({ m, at: { g, c }, u, hook, text }) =>
      ev('MESSAGE_CREATE', {
        id: m,
        channel_id: c,
        guild_id: g,
        author: user(u, `a${text}`),
        ...(hook ? { webhook_id: '99' } : { member: { roles: [], joined_at: '2024-01-01T00:00:00+00:00', deaf: false, mute: false, flags: 0 } }),
        content: text,
        timestamp: '2024-01-01T00:00:00+00:00',
        edited_timestamp: null,
        tts: false,
        mention_everyone: false,
        mentions: [],
        attachments: [],
        embeds: [],
        pinned: false,
        type: 0,
      }),
  ),
  fc.record({ m: pick(MESSAGES), c: pick(CHANNELS), text: fc.option(fc.string({ maxLength: 3 })) }).map(({ m, c, text }) =>
    ev('MESSAGE_UPDATE', { id: m, channel_id: c, content: text, edited_timestamp: null }),
  ),
  pick(MESSAGES).map((m) => ev('MESSAGE_DELETE', { id: m, channel_id: CHANNELS[0] })),
  fc.record({ m: pick(MESSAGES), u: pick(USERS), add: fc.boolean(), burst: fc.boolean(), e: fc.constantFrom('a', 'b') }).map(({ m, u, add, burst, e }) =>
    ev(add ? 'MESSAGE_REACTION_ADD' : 'MESSAGE_REACTION_REMOVE', { message_id: m, channel_id: CHANNELS[0], user_id: u, burst, emoji: { id: null, name: e } }),
  ),
  pick(MESSAGES).map((m) => ev('MESSAGE_REACTION_REMOVE_ALL', { message_id: m, channel_id: CHANNELS[0] })),
  fc.record({ g: pick(GUILDS), u: pick(USERS), s: fc.constantFrom('online', 'idle', 'offline'), avatar: fc.option(fc.constantFrom('av1', 'av2')) }).map(({ g, u, s, avatar }) =>
    ev('PRESENCE_UPDATE', { guild_id: g, user: avatar === null ? { id: u } : { id: u, avatar }, status: s, activities: [], client_status: {} }),
  ),
  fc.record({ keep: fc.subarray(GUILDS), shard: fc.constantFrom(0, 1) }).map(({ keep, shard }) =>
    ev('READY', { user: user(USERS[0]!, 'bot'), guilds: keep.map((id) => ({ id, unavailable: true })), shard: [shard, 2] }),
  ),
);

describe('batching is invisible (PostgreSQL)', () => {
  let close: () => Promise<void>;
  let db: Database;
  let app: FastifyInstance;
  /**
   * The same service with the large-batch path forced (every write pipelined, two rows per statement), and
   * without skipping unchanged GUILD_CREATE parts: skipping them must be invisible.
   */
  let pipelined: FastifyInstance;

  beforeAll(async () => {
    const pg = await createPostgres();
    db = pg.db;
    close = pg.close;
    app = await makeApp(db, { messageLimit: 0 });
    pipelined = await makeApp(db, { messageLimit: 0, pipelineRows: 1, chunkRows: 2, skipUnchanged: false });
  });
  afterAll(async () => {
    await pipelined.close();
    await app.close();
    await close();
  });

  it('one per request = one array = concurrent chunks merged by group commit = pipelined chunked statements', { timeout: 240_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { maxLength: 15 }),
        fc.array(event, { minLength: 1, maxLength: 25 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 25, maxLength: 25 }),
        async (seed, events, cuts) => {
        // The seed is committed first, so the batches below start from rows that already exist.
        const reset = async () => {
          await truncateAll(db);
          if (seed.length > 0) expect((await dispatch(app, seed)).status).toBe(200);
        };
        await reset();
        for (const e of events) expect((await dispatch(app, e)).status).toBe(200);
        const oneByOne = await snapshot(db);

        await reset();
        expect((await dispatch(app, events)).status).toBe(200);
        expect(await snapshot(db)).toEqual(oneByOne);

        // Several requests in flight at once, queued in order: the writer merges them.
        await reset();
        const chunks: Change[][] = [];
        for (let i = 0, k = 0; i < events.length; k++) {
          const size = cuts[k % cuts.length]!;
          chunks.push(events.slice(i, i + size).flatMap((e, j) => mapDispatch(e, `body[${i + j}]`, { deleteOfflinePresences: false }).changes));
          i += size;
        }
        await Promise.all(chunks.map((c) => app.cache.writer.submit(c)));
        expect(await snapshot(db)).toEqual(oneByOne);

        // Large-batch path: statements sent back to back in one transaction, rows split across statements.
        await reset();
        expect((await dispatch(pipelined, events)).status).toBe(200);
        expect(await snapshot(db)).toEqual(oneByOne);
        },
      ),
      { numRuns: 120 },
    );
  });
});
