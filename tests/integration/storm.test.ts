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
