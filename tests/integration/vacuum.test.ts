/**
 * Churning tables get vacuumed: the migration sets early autovacuum on messages and presences, and where no
 * autovacuum runs (a server with `autovacuum = off`, as on the project's machines, or the embedded PGlite)
 * the service vacuums them itself while writes happen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vacuum } from '../../src/cache/vacuum.js';
import type { Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { dispatch, ev, makeApp } from '../helpers/app.js';
import { createPglite, createPostgres } from '../helpers/db.js';

const C = '81384788765712385';

describe.each([
  ['PostgreSQL', async () => createPostgres()],
  ['PGlite', async () => {
    const db = await createPglite();
    return { db, close: () => db.close() };
  }],
] as const)('vacuum (%s)', (name, open) => {
  let db: Database;
  let close: () => Promise<void>;
  let app: FastifyInstance;
  let selfVacuum: boolean;
  beforeAll(async () => {
    ({ db, close } = await open());
    selfVacuum = !(await Vacuum.autovacuumRuns(db));
    app = await makeApp(db, { vacuumIntervalMs: 100, messageLimit: 4 });
  });
  afterAll(async () => {
    await app?.close();
    await close?.();
  });

  it('the migration gives messages and presences early autovacuum settings', async () => {
    const rows = await db.query<{ relname: string; reloptions: string[] }>(
      `SELECT relname, reloptions FROM pg_class WHERE relname IN ('messages', 'presences') ORDER BY relname`,
    );
    expect(rows.map((r) => r.relname)).toEqual(['messages', 'presences']);
    for (const r of rows) expect(r.reloptions).toContain('autovacuum_vacuum_scale_factor=0.02');
    expect(rows[1]!.reloptions).toContain('fillfactor=80');
  });

  it('knows whether the database vacuums by itself', () => {
    // PGlite never does; the project's PostgreSQL runs with autovacuum off.
    if (name === 'PGlite') expect(selfVacuum).toBe(true);
    expect(typeof selfVacuum).toBe('boolean');
  });

  it('when no autovacuum runs, the service vacuums the churning tables after writes', { timeout: 20_000 }, async () => {
    const lastVacuum = async () =>
      (await db.query<{ v: string | null }>(`SELECT last_vacuum::text AS v FROM pg_stat_user_tables WHERE relname = 'messages'`))[0]?.v ?? null;
    const before = await lastVacuum();
    const messages = Array.from({ length: 300 }, (_, i) => ev('MESSAGE_CREATE', { id: String(81384788765713000n + BigInt(i)), channel_id: C, content: 'x' }));
    expect((await dispatch(app, messages)).status).toBe(200); // retention deletes all but 4 of them
    const deadline = Date.now() + 15_000;
    let after = await lastVacuum();
    while (selfVacuum && after === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      after = await lastVacuum();
    }
    if (selfVacuum) {
      expect(after).not.toBe(before);
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(/dsc_vacuum_duration_seconds_count [1-9]/);
    } else {
      expect(after).toBe(before); // the server's autovacuum does it, not the service
    }
  });
});
