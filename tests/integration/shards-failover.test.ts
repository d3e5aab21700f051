/**
 * Issue 11's end-to-end check, with real processes on one real PostgreSQL database: two writers on disjoint
 * shards (W1: 0-1, W2: 2-3 of 4) and a standby started for all four (S). A seeded random multi-shard session
 * goes through the typed client given the three URLs; W1 is SIGKILLed a third of the way in. Every dispatch
 * must be acknowledged (the client never gives up, and S takes W1's shards over), and the tables must equal
 * those of one unsharded instance given the same sequence, shard ledger included (each event applied once).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheClient, type DispatchPacket } from '../../src/client/index.js';
import type { Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { makeApp } from '../helpers/app.js';
import { createPostgres, type TestDatabase } from '../helpers/db.js';
import { startService, waitHealthy, type Service } from '../helpers/process.js';
import { shardTraffic } from '../helpers/shard-traffic.js';
import { snapshot } from '../helpers/snapshot.js';

const TOTAL = 4;

type Pg = { db: Database; test: TestDatabase; close(): Promise<void> };

async function shardsOf(url: string): Promise<{ shard_id: number; here: string | null; holder: { url: string } | null }[]> {
  const res = await fetch(`${url}/v1/shards`);
  return res.ok ? ((await res.json()) as never) : [];
}

const held = async (url: string) => (await shardsOf(url)).filter((s) => s.here === 'held').map((s) => s.shard_id);

async function ledger(db: Database) {
  return db.query<{ shard_id: number; session_id: string; last_sequence: string; events_applied: string }>(
    'SELECT shard_id, session_id, last_sequence, events_applied FROM shard_sessions ORDER BY shard_id',
  );
}

describe('two writers on disjoint shards and a standby, one writer SIGKILLed mid-stream', () => {
  let shared: Pg;
  let reference: Pg;
  let refApp: FastifyInstance;
  const services: Service[] = [];

  beforeAll(async () => {
    [shared, reference] = await Promise.all([createPostgres(), createPostgres()]);
    refApp = await makeApp(reference.db, { messageLimit: 0 });
  });
  afterAll(async () => {
    for (const s of services) await s.stop('SIGKILL').catch(() => {});
    await refApp?.close();
    await shared?.close();
    await reference?.close();
  });

  const start = async (shards: string | undefined) => {
    const service = await startService({
      DATABASE_URL: shared.test.url,
      TOTAL_SHARDS: String(TOTAL),
      ...(shards === undefined ? {} : { SHARDS: shards }),
      MESSAGE_LIMIT: '0',
    });
    services.push(service);
    expect(await waitHealthy(service), service.output()).toBe(true);
    return service;
  };

  it('every acknowledged dispatch is there, and the state equals one instance given the same sequence', { timeout: 240_000 }, async () => {
    // The writers first, so that the standby finds every shard held.
    const [w1, w2] = await Promise.all([start('0-1'), start('2-3')]);
    const s = await start(undefined);
    expect(await held(w1.url)).toEqual([0, 1]);
    expect(await held(w2.url)).toEqual([2, 3]);
    expect(await held(s.url)).toEqual([]);
    expect((await shardsOf(s.url)).map((x) => [x.shard_id, x.here, x.holder?.url])).toEqual([
      [0, 'standby', w1.url],
      [1, 'standby', w1.url],
      [2, 'standby', w2.url],
      [3, 'standby', w2.url],
    ]);

    const traffic = shardTraffic({ seed: 11, totalShards: TOTAL, guildsPerShard: 3, users: 40, events: 3_000 });
    const client = new CacheClient({ url: [w1.url, w2.url, s.url], retryDelayMs: 50, maxRetryDelayMs: 1_000, dispatch: { batchSize: 100 } });
    const acknowledged = new Set<number>();
    const failures: string[] = [];
    const sent: Promise<void>[] = [];
    let killedAt = 0;
    let firstAfterKill = 0;
    let takeover: Promise<number> | undefined;
    const killAt = Math.floor(traffic.forwards.length / 3);
    for (let i = 0; i < traffic.forwards.length; i++) {
      const f = traffic.forwards[i]!;
      const afterKill = killedAt > 0 && f.shardId <= 1;
      sent.push(
        client.dispatch(f as DispatchPacket).then(
          () => {
            acknowledged.add(i);
            if (afterKill && firstAfterKill === 0) firstAfterKill = Date.now();
          },
          (err: Error) => void failures.push(`${i}: ${err.message}`),
        ),
      );
      if (i === killAt) {
        w1.child.kill('SIGKILL');
        killedAt = Date.now();
        // The standby takes shards 0 and 1 over (polled from now on, beside the dispatches).
        takeover = (async () => {
          while ((await held(s.url)).join() !== '0,1') {
            if (Date.now() - killedAt > 30_000) throw new Error(`S did not take shards 0-1 over:\n${s.output()}`);
            await new Promise((r) => setTimeout(r, 20));
          }
          return Date.now();
        })();
      }
      if (i % 25 === 24) await new Promise((r) => setTimeout(r, 10));
    }

    const takenAt = await takeover!;
    await Promise.all(sent);
    await client.close();
    console.log(
      `failover: S held shards 0-1 ${takenAt - killedAt} ms after the SIGKILL (measured by polling every 20 ms); ` +
        `the first event of shard 0-1 dispatched after the SIGKILL was acknowledged after ${firstAfterKill - killedAt} ms; ` +
        `client: ${JSON.stringify(client.dispatchStats)}`,
    );
    expect(failures).toEqual([]);
    expect(acknowledged.size).toBe(traffic.forwards.length);
    expect(await held(w2.url)).toEqual([2, 3]);
    expect(client.dispatchStats.retries).toBeGreaterThan(0); // W1's batches were sent again elsewhere

    // Every acknowledged message is there.
    const messages = await shared.db.query<{ id: string }>('SELECT id::text FROM messages');
    const cached = new Set(messages.map((m) => m.id));
    expect(traffic.keptMessages.filter((id) => !cached.has(id))).toEqual([]);

    // One instance, the same sequence in order.
    for (let i = 0; i < traffic.forwards.length; i += 200) {
      const res = await refApp.inject({ method: 'POST', url: '/v1/dispatch', payload: traffic.forwards.slice(i, i + 200) });
      expect(res.statusCode, res.body).toBe(200);
    }
    const [got, want] = await Promise.all([snapshot(shared.db), snapshot(reference.db)]);
    for (const table of Object.keys(want)) expect(got[table], table).toEqual(want[table]);
    const events = traffic.lastSequence.map((last, shard) => ({ shard_id: shard, session_id: `session-${shard}`, last_sequence: String(last), events_applied: String(last) }));
    expect(await ledger(shared.db)).toEqual(events);
    expect(await ledger(reference.db)).toEqual(events);
  });
});
