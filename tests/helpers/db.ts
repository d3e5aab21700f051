/**
 * Real databases for tests: every test file gets its own PostgreSQL database (created from TEST_DATABASE_URL,
 * default postgres://postgres@127.0.0.1:5432/test) and drops it afterwards, so files never collide.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { openPglite, openPostgres, type Database } from '../../src/db/connect.js';

export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** An empty database (no tables). */
export async function createEmptyDatabase(): Promise<TestDatabase> {
  const name = `dsc_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: withDatabase(ADMIN_URL, name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

/** A migrated database opened through `pg` (what the service uses with DATABASE_URL). */
export async function createPostgres(): Promise<{ db: Database; test: TestDatabase; close(): Promise<void> }> {
  const test = await createEmptyDatabase();
  const db = await openPostgres({ url: test.url, migrate: true });
  return {
    db,
    test,
    async close() {
      await db.close();
      await test.drop();
    },
  };
}

/** An in-memory PGlite database, migrated (what the service uses without DATABASE_URL). */
export async function createPglite(): Promise<Database> {
  return openPglite();
}

/** Runs drizzle-kit's CLI (as a user would) with DATABASE_URL set; returns stdout and stderr together. */
export function drizzleKit(args: string[], env: Record<string, string> = {}, cwd?: string): string {
  const r = spawnSync('npx', ['drizzle-kit', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    ...(cwd ? { cwd } : {}),
  });
  const output = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`drizzle-kit ${args.join(' ')} exited ${r.status}:\n${output}`);
  return output;
}

/** The two databases the service runs on, for `describe.each(backends)`: a fresh one of each per call. */
export const backends: [string, () => Promise<{ db: Database; close(): Promise<void> }>][] = [
  ['PostgreSQL', createPostgres],
  [
    'PGlite',
    async () => {
      const db = await createPglite();
      return { db, close: () => db.close() };
    },
  ],
];
