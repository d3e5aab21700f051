/**
 * Exactly once for `{ payload, shardId }` forwards: a resent batch (its answer was lost) changes nothing,
 * counters included (reaction counts, member_count, a thread's message_count). On PostgreSQL and PGlite;
 * then through the typed client against a real service SIGKILLed right after it committed a batch.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CacheClient, type DispatchPacket } from '../../src/client/index.js';
import type { Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { dispatch, makeApp } from '../helpers/app.js';
import { createPglite, createPostgres, type TestDatabase } from '../helpers/db.js';
import { freePort, startService, waitHealthy, type Service } from '../helpers/process.js';
import { truncateAll } from '../helpers/snapshot.js';

const G = '81384788765712384';
const C = '81384788765712385';
const T = '81384788765712390';
const M = '81384788765712400';
const U = ['80351110224678912', '80351110224678913', '80351110224678914'];
const BOT = '900000000000000018';

const user = (id: string) => ({ id, username: `u${id.slice(-2)}`, discriminator: '0' });
const packet = (t: string, s: number, d: unknown) => ({ op: 0, t, s, d });
const forward = (t: string, s: number, d: unknown, shardId = 0) => ({ payload: packet(t, s, d), shardId });

/** A session of shard 0: READY, the guild, two joins, a thread, a message in it, three reactions. */
function session(sessionId = 'session-a') {
  return [
    forward('READY', 1, { v: 10, user: user(BOT), guilds: [{ id: G, unavailable: true }], session_id: sessionId, shard: [0, 1] }),
    forward('GUILD_CREATE', 2, { id: G, name: 'g', member_count: 10, roles: [], channels: [{ id: C, type: 0, name: 'c' }], threads: [], members: [] }),
    forward('GUILD_MEMBER_ADD', 3, { guild_id: G, user: user(U[0]!), roles: [], joined_at: '2024-01-01T00:00:00Z', deaf: false, mute: false }),
    forward('GUILD_MEMBER_ADD', 4, { guild_id: G, user: user(U[1]!), roles: [], joined_at: '2024-01-01T00:00:00Z', deaf: false, mute: false }),
    forward('THREAD_CREATE', 5, { id: T, type: 11, guild_id: G, parent_id: C, name: 't', message_count: 0, total_message_sent: 0 }),
    forward('MESSAGE_CREATE', 6, { id: M, channel_id: T, guild_id: G, author: user(U[0]!), content: 'hi' }),
    ...U.map((u, i) => forward('MESSAGE_REACTION_ADD', 7 + i, { message_id: M, channel_id: T, guild_id: G, user_id: u, emoji: { id: null, name: '👍' } })),
  ];
}

async function counters(db: Database) {
  const [row] = await db.query<{ member_count: number; message_count: number; reactions: unknown }>(
    `SELECT (SELECT member_count FROM guilds WHERE id = ${G}) AS member_count,
            (SELECT message_count FROM threads WHERE id = ${T}) AS message_count,
            (SELECT reactions FROM messages WHERE id = ${M}) AS reactions`,
  );
  const reactions = (row!.reactions ?? []) as { count: number }[];
  return { member_count: row!.member_count, message_count: row!.message_count, reactions: reactions[0]?.count ?? 0 };
}

const EXACT = { member_count: 12, message_count: 1, reactions: 3 };

describe.each([
  ['PostgreSQL', async () => createPostgres()],
  ['PGlite', async () => {
    const db = await createPglite();
    return { db, close: () => db.close() };
  }],
] as const)('exactly once for forwards (%s)', (_name, open) => {
  let db: Database;
  let close: () => Promise<void>;
  let app: FastifyInstance;
  beforeAll(async () => {
    ({ db, close } = await open());
    app = await makeApp(db);
  });
  afterAll(async () => {
    await app?.close();
    await close?.();
  });
  beforeEach(async () => {
    await truncateAll(db);
    await db.query('TRUNCATE shard_sessions');
    // A fresh app: the writer's shard states start from the (now empty) ledger.
    await app.close();
    app = await makeApp(db);
  });

  it('the same batch sent twice: applied once, counted as duplicates the second time', async () => {
    const batch = session();
    expect((await dispatch(app, batch)).body).toEqual({ applied: batch.length, ignored: 0, duplicates: 0 });
    expect(await counters(db)).toEqual(EXACT);
    expect((await dispatch(app, batch)).body).toEqual({ applied: 0, ignored: 0, duplicates: batch.length });
    expect(await counters(db)).toEqual(EXACT);
  });

  it('a resent batch that overlaps new events: only the new ones apply; events without s, bare payloads, GUILD_LOADED_DD always do', async () => {
    const batch = session();
    await dispatch(app, batch.slice(0, 8)); // up to the first reaction (s = 7)
    const extra = { payload: { op: 0, t: 'MESSAGE_REACTION_ADD', s: null, d: { message_id: M, channel_id: T, user_id: BOT, emoji: { id: null, name: 'x' } } }, shardId: 0 };
    // Discordeno's renamed GUILD_CREATE carries the s of the GUILD_CREATE it replaces: never a duplicate.
    const loaded = forward('GUILD_LOADED_DD', 2, { id: G, name: 'loaded' });
    const answer = await dispatch(app, [...batch.slice(5), extra, loaded, { op: 0, t: 'TYPING_START', s: 11, d: {} }]);
    // s 6, 7, 8 were applied before: duplicates; s 9, the reaction without s and GUILD_LOADED_DD apply.
    expect(answer.body).toEqual({ applied: 3, ignored: 1, duplicates: 3 });
    expect(await counters(db)).toEqual(EXACT);
  });

  it('READY starts a new session: its sequence numbers apply again; /v1/shards tells where each shard is', async () => {
    await dispatch(app, session('session-a'));
    const shards = (await app.inject({ method: 'GET', url: '/v1/shards' })).json();
    expect(shards).toEqual([
      {
        shard_id: 0,
        session_id: 'session-a',
        last_sequence: 9,
        last_event_at: expect.stringMatching(/^\d{4}-/),
        events_applied: 9,
        // Without TOTAL_SHARDS there are no leases (see leases.test.ts).
        total_shards: null,
        holder: null,
        standbys: [],
        here: null,
      },
    ]);
    const again = [
      forward('READY', 1, { v: 10, user: user(BOT), guilds: [{ id: G }], session_id: 'session-b', shard: [0, 1] }),
      forward('MESSAGE_REACTION_ADD', 2, { message_id: M, channel_id: T, user_id: BOT, emoji: { id: null, name: '👍' } }),
    ];
    expect((await dispatch(app, again)).body).toEqual({ applied: 2, ignored: 0, duplicates: 0 });
    expect((await counters(db)).reactions).toBe(4);
    const [after] = (await app.inject({ method: 'GET', url: '/v1/shards' })).json();
    expect(after).toMatchObject({ session_id: 'session-b', last_sequence: 2, events_applied: 11 });
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/dsc_events_total\{type="MESSAGE_REACTION_ADD",outcome="applied"\} \d+/);
  });

  it('the shard states survive a restart of the service (they are in the database)', async () => {
    const batch = session();
    await dispatch(app, batch);
    await app.close();
    app = await makeApp(db);
    expect((await dispatch(app, batch)).body).toMatchObject({ applied: 0, duplicates: batch.length });
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(new RegExp(`dsc_events_total\\{type="MESSAGE_REACTION_ADD",outcome="duplicate"\\} 3`));
    expect(await counters(db)).toEqual(EXACT);
  });

  it('forwards out of order (several requests in flight) all apply once; late ones are not taken for duplicates', async () => {
    const batch = session();
    // s 1, 2, 5, 3, 6, 8, 4, 9, 7 (reactions after their message, or they would find nothing to count)
    const shuffled = [batch[0]!, batch[1]!, batch[4]!, batch[2]!, batch[5]!, batch[7]!, batch[3]!, batch[8]!, batch[6]!];
    expect((await dispatch(app, shuffled.slice(0, 4))).body).toEqual({ applied: 4, ignored: 0, duplicates: 0 });
    expect((await dispatch(app, shuffled.slice(4))).body).toEqual({ applied: 5, ignored: 0, duplicates: 0 });
    expect(await counters(db)).toEqual(EXACT);
    expect((await dispatch(app, batch)).body).toEqual({ applied: 0, ignored: 0, duplicates: batch.length });
  });

  it('shards are independent', async () => {
    await dispatch(app, forward('USER_UPDATE', 5, user(U[0]!), 1));
    expect((await dispatch(app, forward('USER_UPDATE', 5, user(U[0]!), 2))).body).toMatchObject({ applied: 1, duplicates: 0 });
    expect((await dispatch(app, forward('USER_UPDATE', 5, user(U[0]!), 1))).body).toMatchObject({ applied: 0, duplicates: 1 });
  });
});

/** An HTTP proxy whose next answer from /v1/dispatch can be swallowed after SIGKILLing the service. */
class LossyProxy {
  private server: Server | undefined;
  target = 0;
  /** Called once the upstream answered the next dispatch: kill the service, drop the answer. */
  onNextAnswer: (() => void) | undefined;
  port = 0;

  async start() {
    this.server = createServer((req, res) => {
      const up = httpRequest({ host: '127.0.0.1', port: this.target, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        const hook = req.url === '/v1/dispatch' ? this.onNextAnswer : undefined;
        if (hook) {
          this.onNextAnswer = undefined;
          hook();
          res.socket?.destroy(); // the service committed; its answer never reaches the client
          answer.resume();
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => res.socket?.destroy());
      req.pipe(up);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop() {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('a batch committed, then the service SIGKILLed before answering: the client resends it', () => {
  let pg: { db: Database; test: TestDatabase; close(): Promise<void> };
  let service: Service;
  const proxy = new LossyProxy();
  beforeAll(async () => {
    pg = await createPostgres();
    await proxy.start();
  });
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await proxy.stop();
    await pg?.close();
  });

  const start = async (port: string) => {
    service = await startService({ DATABASE_URL: pg.test.url, PORT: port });
    expect(await waitHealthy(service)).toBe(true);
  };

  it('counters stay exact', { timeout: 120_000 }, async () => {
    const port = String(await freePort());
    proxy.target = Number(port);
    await start(port);
    const client = new CacheClient({ url: `http://127.0.0.1:${proxy.port}`, retryDelayMs: 50, maxRetryDelayMs: 200, dispatch: { batchSize: 100 } });
    let restarted: Promise<void> | undefined;
    proxy.onNextAnswer = () => {
      service.child.kill('SIGKILL');
      restarted = service.exited.then(() => start(port));
    };
    await Promise.all(session().map((p) => client.dispatch(p as DispatchPacket)));
    await restarted;
    expect(client.dispatchStats.retries).toBeGreaterThanOrEqual(1);
    expect(await counters(pg.db)).toEqual(EXACT);
    const [shard] = (await pg.db.query<{ last_sequence: string; events_applied: string }>('SELECT last_sequence, events_applied FROM shard_sessions'));
    expect({ last: Number(shard!.last_sequence), applied: Number(shard!.events_applied) }).toEqual({ last: 9, applied: 9 });
    await client.close();
  });
});
