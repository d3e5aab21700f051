/**
 * A startup storm: GUILD_CREATEs' authoritative lists (channels, threads, voice states) of a whole batch are
 * retained with one statement per table, not three per guild, and the result is what applying the events
 * one by one gives, also when other events of the same guilds come between them (cache/retains.ts).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { dispatch, ev, makeApp } from '../helpers/app.js';
import { createPglite, createPostgres } from '../helpers/db.js';
import { snapshot, truncateAll } from '../helpers/snapshot.js';

const guildId = (i: number) => String(81384788765712384n + BigInt(i) * 4194304n);
const channel = (g: string, c: string) => ({ id: c, type: 0, name: `c${c.slice(-3)}`, guild_id: g, permission_overwrites: [] });
const voice = (u: string, c: string) => ({ user_id: u, channel_id: c, session_id: 's', deaf: false, mute: false, self_deaf: false, self_mute: false, self_video: false, suppress: false, request_to_speak_timestamp: null });

function guildCreate(i: number, channels: string[], threads: [string, string][] = [], voices: [string, string][] = []) {
  const g = guildId(i);
  return ev('GUILD_CREATE', {
    id: g,
    name: `g${i}`,
    channels: channels.map((c) => ({ ...channel(g, c), guild_id: undefined })),
    threads: threads.map(([t, parent]) => ({ id: t, type: 11, name: 't', parent_id: parent })),
    voice_states: voices.map(([u, c]) => voice(u, c)),
    members: [],
  });
}

describe.each([
  ['PostgreSQL', async () => createPostgres()],
  ['PGlite', async () => {
    const db = await createPglite();
    return { db, close: () => db.close() };
  }],
] as const)('startup storm (%s)', (_name, open) => {
  let db: Database;
  let close: () => Promise<void>;
  let app: FastifyInstance;
  beforeAll(async () => {
    ({ db, close } = await open());
    app = await makeApp(db, { messageLimit: 0 });
    app.cache.metrics.statements.reset();
  });
  afterAll(async () => {
    await app?.close();
    await close?.();
  });
  beforeEach(async () => {
    await truncateAll(db);

  });

  const statementsOf = async (body: unknown) => {
    const before = Number((await app.cache.metrics.statements.get()).values[0]?.value ?? 0);
    expect((await dispatch(app, body)).status).toBe(200);
    return Number((await app.cache.metrics.statements.get()).values[0]?.value ?? 0) - before;
  };

  it('50 GUILD_CREATEs in one request: a handful of statements, and each guild holds exactly what it listed', async () => {
    // Cached first: channels and voice states each guild's GUILD_CREATE will not list.
    const stale = Array.from({ length: 50 }, (_, i) => ev('CHANNEL_CREATE', channel(guildId(i), String(900_000 + i))));
    await dispatch(app, stale);
    const storm = Array.from({ length: 50 }, (_, i) =>
      guildCreate(i, [String(100_000 + i * 10), String(100_000 + i * 10 + 1)], [[String(200_000 + i), String(100_000 + i * 10)]], [[String(300_000 + i), String(100_000 + i * 10)]]),
    );
    const n = await statementsOf(storm);
    expect(n).toBeLessThan(12); // one per table for the rows, three retains; not 150 retains
    const snap = await snapshot(db);
    expect(snap.channels).toHaveLength(100);
    expect(snap.channels!.some((c) => Number(c.id) >= 900_000)).toBe(false);
    expect(snap.threads).toHaveLength(50);
    expect(snap.voice_states).toHaveLength(50);
  });

  /** The same events one request each, then all in one request: the same state. */
  async function sameAsOneByOne(events: unknown[]) {
    for (const e of events) expect((await dispatch(app, e)).status).toBe(200);
    const oneByOne = await snapshot(db);
    await truncateAll(db);
    expect((await dispatch(app, events)).status).toBe(200);
    expect(await snapshot(db)).toEqual(oneByOne);
    return oneByOne;
  }

  it("a channel created after its guild's GUILD_CREATE in the same batch stays (it came after the retain)", async () => {
    const g = guildId(1);
    const snap = await sameAsOneByOne([guildCreate(1, ['111']), guildCreate(2, ['222']), ev('CHANNEL_CREATE', channel(g, '112'))]);
    expect(snap.channels!.map((c) => c.id).sort()).toEqual(['111', '112', '222']);
  });

  it('a channel created before it in the same batch goes (the retain came after it)', async () => {
    const snap = await sameAsOneByOne([ev('CHANNEL_CREATE', channel(guildId(1), '112')), guildCreate(1, ['111'])]);
    expect(snap.channels!.map((c) => c.id)).toEqual(['111']);
  });

  it('threads, voice states and messages of channels the GUILD_CREATE does not list, before and after it', async () => {
    const g = guildId(1);
    const snap = await sameAsOneByOne([
      ev('CHANNEL_CREATE', channel(g, '112')),
      ev('THREAD_CREATE', { id: '301', type: 11, guild_id: g, parent_id: '112', name: 'before' }),
      ev('VOICE_STATE_UPDATE', { guild_id: g, ...voice('401', '112') }),
      ev('MESSAGE_CREATE', { id: '501', channel_id: '112', guild_id: g, content: 'before' }),
      guildCreate(1, ['111'], [['302', '111']], [['402', '111']]),
      ev('THREAD_CREATE', { id: '303', type: 11, guild_id: g, parent_id: '112', name: 'after' }),
      ev('VOICE_STATE_UPDATE', { guild_id: g, ...voice('403', '112') }),
      ev('MESSAGE_CREATE', { id: '502', channel_id: '112', guild_id: g, content: 'after' }),
    ]);
    expect(snap.threads!.map((t) => t.id).sort()).toEqual(['302', '303']);
    expect(snap.voice_states!.map((v) => v.user_id).sort()).toEqual(['402', '403']);
    expect(snap.messages!.map((m) => m.id)).toEqual(['502']);
  });

  it('the same guild twice in one batch: the second list decides', async () => {
    const snap = await sameAsOneByOne([guildCreate(1, ['111', '112']), guildCreate(1, ['112', '113'])]);
    expect(snap.channels!.map((c) => c.id).sort()).toEqual(['112', '113']);
  });
});

describe.each([
  ['PostgreSQL', async () => createPostgres()],
  ['PGlite', async () => {
    const db = await createPglite();
    return { db, close: () => db.close() };
  }],
] as const)('a reconnect storm: unchanged GUILD_CREATE parts are not written again (%s)', (_name, open) => {
  let db: Database;
  let close: () => Promise<void>;
  let app: FastifyInstance;
  beforeAll(async () => {
    ({ db, close } = await open());
    app = await makeApp(db, { messageLimit: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await close?.();
  });
  beforeEach(async () => truncateAll(db));

  const G = guildId(7);
  const U = ['700001', '700002'];
  const full = () =>
    ev('GUILD_CREATE', {
      id: G,
      name: 'g',
      member_count: 2,
      roles: [{ id: G, name: '@everyone', permissions: '0', position: 0 }],
      channels: [{ ...channel(G, '7101'), guild_id: undefined }, { ...channel(G, '7102'), guild_id: undefined }],
      threads: [{ id: '7201', type: 11, name: 't', parent_id: '7101' }],
      voice_states: [voice(U[0]!, '7102')],
      members: U.map((u) => ({ user: { id: u, username: `u${u}` }, roles: [], nick: 'n', joined_at: '2024-01-01T00:00:00Z', deaf: false, mute: false })),
      presences: [{ user: { id: U[0] }, status: 'online', activities: [], client_status: {} }],
    });
  const rowsWritten = () => Number(app.cache.metrics.totals.transactions);

  it('the same GUILD_CREATE again writes only its users (shared by every guild), nothing of its parts', async () => {
    expect((await dispatch(app, full())).status).toBe(200);
    const before = await snapshot(db);
    const statements = async () => Number((await app.cache.metrics.statements.get()).values[0]?.value ?? 0);
    const [transactions, sent] = [rowsWritten(), await statements()];
    expect((await dispatch(app, [full(), full()])).status).toBe(200);
    expect(rowsWritten()).toBe(transactions + 1);
    // The stored digests read, then one statement: the users. Written in full, the guild is 9 statements.
    expect((await statements()) - sent).toBeLessThanOrEqual(2);
    expect(await snapshot(db)).toEqual(before);
  });

  it.each([
    ['a channel renamed', ev('CHANNEL_UPDATE', channel(G, '7101'))],
    ['a channel deleted', ev('CHANNEL_DELETE', { id: '7102', type: 0, guild_id: G })],
    ['a thread deleted', ev('THREAD_DELETE', { id: '7201', guild_id: G, parent_id: '7101', type: 11 })],
    ['a member left', ev('GUILD_MEMBER_REMOVE', { guild_id: G, user: { id: U[1] } })],
    ['a presence changed', ev('PRESENCE_UPDATE', { guild_id: G, user: { id: U[0] }, status: 'dnd', activities: [], client_status: {} })],
    ['a voice state left', ev('VOICE_STATE_UPDATE', { guild_id: G, ...voice(U[0]!, '7102'), channel_id: null })],
    ['a role created', ev('GUILD_ROLE_CREATE', { guild_id: G, role: { id: '7301', name: 'r', permissions: '8', position: 1 } })],
    ['a message posted (last_message_id)', ev('MESSAGE_CREATE', { id: '7401', channel_id: '7101', guild_id: G, content: 'x' })],
    ['the guild deleted', ev('GUILD_DELETE', { id: G })],
    ['the guild marked unavailable', ev('GUILD_DELETE', { id: G, unavailable: true })],
    ['a channel PUT without its guild', { put: ['/v1/channels/7101', { name: 'renamed' }] }],
  ])('after %s, the same GUILD_CREATE again ends as writing it in full would (one request or several)', async (_label, between) => {
    const apply = async (target: FastifyInstance, body: unknown) => {
      if (typeof body === 'object' && body !== null && 'put' in body) {
        const [url, payload] = (body as { put: [string, object] }).put;
        expect((await target.inject({ method: 'PUT', url, payload })).statusCode).toBe(200);
      } else expect((await dispatch(target, body)).status).toBe(200);
    };
    const put = typeof between === 'object' && between !== null && 'put' in between;
    const run = async (target: FastifyInstance, together: boolean) => {
      await truncateAll(db);
      await apply(target, full());
      if (together && !put) await apply(target, [between, full()]);
      else {
        await apply(target, between);
        await apply(target, full());
      }
      return snapshot(db);
    };
    // The oracle: the same service writing every part every time.
    const plain = await makeApp(db, { messageLimit: 0, skipUnchanged: false });
    try {
      for (const together of [false, true]) expect(await run(app, together)).toEqual(await run(plain, together));
    } finally {
      await plain.close();
    }
  });

  it('a cache emptied behind the service (guild_snapshots kept) is written in full', async () => {
    await dispatch(app, full());
    const expected = await snapshot(db);
    await db.query(`TRUNCATE ${['guilds', 'channels', 'threads', 'members', 'presences', 'voice_states', 'users'].join(', ')}`);
    await dispatch(app, full());
    expect(await snapshot(db)).toEqual(expected);
  });

  it('the digests are in the database: another instance (or a restart) skips what this one wrote', async () => {
    await dispatch(app, full());
    const other = await makeApp(db, { messageLimit: 0 });
    try {
      const before = Number((await other.cache.metrics.statements.get()).values[0]?.value ?? 0);
      expect((await dispatch(other, full())).status).toBe(200);
      // Reading the stored digests, and the users (shared by every guild: written every time); no part.
      expect(Number((await other.cache.metrics.statements.get()).values[0]?.value ?? 0) - before).toBeLessThanOrEqual(2);
    } finally {
      await other.close();
    }
  });
});
