/**
 * Voice states, the ninth table, on PostgreSQL and PGlite: VOICE_STATE_UPDATE (join, move, leave),
 * GUILD_CREATE authoritative for a guild's voice states, the cascades that take them (GUILD_DELETE,
 * CHANNEL_DELETE, THREAD_DELETE), the routes, and the typed client's `voiceStates` group on a real port.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CacheClient, CacheError } from '../../src/client/index.js';
import type { Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { dispatch, ev, makeApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { del, get, put } from '../helpers/http.js';
import { truncateAll } from '../helpers/snapshot.js';
import { loadCapture } from '../unit/_helpers.js';

const G = '81384788765712384';
const G2 = '81384788765712399';
const U1 = '80351110224678912';
const U2 = '80351110224678913';
const U3 = '80351110224678914';
const C1 = '81384788765712385'; // voice
const C2 = '81384788765712386'; // voice
const C3 = '81384788765712387'; // text, parent of T1
const T1 = '81384788765712390';
const CX = '81384788765712395'; // a voice channel of G2

const user = (id: string) => ({ id, username: `user${id.slice(-3)}`, discriminator: '0', global_name: null, avatar: null });
const member = (id: string) => ({ user: user(id), roles: [], joined_at: '2024-02-27T19:50:51.701000+00:00', deaf: false, mute: false, flags: 0 });
/** A voice state as Discord sends it (without guild_id inside GUILD_CREATE). */
const state = (userId: string, channelId: string | null, extra: Record<string, unknown> = {}) => ({
  user_id: userId,
  channel_id: channelId,
  session_id: `session-${userId.slice(-3)}`,
  deaf: false,
  mute: false,
  self_deaf: false,
  self_mute: false,
  self_video: false,
  suppress: false,
  request_to_speak_timestamp: null,
  ...extra,
});
const voiceUpdate = (guildId: string, userId: string, channelId: string | null, extra: Record<string, unknown> = {}) =>
  ev('VOICE_STATE_UPDATE', { ...state(userId, channelId, extra), guild_id: guildId, member: member(userId) });
const voiceChannel = (id: string) => ({ id, type: 2, name: `voice-${id.slice(-3)}`, position: 0, permission_overwrites: [] });
const guildCreate = (id: string, channels: string[], extra: Record<string, unknown> = {}) =>
  ev('GUILD_CREATE', {
    id,
    name: 'Guild',
    owner_id: U1,
    roles: [],
    emojis: [],
    features: [],
    channels: channels.map(voiceChannel),
    threads: [],
    members: [],
    presences: [],
    ...extra,
  });
const thread = (id: string, parent: string) => ({ id, type: 11, guild_id: G, parent_id: parent, name: 'thread', owner_id: U1 });

describe.each(backends)('voice states on %s', (_name, open) => {
  let db: Database;
  let close: () => Promise<void>;
  let app: FastifyInstance;
  /** `guild:user → channel` of every cached voice state. */
  const where = async () =>
    Object.fromEntries(
      (await db.query<{ g: string; u: string; c: string | null }>(`SELECT guild_id::text AS g, user_id::text AS u, channel_id::text AS c FROM voice_states ORDER BY 1, 2`)).map(
        (r) => [`${r.g}:${r.u}`, r.c],
      ),
    );
  const ok = async (body: unknown) => expect((await dispatch(app, body)).status).toBe(200);

  beforeAll(async () => {
    ({ db, close } = await open());
    app = await makeApp(db);
  });
  afterAll(async () => {
    await app.close();
    await close();
  });
  beforeEach(async () => truncateAll(db));

  describe('VOICE_STATE_UPDATE', () => {
    it('join, move, leave: the row follows the user; the member and its user are cached from the state', async () => {
      await ok(voiceUpdate(G, U1, C1));
      const joined = await get(app, `/v1/guilds/${G}/voice-states/${U1}`);
      expect(joined).toEqual({
        status: 200,
        body: {
          guild_id: G,
          user_id: U1,
          channel_id: C1,
          session_id: 'session-912',
          deaf: false,
          mute: false,
          self_deaf: false,
          self_mute: false,
          self_video: false,
          suppress: false,
          request_to_speak_timestamp: null, // nullable in Discord's type: returned as null
        },
      });
      expect((await get(app, `/v1/guilds/${G}/members/${U1}`)).body).toMatchObject({ user: { id: U1, username: 'user912' } });

      await ok(voiceUpdate(G, U1, C2, { self_mute: true }));
      expect(await where()).toEqual({ [`${G}:${U1}`]: C2 });
      expect((await get(app, `/v1/guilds/${G}/voice-states/${U1}`)).body).toMatchObject({ channel_id: C2, self_mute: true });

      await ok(voiceUpdate(G, U1, null));
      expect(await where()).toEqual({});
      expect(await get(app, `/v1/guilds/${G}/voice-states/${U1}`)).toEqual({
        status: 404,
        body: expect.objectContaining({ code: 'NOT_CACHED', message: `voice state ${U1} is not cached` }),
      });
      expect((await get(app, `/v1/guilds/${G}/members/${U1}`)).status).toBe(200); // leaving voice is not leaving the guild
    });

    it('a user has one state per guild: being in voice in two guilds is two rows; leaving one keeps the other', async () => {
      await ok([voiceUpdate(G, U1, C1), voiceUpdate(G2, U1, CX)]);
      expect(await where()).toEqual({ [`${G}:${U1}`]: C1, [`${G2}:${U1}`]: CX });
      await ok(voiceUpdate(G2, U1, null));
      expect(await where()).toEqual({ [`${G}:${U1}`]: C1 });
    });

    it('join and leave in one request: nothing left; leave then join: the user is in voice', async () => {
      await ok([voiceUpdate(G, U1, C1), voiceUpdate(G, U1, C2), voiceUpdate(G, U1, null)]);
      expect(await where()).toEqual({});
      await ok([voiceUpdate(G, U2, C1), voiceUpdate(G, U2, null), voiceUpdate(G, U2, C2)]);
      expect(await where()).toEqual({ [`${G}:${U2}`]: C2 });
    });

    it('the recorded session: both users joined, one left; their members and users are cached', async () => {
      expect((await dispatch(app, loadCapture('voice_state_update'))).body).toEqual({ applied: 4, ignored: 0, duplicates: 0 });
      expect(await where()).toEqual({ '900000000000000034:900000000000000065': '900000000000000039' });
      expect((await get(app, '/v1/guilds/900000000000000008/members/900000000000000002')).body).toMatchObject({
        roles: ['900000000000000005'],
        user: { id: '900000000000000002', global_name: 'global_name_1' },
      });
      expect((await get(app, '/v1/users/900000000000000065')).body).toMatchObject({ avatar: '0000000000000000000000000000000b' });
    });

    it('a call in a DM (no guild_id) is applied as nothing', async () => {
      const { guild_id: _g, ...dm } = voiceUpdate(G, U1, C1).d as Record<string, unknown>;
      expect((await dispatch(app, ev('VOICE_STATE_UPDATE', dm))).body).toEqual({ applied: 1, ignored: 0, duplicates: 0 });
      expect(await where()).toEqual({});
    });

    it('a bad state is a 400 INVALID_EVENT naming the field, and nothing of the request is applied', async () => {
      const r = await dispatch(app, [voiceUpdate(G, U1, C1), voiceUpdate(G, U2, 'lobby')]);
      expect(r).toMatchObject({ status: 400, body: { code: 'INVALID_EVENT', index: 1, path: 'body[1].d.channel_id' } });
      expect(await where()).toEqual({});
    });
  });

  describe('GUILD_CREATE', () => {
    it("is authoritative for the guild's voice states: unlisted ones go, listed ones are written, other guilds are untouched", async () => {
      await ok([voiceUpdate(G, U1, C1, { self_stream: true }), voiceUpdate(G, U2, C2), voiceUpdate(G2, U3, CX)]);
      await ok(guildCreate(G, [C1, C2], { voice_states: [state(U1, C2, { self_deaf: true })] }));
      expect(await where()).toEqual({ [`${G}:${U1}`]: C2, [`${G2}:${U3}`]: CX });
      // a listed state is kept and merged like any upsert (not deleted and inserted again): what the list does
      // not carry (`self_stream`, sent only by some clients) stays
      expect((await get(app, `/v1/guilds/${G}/voice-states/${U1}`)).body).toMatchObject({ guild_id: G, self_deaf: true, self_stream: true });
    });

    it('without voice_states it keeps them; with an empty list it deletes every one of the guild', async () => {
      await ok([voiceUpdate(G, U1, C1), voiceUpdate(G2, U3, CX)]);
      await ok(guildCreate(G, [C1, C2]));
      expect(await where()).toEqual({ [`${G}:${U1}`]: C1, [`${G2}:${U3}`]: CX });
      await ok(guildCreate(G, [C1, C2], { voice_states: [] }));
      expect(await where()).toEqual({ [`${G2}:${U3}`]: CX });
    });

    it('a channel GUILD_CREATE no longer lists takes the voice states in it (with its own list absent)', async () => {
      await ok([guildCreate(G, [C1, C2]), voiceUpdate(G, U1, C1), voiceUpdate(G, U2, C2)]);
      await ok(guildCreate(G, [C2]));
      expect(await where()).toEqual({ [`${G}:${U2}`]: C2 });
    });

    it('the recorded GUILD_CREATEs: the one voice state of guild 34 is cached', async () => {
      await ok(loadCapture('guild_create'));
      expect(await where()).toEqual({ '900000000000000034:900000000000000065': '900000000000000039' });
    });
  });

  describe('cascades', () => {
    beforeEach(async () => {
      await ok([
        guildCreate(G, [C1, C2], { voice_states: [state(U1, C1), state(U2, C2)] }),
        ev('CHANNEL_CREATE', { id: C3, type: 0, guild_id: G, name: 'text', position: 1 }),
        ev('THREAD_CREATE', thread(T1, C3)),
        guildCreate(G2, [CX], { voice_states: [state(U3, CX)] }),
      ]);
    });

    it('GUILD_DELETE takes every voice state of the guild, not those of other guilds; an outage keeps them', async () => {
      await ok(ev('GUILD_DELETE', { id: G, unavailable: true }));
      expect(Object.keys(await where())).toHaveLength(3);
      await ok(ev('GUILD_DELETE', { id: G }));
      expect(await where()).toEqual({ [`${G2}:${U3}`]: CX });
    });

    it('CHANNEL_DELETE takes the voice states in that channel only (also when the channel itself is not cached)', async () => {
      await ok(ev('CHANNEL_DELETE', { id: C1, type: 2, guild_id: G }));
      expect(await where()).toEqual({ [`${G}:${U2}`]: C2, [`${G2}:${U3}`]: CX });
      await db.query(`DELETE FROM channels WHERE id = ${CX}`);
      await ok(ev('CHANNEL_DELETE', { id: CX, type: 2, guild_id: G2 }));
      expect(await where()).toEqual({ [`${G}:${U2}`]: C2 });
    });

    it("deleting a thread, or the thread's parent, leaves the voice states of other channels alone", async () => {
      await ok(ev('THREAD_DELETE', { id: T1, type: 11, guild_id: G, parent_id: C3 }));
      expect(Object.keys(await where())).toHaveLength(3);
      await ok(ev('THREAD_CREATE', thread(T1, C3)));
      await ok(ev('CHANNEL_DELETE', { id: C3, type: 0, guild_id: G }));
      expect(Object.keys(await where())).toHaveLength(3);
      expect((await get(app, `/v1/threads/${T1}`)).status).toBe(404);
    });

    it('DELETE of a guild or channel through the routes cascades the same way', async () => {
      expect((await del(app, `/v1/channels/${C2}`)).status).toBe(204);
      expect(await where()).toEqual({ [`${G}:${U1}`]: C1, [`${G2}:${U3}`]: CX });
      expect((await del(app, `/v1/guilds/${G2}`)).status).toBe(204);
      expect(await where()).toEqual({ [`${G}:${U1}`]: C1 });
    });
  });

  describe('routes', () => {
    const body = (channelId: string, extra: Record<string, unknown> = {}) => ({ ...state(U1, channelId), ...extra });

    it('PUT upserts (merging) and answers the stored state; GET reads it back; DELETE removes it (204, also when absent)', async () => {
      const created = await put(app, `/v1/guilds/${G}/voice-states/${U1}`, { channel_id: C1, session_id: 's' });
      expect(created).toEqual({ status: 200, body: { guild_id: G, user_id: U1, channel_id: C1, session_id: 's', request_to_speak_timestamp: null } });
      const merged = await put(app, `/v1/guilds/${G}/voice-states/${U1}`, { self_mute: true, guild_id: G, user_id: U1 });
      expect(merged.body).toMatchObject({ channel_id: C1, session_id: 's', self_mute: true });
      expect((await get(app, `/v1/guilds/${G}/voice-states/${U1}`)).body).toEqual(merged.body);
      expect((await del(app, `/v1/guilds/${G}/voice-states/${U1}`)).status).toBe(204);
      expect((await get(app, `/v1/guilds/${G}/voice-states/${U1}`)).status).toBe(404);
      expect((await del(app, `/v1/guilds/${G}/voice-states/${U1}`)).status).toBe(204);
    });

    it('PUT refuses channel_id null (400 INVALID_BODY: DELETE instead), a body contradicting the path, and bad values', async () => {
      await put(app, `/v1/guilds/${G}/voice-states/${U1}`, body(C1));
      const left = await put(app, `/v1/guilds/${G}/voice-states/${U1}`, body(C1, { channel_id: null }));
      expect(left).toMatchObject({ status: 400, body: { code: 'INVALID_BODY' } });
      expect(left.body.message).toContain('DELETE the voice state');
      expect((await get(app, `/v1/guilds/${G}/voice-states/${U1}`)).body).toMatchObject({ channel_id: C1 }); // unchanged
      expect(await put(app, `/v1/guilds/${G}/voice-states/${U1}`, body(C1, { user_id: U2 }))).toMatchObject({
        status: 400,
        body: { code: 'INVALID_BODY', message: `body.user_id (${U2}) differs from the path (${U1})` },
      });
      expect(await put(app, `/v1/guilds/${G}/voice-states/${U1}`, body(C1, { guild_id: G2 }))).toMatchObject({ status: 400, body: { code: 'INVALID_BODY' } });
      expect(await put(app, `/v1/guilds/${G}/voice-states/${U1}`, body(C1, { self_mute: 'yes' }))).toMatchObject({
        status: 400,
        body: { code: 'INVALID_BODY', path: 'body.self_mute' },
      });
      expect(await get(app, `/v1/guilds/${G}/voice-states/x1`)).toMatchObject({ status: 400, body: { code: 'INVALID_PARAM' } });
    });

    it("lists a guild's states by user id, paged with limit and after; a channel's states, paged the same way", async () => {
      await ok([
        voiceUpdate(G, U3, C1),
        voiceUpdate(G, U1, C1),
        voiceUpdate(G, U2, C2),
        voiceUpdate(G2, U1, CX),
      ]);
      const ids = (r: { body: { user_id: string }[] }) => r.body.map((s) => s.user_id);
      expect(ids(await get(app, `/v1/guilds/${G}/voice-states`))).toEqual([U1, U2, U3]);
      expect(ids(await get(app, `/v1/guilds/${G}/voice-states?limit=2`))).toEqual([U1, U2]);
      expect(ids(await get(app, `/v1/guilds/${G}/voice-states?limit=2&after=${U2}`))).toEqual([U3]);
      expect(ids(await get(app, `/v1/guilds/${G2}/voice-states`))).toEqual([U1]);
      expect((await get(app, `/v1/guilds/1/voice-states`)).body).toEqual([]);

      expect(ids(await get(app, `/v1/channels/${C1}/voice-states`))).toEqual([U1, U3]);
      expect(ids(await get(app, `/v1/channels/${C1}/voice-states?limit=1&after=${U1}`))).toEqual([U3]);
      expect(ids(await get(app, `/v1/channels/${C2}/voice-states`))).toEqual([U2]);
      expect((await get(app, `/v1/channels/${C2}/voice-states`)).body[0]).toMatchObject({ guild_id: G, channel_id: C2 });
      expect(await get(app, `/v1/channels/${C1}/voice-states?limit=0`)).toMatchObject({ status: 400, body: { code: 'INVALID_PARAM' } });
    });
  });

  describe('the typed client on a real port', () => {
    let url: string;
    let client: FastifyInstance;
    let cache: CacheClient;
    beforeAll(async () => {
      client = await makeApp(db);
      url = await client.listen({ port: 0, host: '127.0.0.1' });
      cache = new CacheClient({ url });
    });
    afterAll(async () => {
      await cache.close({ timeoutMs: 5_000 });
      await client.close();
    });

    it('voiceStates: put, get, list, inChannel, iterate, delete; a missing state is undefined; errors carry the code', async () => {
      expect(await cache.voiceStates.get(G, U1)).toBeUndefined();
      const stored = await cache.voiceStates.put(G, U1, { channel_id: C1, session_id: 's1', self_deaf: false });
      expect(stored).toMatchObject({ guild_id: G, user_id: U1, channel_id: C1, session_id: 's1', request_to_speak_timestamp: null });
      await cache.voiceStates.put(BigInt(G), BigInt(U2), { channel_id: C2 });
      await cache.voiceStates.put(G, U3, { channel_id: C1 });
      expect(await cache.voiceStates.get(BigInt(G), U1)).toEqual(stored);

      expect((await cache.voiceStates.list(G)).map((s) => s.user_id)).toEqual([U1, U2, U3]);
      expect((await cache.voiceStates.list(G, { limit: 1, after: U1 })).map((s) => s.user_id)).toEqual([U2]);
      expect((await cache.voiceStates.inChannel(C1)).map((s) => s.user_id)).toEqual([U1, U3]);
      expect((await cache.voiceStates.inChannel(C1, { limit: 1 })).map((s) => s.user_id)).toEqual([U1]);
      const all: string[] = [];
      for await (const s of cache.voiceStates.iterate(G, 2)) all.push(s.user_id);
      expect(all).toEqual([U1, U2, U3]);

      const err = await cache.voiceStates.put(G, U1, { channel_id: null }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CacheError);
      expect(err).toMatchObject({ statusCode: 400, code: 'INVALID_BODY' });

      await cache.voiceStates.delete(G, U1);
      expect(await cache.voiceStates.get(G, U1)).toBeUndefined();
      expect((await cache.voiceStates.inChannel(C1)).map((s) => s.user_id)).toEqual([U3]);
    });
  });
});
