/**
 * The recorded captures (tests/fixtures/discord-captures) round-tripped through POST /v1/dispatch and the
 * GET routes, on PostgreSQL and PGlite: every property a capture sends that the cache stores (a column of the
 * object's table) comes back as sent, the last value sent winning (objects sent several times merge).
 *
 * `null` follows Discord's types (`nullable` in src/db/tables.ts): a property that is present and nullable
 * (`T | null`: a message's `edited_timestamp`, a voice state's `channel_id`, a guild's `icon`) comes back as
 * `null`; an optional one (`T?`: a member's `nick`, a thread's `last_message_id`) sent as `null` is left out.
 *
 * What else differs from what was sent, exactly:
 * - timestamps are the same instant in PostgreSQL's format: `2026-02-08T18:34:51.331000+00:00` comes back as
 *   `2026-02-08T18:34:51.331+00:00` (trailing zeros of the fraction dropped; UTC, `+00:00`);
 * - JSON values (roles, embeds, `author`, `primary_guild`, …) come back equal with jsonb's key order;
 * - properties that are not columns are not stored, so not returned (`version`, `_trace`, a voice state's
 *   `discoverable`, a message's `channel_type` and `nonce`; a message's `member` and a voice state's `member`
 *   are stored as the member instead, checked here through the member's route);
 * - the cache adds what identifies an object where the capture leaves it implicit: `guild_id` on the channels,
 *   threads and voice states of a GUILD_CREATE, `unavailable: true` on unavailable guilds, and a member's
 *   `user` (the cached user).
 */
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.js';
import { TABLES, type TableName } from '../../src/db/tables.js';
import { specs } from '../../src/discord/columns.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { dispatch, makeApp } from '../helpers/app.js';
import { backends } from '../helpers/db.js';
import { get } from '../helpers/http.js';
import { truncateAll } from '../helpers/snapshot.js';
import { loadCapture, type GatewayPayload } from '../unit/_helpers.js';

type Obj = Record<string, any>;

/** One object an event writes: its table, the route that reads it back, what was sent, the keys the cache adds. */
interface Sent {
  table: TableName;
  url: string;
  sent: Obj;
  added?: string[];
  deleted?: boolean;
  /** Merged into the object only when it exists (an update, not an upsert). */
  update?: boolean;
}

/** The objects each recorded event writes, in the order its mapper writes them. */
function written(e: GatewayPayload): Sent[] {
  const d = e.d as Obj;
  const user = (u: Obj): Sent => ({ table: 'users', url: `/v1/users/${u.id}`, sent: u });
  const member = (guildId: string, userId: string, m: Obj): Sent => ({ table: 'members', url: `/v1/guilds/${guildId}/members/${userId}`, sent: m, added: ['user'] });
  switch (e.t) {
    case 'GUILD_CREATE':
      return [
        { table: 'guilds', url: `/v1/guilds/${d.id}`, sent: d },
        ...d.channels.map((c: Obj): Sent => ({ table: 'channels', url: `/v1/channels/${c.id}`, sent: c, added: ['guild_id'] })),
        ...d.threads.map((t: Obj): Sent => ({ table: 'threads', url: `/v1/threads/${t.id}`, sent: t, added: ['guild_id'] })),
        ...d.voice_states.map((v: Obj): Sent => ({ table: 'voice_states', url: `/v1/guilds/${d.id}/voice-states/${v.user_id}`, sent: v, added: ['guild_id'] })),
        ...d.members.flatMap((m: Obj) => [user(m.user), member(d.id, m.user.id, m)]),
      ];
    case 'GUILD_MEMBER_UPDATE':
      return [user(d.user), member(d.guild_id, d.user.id, d)];
    case 'MESSAGE_CREATE':
    case 'MESSAGE_UPDATE': {
      const message: Sent[] = [
        user(d.author),
        member(d.guild_id, d.author.id, d.member),
        ...d.mentions.map(user),
        { table: 'messages', url: `/v1/channels/${d.channel_id}/messages/${d.id}`, sent: d },
      ];
      if (e.t === 'MESSAGE_UPDATE') return message;
      // a new message moves its channel's (or thread's) last_message_id
      const last = { last_message_id: d.id };
      return [
        ...message,
        { table: 'channels', url: `/v1/channels/${d.channel_id}`, sent: last, update: true },
        { table: 'threads', url: `/v1/threads/${d.channel_id}`, sent: last, update: true },
      ];
    }
    case 'THREAD_CREATE':
      return [{ table: 'threads', url: `/v1/threads/${d.id}`, sent: d }];
    case 'VOICE_STATE_UPDATE':
      return [
        user(d.member.user),
        member(d.guild_id, d.user_id, d.member),
        { table: 'voice_states', url: `/v1/guilds/${d.guild_id}/voice-states/${d.user_id}`, sent: d, deleted: d.channel_id === null },
      ];
    case 'READY':
      return [
        user(d.user),
        ...d.guilds.map((g: Obj): Sent => ({ table: 'unavailable_guilds', url: `/v1/unavailable-guilds/${g.id}`, sent: g })),
      ];
    default:
      throw new Error(`no round trip for ${e.t}`);
  }
}

/** Per route: the table, the properties sent merged in order (later wins), keys added, deleted last. */
function expectedObjects(captures: string[]) {
  const out = new Map<string, { table: TableName; merged: Obj; sentKeys: Set<string>; added: Set<string>; deleted: boolean }>();
  for (const name of captures) {
    for (const e of loadCapture(name)) {
      for (const w of written(e)) {
        let o = out.get(w.url);
        if (w.update && (!o || o.deleted)) continue;
        if (!o) out.set(w.url, (o = { table: w.table, merged: {}, sentKeys: new Set(), added: new Set(), deleted: false }));
        if (w.deleted) {
          o.deleted = true;
          continue;
        }
        if (o.deleted) o.merged = {}; // inserted again after a delete
        o.deleted = false;
        Object.assign(o.merged, w.sent);
        for (const k of Object.keys(w.sent)) o.sentKeys.add(k);
        for (const k of w.added ?? []) o.added.add(k);
      }
    }
  }
  return out;
}

const CAPTURES = ['guild_create', 'guild_member_update', 'message_create', 'message_update', 'thread_create', 'voice_state_update', 'ready'];

describe.each(backends)('recorded captures round-trip on %s', (_name, open) => {
  let db: Database;
  let close: () => Promise<void>;
  let app: FastifyInstance;
  /** `route property` → what came back, for the explicit checks below. */
  const returned = new Map<string, Obj>();
  const compared = { nullableNull: 0, optionalNull: 0, values: 0 };
  const mismatches: string[] = [];

  beforeAll(async () => {
    ({ db, close } = await open());
    app = await makeApp(db, { messageLimit: 0 });
    await truncateAll(db);
    for (const name of CAPTURES) expect((await dispatch(app, loadCapture(name))).status, name).toBe(200);
    for (const [url, o] of expectedObjects(CAPTURES)) {
      const r = await get(app, url);
      if (o.deleted) {
        expect(r.status, url).toBe(404);
        continue;
      }
      expect(r.status, url).toBe(200);
      returned.set(url, r.body);
      const d = TABLES[o.table];
      const skip = new Set<string>([...d.hidden, ...d.derived]);
      const nullable = new Set<string>(d.nullable);
      for (const [key, sent] of Object.entries(o.merged)) {
        const col = specs[o.table].byName.get(key);
        if (!col || skip.has(key)) continue; // not stored as this property
        const got = r.body[key];
        const where = `${url} .${key}: sent ${JSON.stringify(sent)}, got ${JSON.stringify(got)}`;
        if (sent === null) {
          if (nullable.has(key)) {
            compared.nullableNull++;
            if (!(key in r.body) || got !== null) mismatches.push(`${where} (nullable: null expected)`);
          } else {
            compared.optionalNull++;
            if (key in r.body) mismatches.push(`${where} (optional: left out expected)`);
          }
        } else if (col.kind === 'time') {
          compared.values++;
          if (Date.parse(got) !== Date.parse(sent) || !/\+00:00$/.test(got)) mismatches.push(where);
        } else {
          compared.values++;
          if (!isDeepStrictEqual(got, sent)) mismatches.push(where);
        }
      }
      // nothing comes back that was not sent, but for what the cache adds
      for (const key of Object.keys(r.body)) {
        if (!o.sentKeys.has(key) && !o.added.has(key) && !(o.table === 'unavailable_guilds' && key === 'unavailable')) {
          mismatches.push(`${url} .${key}: returned, never sent`);
        }
      }
    }
  });
  afterAll(async () => {
    await app.close();
    await close();
  });

  it('every stored property comes back as sent (nullable nulls as null, optional nulls left out)', () => {
    expect(mismatches).toEqual([]);
    // the captures do exercise each rule
    expect(compared.values).toBeGreaterThan(300);
    expect(compared.nullableNull).toBeGreaterThan(10);
    expect(compared.optionalNull).toBeGreaterThan(10);
  });

  it('examples: nullable properties sent as null are null', () => {
    expect(returned.get('/v1/channels/900000000000000004/messages/900000000000000088')).toHaveProperty('edited_timestamp', null);
    expect(returned.get('/v1/guilds/900000000000000034/voice-states/900000000000000065')).toHaveProperty('request_to_speak_timestamp', null);
    const guild = returned.get('/v1/guilds/900000000000000008')!;
    expect(guild).toMatchObject({ banner: null, description: null, vanity_url_code: null });
  });

  it('examples: optional properties sent as null are left out', () => {
    const member = returned.get('/v1/guilds/900000000000000008/members/900000000000000002')!;
    expect(member).toBeDefined();
    for (const key of ['avatar', 'banner', 'premium_since', 'communication_disabled_until']) expect(member, key).not.toHaveProperty(key);
    expect(returned.get('/v1/threads/900000000000000088')).not.toHaveProperty('last_message_id');
    expect(returned.get('/v1/users/900000000000000065')).not.toHaveProperty('avatar_decoration_data');
  });

  it('examples: a timestamp is the same instant in PostgreSQL\'s format', () => {
    expect(returned.get('/v1/guilds/900000000000000008/members/900000000000000002')).toHaveProperty('joined_at', '2024-02-27T19:50:51.701+00:00');
  });
});
