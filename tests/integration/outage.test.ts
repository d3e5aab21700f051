/** A database outage answers 503 + Retry-After (never 500), and the service recovers by itself. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { ev, makeApp } from '../helpers/app.js';
import { createEmptyDatabase, type TestDatabase } from '../helpers/db.js';
import { OutageProxy } from '../helpers/proxy.js';

describe('database outage', () => {
  let test: TestDatabase;
  let db: Database;
  let app: FastifyInstance;
  const proxy = new OutageProxy();

  beforeAll(async () => {
    test = await createEmptyDatabase();
    await proxy.start();
    const url = new URL(test.url);
    url.host = `127.0.0.1:${proxy.port}`;
    db = await openPostgres({ url: url.toString(), migrate: true });
    app = await makeApp(db);
  });
  afterAll(async () => {
    await app.close();
    await db.close();
    await proxy.cut();
    await test.drop();
  });

  const user = { op: 0, t: 'USER_UPDATE', s: 1, d: { id: '42', username: 'before', discriminator: '0' } };

  it('answers 503 with Retry-After while the database is unreachable, then recovers', async () => {
    expect((await app.inject({ method: 'POST', url: '/v1/dispatch', payload: user })).statusCode).toBe(200);

    await proxy.cut();
    const write = await app.inject({ method: 'POST', url: '/v1/dispatch', payload: ev('USER_UPDATE', { id: '43', username: 'lost?' }) });
    expect(write.statusCode).toBe(503);
    expect(write.headers['retry-after']).toMatch(/^\d+$/);
    expect(write.json()).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    expect(app.cache.metrics.totals.unavailable).toBe(1);
    const read = await app.inject({ method: 'GET', url: '/v1/users/42' });
    expect(read.statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);

    await proxy.start(); // same port
    const retried = await app.inject({ method: 'POST', url: '/v1/dispatch', payload: ev('USER_UPDATE', { id: '43', username: 'kept' }) });
    expect(retried.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/users/43' })).json()).toMatchObject({ username: 'kept' });
    expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
  });

  /** Counts rows after the proxy came back (the pool may first hand out a connection the cut closed). */
  const storedBetween = async (from: number, to: number): Promise<number> => {
    for (let attempt = 0; ; attempt++) {
      try {
        const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE id BETWEEN $1 AND $2', [from, to]);
        return rows[0]!.n;
      } catch (err) {
        if (attempt >= 5) throw err;
      }
    }
  };

  it('an outage in the middle of a pipelined request: 503 and nothing of it (or all, when the cut hit the COMMIT), 200 and all of it', { timeout: 60_000 }, async () => {
    // Forty statements of 100 rows, sent back to back in one transaction; the connection is cut under them.
    const pipelined = await makeApp(db, { pipelineRows: 1, chunkRows: 100 });
    try {
      let cutMidway = false;
      for (let attempt = 0; attempt < 12; attempt++) {
        const base = 1_000_000 * (attempt + 1);
        const users = Array.from({ length: 4_000 }, (_, i) => ev('USER_UPDATE', { id: String(base + i), username: `u${i}` }));
        const sent = pipelined.inject({ method: 'POST', url: '/v1/dispatch', payload: users });
        await new Promise((r) => setTimeout(r, 2 + attempt * 4));
        await proxy.cut();
        const res = await sent;
        expect([200, 503]).toContain(res.statusCode);
        await proxy.start();
        // Never a part. A cut while the COMMIT is on its way leaves its outcome unknown to the service: it
        // answers 503 and the client sends the batch again (delivery is at least once).
        const stored = await storedBetween(base, base + 3_999);
        if (res.statusCode === 200) expect(stored).toBe(4_000);
        else expect([0, 4_000]).toContain(stored);
        if (res.statusCode === 503 && stored === 0) cutMidway = true;
      }
      expect(cutMidway).toBe(true); // the cut did land between the statements of a request at least once
    } finally {
      await pipelined.close();
    }
  });
});
