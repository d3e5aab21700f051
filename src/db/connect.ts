/**
 * Opens the database: a `pg` Pool for PostgreSQL, or embedded PGlite in a directory.
 *
 * Everything above this module sees one small interface (`Database`): a Drizzle instance for reads, raw
 * parameterised queries for the set-based writer, transactions, a health ping and the migration state.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { listen, type ListenHandlers, type Listener } from './listen.js';
import * as schema from './schema.js';

/** The generated migrations, shipped with the package (`drizzle/` at the package root). */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));
const MIGRATIONS_SCHEMA = 'drizzle';
const MIGRATIONS_TABLE = '__drizzle_migrations';
/** Key of the advisory lock that serialises `MIGRATE_ON_START` across processes. */
const MIGRATION_LOCK_KEY = 7_420_318_211;

export type Orm = PgDatabase<PgQueryResultHKT, typeof schema>;

/** Runs raw SQL with `$1…` parameters and returns the rows. */
export interface Sql {
  /** `name` makes node-postgres prepare the statement once per connection (PGlite ignores it). */
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    params?: unknown[],
    name?: string,
  ): Promise<R[]>;
}

/**
 * One unit of work on one connection (the writer's). Writes begin a transaction lazily: a unit of work that
 * ends with a single statement (`final`) and never called `query` runs that statement alone, atomic by
 * itself, and saves the BEGIN/COMMIT round trips.
 */
export interface Work extends Sql {
  /** A write: runs inside the transaction, beginning it on first use. */
  query: Sql['query'];
  /** A read: inside the transaction once one has begun, else on its own. */
  read: Sql['query'];
  /** The last write: on its own when no transaction has begun, else inside it (then commit). */
  final: Sql['query'];
  /**
   * A write inside the transaction, handed to the connection at once without waiting for the writes sent
   * before it (they run in order): the caller prepares the next statement while the database runs this
   * one. Await every promise it returns before any other call.
   */
  send: Sql['query'];
}

export interface Database extends Sql {
  readonly kind: 'postgres' | 'pglite';
  /** Drizzle over the same connection(s), for code built on this service (the cache itself binds raw SQL). */
  readonly orm: Orm;
  /** Runs `fn` as one atomic unit of work (see `Work`); commits when it resolves, rolls back when it throws. */
  work<T>(fn: (work: Work) => Promise<T>): Promise<T>;
  /** Resolves when the database answers a query. */
  ping(): Promise<void>;
  /** Migrations in `drizzle/` not yet applied to this database. */
  pendingMigrations(): Promise<string[]>;
  /** PostgreSQL only: LISTEN on `channel` over a connection of its own (see `listen.ts`). */
  listen?(channel: string, handlers: ListenHandlers): Promise<Listener>;
  close(): Promise<void>;
}

/** Thrown for conditions the operator must fix before the service can start. */
export class StartupError extends Error {
  override name = 'StartupError';
}

interface JournalEntry {
  tag: string;
  when: number;
}

export function readJournal(folder = MIGRATIONS_FOLDER): JournalEntry[] {
  const file = path.join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(file, 'utf8')) as { entries: JournalEntry[] };
  return journal.entries;
}

async function pending(db: Sql): Promise<string[]> {
  const entries = readJournal();
  const exists = await db.query<{ t: string | null }>(`select to_regclass($1)::text as t`, [
    `${MIGRATIONS_SCHEMA}.${MIGRATIONS_TABLE}`,
  ]);
  if (!exists[0]?.t) return entries.map((e) => e.tag);
  const rows = await db.query<{ last: string | null }>(
    `select max(created_at)::text as last from "${MIGRATIONS_SCHEMA}"."${MIGRATIONS_TABLE}"`,
  );
  const last = Number(rows[0]?.last ?? 0);
  return entries.filter((e) => e.when > last).map((e) => e.tag);
}

const migrationConfig = {
  migrationsFolder: MIGRATIONS_FOLDER,
  migrationsSchema: MIGRATIONS_SCHEMA,
  migrationsTable: MIGRATIONS_TABLE,
};

/**
 * Applies the pending migrations under the advisory lock, so processes migrating at once take turns (the
 * later ones find nothing left to do). Returns the tags it applied, in order.
 */
async function migrateLocked(pool: pg.Pool): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const query = async <R extends Record<string, unknown>>(text: string, params?: unknown[]) =>
        (await client.query<R>(text, params)).rows;
      const applying = await pending({ query });
      await migratePg(drizzlePg(client), migrationConfig);
      return applying;
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

/** `discord-state-cache migrate`: applies the pending migrations to a PostgreSQL database; returns their tags. */
export async function migratePostgres(url: string): Promise<string[]> {
  const pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 5_000, application_name: 'discord-state-cache migrate' });
  pool.on('error', () => {});
  try {
    return await migrateLocked(pool);
  } finally {
    await pool.end();
  }
}

export interface PostgresOptions {
  url: string;
  /** Apply pending migrations (under an advisory lock) instead of refusing to start. */
  migrate?: boolean;
  poolSize?: number;
}

/** The service's connection settings (the pools', and the lease session's in `db/leases.ts`). */
export function connectionSettings(url: string, applicationName = 'discord-state-cache'): pg.ClientConfig {
  return {
    connectionString: url,
    connectionTimeoutMillis: 5_000,
    application_name: applicationName,
    // Timestamps leave as ISO-8601 in UTC, whatever the server's default.
    options: '-c TimeZone=UTC',
  };
}

/** A pg Pool with the service's connection settings (the primary's, and the replica's in `db/replica.ts`). */
export function postgresPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ ...connectionSettings(url), max });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => {});
  return pool;
}

/** `Sql.query` on a pool or one of its clients. */
export const runOn =
  (on: pg.Pool | pg.PoolClient) =>
  async <R extends Record<string, unknown>>(text: string, params?: unknown[], name?: string): Promise<R[]> =>
    (await on.query<R>(name ? { name, text, values: params ?? [] } : { text, values: params ?? [] })).rows;

/**
 * Runs `fn` as one unit of work (see `Work`) on `client`: commits when it resolves, rolls back when it throws.
 * `broken` is called when the connection cannot be trusted afterwards (the ROLLBACK failed). The pool's
 * units of work and the lease session's (`db/leases.ts`) both run here.
 */
export async function unitOfWork<T>(client: pg.ClientBase, fn: (work: Work) => Promise<T>, broken: () => void): Promise<T> {
  let begun = false;
  let tail: Promise<unknown> = Promise.resolve();
  let ended = false;
  const run = async (text: string, params?: unknown[], name?: string) =>
    (await client.query(name ? { name, text, values: params ?? [] } : { text, values: params ?? [] })).rows;
  try {
    const result = await fn({
      async query(text, params, name) {
        if (!begun) {
          begun = true;
          await client.query('begin');
        }
        return run(text, params, name);
      },
      send(text, params, name) {
        // Chained here rather than queued in node-postgres (deprecated there): each write leaves as soon as
        // the previous one answered, and after a failure the rest reject without running.
        let previous = tail;
        if (!begun) {
          begun = true;
          previous = client.query('begin');
        }
        const sent = previous.then(() => {
          // Never after the unit of work ended: a write queued behind a failure must not run after the
          // ROLLBACK, in autocommit.
          if (ended) throw new Error('the unit of work ended before this write was sent');
          return run(text, params, name);
        });
        tail = sent;
        return sent;
      },
      read: run,
      final: run,
    });
    ended = true;
    await tail; // everything sent has answered (the caller awaited it: this only guards)
    if (begun) await client.query('commit');
    return result;
  } catch (err) {
    ended = true;
    await tail.catch(() => {}); // the write running now finishes before the ROLLBACK
    if (begun) {
      try {
        await client.query('rollback');
      } catch {
        broken();
      }
    }
    throw err;
  }
}

/** Connects to PostgreSQL. Throws `StartupError` when migrations are pending and `migrate` is not set. */
export async function openPostgres(options: PostgresOptions): Promise<Database> {
  const pool = postgresPool(options.url, options.poolSize ?? 10);
  const orm = drizzlePg(pool, { schema }) as unknown as Orm;
  const query = runOn(pool);

  const db: Database = {
    kind: 'postgres',
    orm,
    query,
    async work(fn) {
      const client = await pool.connect();
      let broken = false;
      const onError = () => (broken = true);
      client.on('error', onError);
      try {
        return await unitOfWork(client, fn, onError);
      } finally {
        client.removeListener('error', onError);
        client.release(broken);
      }
    },
    async ping() {
      await pool.query('select 1');
    },
    pendingMigrations: () => pending({ query }),
    listen: (channel, handlers) => listen(options.url, channel, handlers),
    close: () => pool.end(),
  };

  try {
    if (options.migrate) {
      await migrateLocked(pool);
    } else {
      const missing = await db.pendingMigrations();
      if (missing.length > 0) {
        throw new StartupError(
          `the database has ${missing.length} pending migration(s) (${missing.join(', ')}): ` +
            'run `npx discord-state-cache migrate` (in a clone of the repository: `npx drizzle-kit migrate`) with the ' +
            'same DATABASE_URL, or start with MIGRATE_ON_START=true',
        );
      }
    }
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  return db;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function inUse(dir: string, owner: string): StartupError {
  return new StartupError(
    `DATA_DIR ${dir} is in use by another process${owner ? ` (pid ${owner})` : ''}; ` +
      'the embedded database allows one process at a time: stop it, or set another DATA_DIR',
  );
}

/**
 * Takes `DATA_DIR` for this process: PGlite has no cross-process lock, and two processes opening one
 * directory corrupt it. Exactly one process may win, also when several start together over a lock left by
 * a dead one (reading a stale pid file, deleting it and writing a new one is not atomic: two starters both
 * did it in 6 of 20 trials).
 *
 * On Linux the lock is a Unix socket in the abstract namespace named after the directory: binding it is
 * atomic, and the kernel releases it when the process dies, so there is never a stale lock to take over.
 * `<dir>/cache.lock` then only names the owner for the error message. Elsewhere the pid file is the lock
 * (exclusive create), with the stale-owner race the abstract socket avoids.
 */
export async function lockDataDir(dir: string): Promise<() => void> {
  const file = path.join(dir, 'cache.lock');
  if (process.platform === 'linux') {
    const name = `\0discord-state-cache:${createHash('sha256').update(realpathSync(dir)).digest('hex')}`;
    const server = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(name, () => resolve());
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      let owner = '';
      try {
        owner = readFileSync(file, 'utf8').trim();
      } catch {
        // the owner has not written it yet
      }
      throw inUse(dir, owner);
    }
    server.unref();
    writeFileSync(file, String(process.pid));
    return () => {
      rmSync(file, { force: true });
      server.close();
    };
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && pidAlive(owner)) throw inUse(dir, String(owner));
      rmSync(file, { force: true });
    }
  }
  throw new StartupError(`could not lock DATA_DIR ${dir}`);
}

export interface PgliteOptions {
  /** Directory for the database files, or undefined for an in-memory database (tests). */
  dataDir?: string;
}

/** Opens (creating and migrating as needed) the embedded PGlite database. */
export async function openPglite(options: PgliteOptions = {}): Promise<Database> {
  let unlock = () => {};
  let dataPath: string | undefined;
  if (options.dataDir !== undefined) {
    mkdirSync(options.dataDir, { recursive: true });
    unlock = await lockDataDir(options.dataDir);
    dataPath = path.join(options.dataDir, 'pgdata');
    if (!existsSync(dataPath)) mkdirSync(dataPath, { recursive: true });
  }
  let client: PGlite;
  try {
    client = await PGlite.create(dataPath);
    await client.exec(`SET TIME ZONE 'UTC'`);
    await migratePglite(drizzlePglite(client), migrationConfig);
  } catch (err) {
    unlock();
    throw err;
  }
  const orm = drizzlePglite(client, { schema }) as unknown as Orm;
  const query = async <R extends Record<string, unknown>>(text: string, params?: unknown[]) =>
    (await client.query<R>(text, params)).rows;
  let closed = false;
  return {
    kind: 'pglite',
    orm,
    query,
    // Embedded: no round trips to save, and the transaction lock keeps concurrent reads out of it.
    work: (fn) =>
      client.transaction(async (t) => {
        const q = async (text: string, params?: unknown[]) => (await t.query<never>(text, params)).rows;
        // One statement at a time: a sent write waits for the previous one, and none runs once fn ended.
        let last: Promise<unknown> = Promise.resolve();
        let ended = false;
        const send = (text: string, params?: unknown[]) => {
          const p = last.then(() => {
            if (ended) throw new Error('the unit of work ended before this write was sent');
            return q(text, params);
          });
          last = p.catch(() => {});
          return p;
        };
        try {
          return await fn({ query: q, read: q, final: q, send });
        } finally {
          ended = true;
          await last;
        }
      }),
    async ping() {
      if (closed) throw new Error('database closed');
      await client.query('select 1');
    },
    pendingMigrations: () => pending({ query }),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await client.close();
      } finally {
        unlock();
      }
    },
  };
}
