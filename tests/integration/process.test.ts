/** The process contract of the README: npm start's command, start-up refusals, auth, restart persistence. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase, drizzleKit, type TestDatabase } from '../helpers/db.js';
import { startService, waitHealthy } from '../helpers/process.js';

describe('with PostgreSQL (DATABASE_URL)', () => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await createEmptyDatabase();
  });
  afterAll(async () => {
    await test.drop();
  });

  it('refuses to start while migrations are pending, naming the fix, then serves once migrated', async () => {
    const refused = await startService({ DATABASE_URL: test.url });
    expect(await refused.exited).not.toBe(0);
    expect(refused.output()).toContain('npx drizzle-kit migrate');

    drizzleKit(['migrate'], { DATABASE_URL: test.url });
    const svc = await startService({ DATABASE_URL: test.url, CACHE_TOKEN: 'sekret' });
    try {
      expect(await waitHealthy(svc)).toBe(true);
      expect((await fetch(`${svc.url}/ready`)).status).toBe(200);
      const anonymous = await fetch(`${svc.url}/v1/stats`);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      expect((await fetch(`${svc.url}/v1/stats`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      const ok = await fetch(`${svc.url}/v1/stats`, { headers: { authorization: 'Bearer sekret' } });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { tables: Record<string, number> }).tables.users).toBe(0);
    } finally {
      expect(await svc.stop('SIGTERM')).toBe(0);
    }
  });

  it('refuses a non-loopback HOST without CACHE_TOKEN', async () => {
    const svc = await startService({ DATABASE_URL: test.url, HOST: '0.0.0.0' });
    expect(await svc.exited).not.toBe(0);
    expect(svc.output()).toContain('CACHE_TOKEN');
  });

  it('reports every bad setting at once', async () => {
    const svc = await startService({ DATABASE_URL: 'mysql://x', PORT: 'eighty', LOG_LEVEL: 'loud' });
    expect(await svc.exited).not.toBe(0);
    for (const name of ['DATABASE_URL', 'LOG_LEVEL']) expect(svc.output()).toContain(name);
  });
});

describe('embedded PGlite (no DATABASE_URL)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dsc-data-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Creating an embedded database takes seconds, and much longer on a loaded machine.
  it('serves, keeps data across a restart, and a second process on the same DATA_DIR refuses', { timeout: 240_000 }, async () => {
    const first = await startService({ DATA_DIR: dir });
    try {
      expect(await waitHealthy(first)).toBe(true);
      expect((await fetch(`${first.url}/ready`)).status).toBe(200);
      const put = await fetch(`${first.url}/v1/users/80351110224678912`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'nelly', discriminator: '0', global_name: 'Nelly' }),
      });
      expect(put.status).toBe(200);

      const second = await startService({ DATA_DIR: dir });
      expect(await second.exited).not.toBe(0);
      expect(second.output()).toMatch(/in use by another process/);
    } finally {
      expect(await first.stop('SIGINT')).toBe(0);
    }

    const again = await startService({ DATA_DIR: dir });
    try {
      expect(await waitHealthy(again)).toBe(true);
      const res = await fetch(`${again.url}/v1/users/80351110224678912`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id: '80351110224678912', username: 'nelly', global_name: 'Nelly' });
    } finally {
      expect(await again.stop()).toBe(0);
    }
  });
});
