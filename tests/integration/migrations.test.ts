/** The schema's history: drizzle/ matches src/db/schema.ts, drizzle-kit migrate works, the service checks it. */
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StartupError, openPostgres, readJournal } from '../../src/db/connect.js';
import { tableNames } from '../../src/db/schema.js';
import { createEmptyDatabase, drizzleKit, type TestDatabase } from '../helpers/db.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function tablesOf(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ t: string }>(
      `select table_name as t from information_schema.tables where table_schema = 'public' order by 1`,
    );
    return r.rows.map((x) => x.t);
  } finally {
    await client.end();
  }
}

describe('schema and drizzle/ agree', () => {
  it('drizzle-kit generate on the current schema produces no new migration', () => {
    const scratch = mkdtempSync(path.join(root, '.scratch-drift-'));
    try {
      const out = path.join(scratch, 'drizzle');
      cpSync(path.join(root, 'drizzle'), out, { recursive: true });
      const before = readdirSync(out).filter((f) => f.endsWith('.sql'));
      const config = path.join(scratch, 'drizzle.config.ts');
      // drizzle-kit wants paths relative to the working directory (the repository root).
      const rel = path.relative(root, out);
      writeFileSync(config, `export default { dialect: 'postgresql', schema: './src/db/schema.ts', out: ${JSON.stringify(rel)} };\n`);
      const output = drizzleKit(['generate', '--config', path.relative(root, config)], {}, root);
      expect(output).not.toMatch(/Error/);
      const after = readdirSync(out).filter((f) => f.endsWith('.sql'));
      expect(after, `src/db/schema.ts changed without a migration: run npx drizzle-kit generate\n${output}`).toEqual(before);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('the journal lists every SQL file in drizzle/', () => {
    const files = readdirSync(path.join(root, 'drizzle')).filter((f) => f.endsWith('.sql'));
    expect(readJournal().map((e) => `${e.tag}.sql`).sort()).toEqual(files.sort());
  });
});

describe('migrating PostgreSQL', () => {
  let empty: TestDatabase;
  beforeAll(async () => {
    empty = await createEmptyDatabase();
  });
  afterAll(async () => {
    await empty.drop();
  });

  it('refuses to open a database with pending migrations, naming the fix', async () => {
    const err = await openPostgres({ url: empty.url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toContain('npx drizzle-kit migrate');
    expect(await tablesOf(empty.url)).toEqual([]);
  });

  it('npx drizzle-kit migrate creates the cache tables (and the shard ledger and writers) and is idempotent', async () => {
    drizzleKit(['migrate'], { DATABASE_URL: empty.url });
    expect(await tablesOf(empty.url)).toEqual([...tableNames, 'shard_sessions', 'shard_writers'].sort());
    drizzleKit(['migrate'], { DATABASE_URL: empty.url });
    const db = await openPostgres({ url: empty.url });
    try {
      expect(await db.pendingMigrations()).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('MIGRATE_ON_START from two processes at once: the advisory lock serialises them', async () => {
    const other = await createEmptyDatabase();
    try {
      const [a, b] = await Promise.all([
        openPostgres({ url: other.url, migrate: true }),
        openPostgres({ url: other.url, migrate: true }),
      ]);
      expect(await a.pendingMigrations()).toEqual([]);
      await Promise.all([a.close(), b.close()]);
      expect(await tablesOf(other.url)).toEqual([...tableNames, 'shard_sessions', 'shard_writers'].sort());
    } finally {
      await other.drop();
    }
  });
});
