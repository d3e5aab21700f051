/**
 * A transaction that deadlocks with another one (instances writing different shards share the `users` rows)
 * is run again by the writer, a few times, before its requests get a 503: here a real deadlock on PostgreSQL,
 * with the writer as the victim.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { ev, makeApp } from '../helpers/app.js';
import { createPostgres, type TestDatabase } from '../helpers/db.js';

describe('deadlocks', () => {
  let db: { db: Database; test: TestDatabase; close(): Promise<void> };
  let app: FastifyInstance;
  let other: pg.Client;

  beforeAll(async () => {
    db = await createPostgres();
    app = await makeApp(db.db);
    other = new pg.Client({ connectionString: db.test.url });
    await other.connect();
  });
  afterAll(async () => {
    await other?.end();
    await app?.close();
    await db?.close();
  });

  it('a transaction chosen as the victim of a deadlock is run again and commits', async () => {
    const users = (name: string) => ['100', '200'].map((id) => ev('USER_UPDATE', { id, username: `${name}${id}`, discriminator: '0' }));
    await app.inject({ method: 'POST', url: '/v1/dispatch', payload: users('before') });

    // Another transaction holds user 200; the writer will lock 100, then wait for 200.
    await other.query(`SET deadlock_timeout = '30s'`); // so that the writer (1 s) is the one that detects the cycle
    await other.query('BEGIN');
    await other.query(`UPDATE users SET username = 'other' WHERE id = 200`);
    const answer = app.inject({ method: 'POST', url: '/v1/dispatch', payload: users('writer') });
    const waiting = async () =>
      (await db.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))[0]!.n;
    for (let i = 0; (await waiting()) === 0; i++) {
      if (i > 400) throw new Error('the writer never waited for the lock');
      await new Promise((r) => setTimeout(r, 10));
    }
    // Now the other transaction wants 100, which the writer holds: a cycle. The writer's deadlock check comes
    // first and cancels its own transaction; the other one gets 100 (it would throw if it were the victim).
    await other.query(`UPDATE users SET username = 'other' WHERE id = 100`);
    await other.query('COMMIT');

    const res = await answer;
    expect(res.statusCode).toBe(200);
    const rows = await db.db.query<{ username: string }>('SELECT username FROM users ORDER BY id');
    expect(rows.map((r) => r.username)).toEqual(['writer100', 'writer200']);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/^dsc_write_conflict_retries_total [1-9]/m);
  });
});
