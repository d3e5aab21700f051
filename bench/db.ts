/** Scratch databases (create, migrate, count, drop) and the machine description. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

/** Where scratch databases are created from (127.0.0.1 only). */
export const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const ident = (name: string) => {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
  return `"${name}"`;
};

export async function createDatabase(name: string): Promise<void> {
  await withAdmin((c) => c.query(`CREATE DATABASE ${ident(name)}`));
}

export async function dropDatabase(name: string): Promise<void> {
  await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`));
}

/** Applies the service's migrations (`drizzle/`) the way the service does. */
export async function migrateDatabase(url: string, root: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await migrate(drizzle(pool), {
      migrationsFolder: path.join(root, 'drizzle'),
      migrationsSchema: 'drizzle',
      migrationsTable: '__drizzle_migrations',
    });
  } finally {
    await pool.end();
  }
}

/** Server processes serving `databases`, plus the background ones (WAL writer, checkpointer, …). */
export async function postgresPids(databases: string[]): Promise<Set<number>> {
  return withAdmin(async (c) => {
    const res = await c.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[]) OR datname IS NULL',
      [databases],
    );
    return new Set(res.rows.map((r) => r.pid));
  });
}

export const COUNTED_TABLES = ['users', 'members', 'presences', 'messages', 'channels', 'threads', 'guilds'] as const;
export type Counts = Record<(typeof COUNTED_TABLES)[number], number>;

export async function tableCounts(url: string, where: Partial<Record<(typeof COUNTED_TABLES)[number], string>> = {}): Promise<Counts> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const out = {} as Counts;
    for (const t of COUNTED_TABLES) {
      const w = where[t];
      const res = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${t}${w ? ` WHERE ${w}` : ''}`);
      out[t] = Number(res.rows[0]?.n ?? Number.NaN);
    }
    return out;
  } finally {
    await client.end();
  }
}

/** What the cache holds for the given guilds and users (workload (5)'s check), by kind. */
export interface GuildSetCounts {
  guilds: number;
  channels: number;
  threads: number;
  members: number;
  presences: number;
  users: number;
  roles: number;
  emojis: number;
  overwrites: number;
}

export async function guildSetCounts(url: string, guildIds: readonly string[], userIds: readonly string[]): Promise<GuildSetCounts> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query<Record<keyof GuildSetCounts, string>>(
      `SELECT
         (SELECT count(*) FROM guilds WHERE id = ANY($1::bigint[]))::text AS guilds,
         (SELECT coalesce(sum(jsonb_array_length(roles)), 0) FROM guilds WHERE id = ANY($1::bigint[]))::text AS roles,
         (SELECT coalesce(sum(jsonb_array_length(emojis)), 0) FROM guilds WHERE id = ANY($1::bigint[]))::text AS emojis,
         (SELECT count(*) FROM channels WHERE guild_id = ANY($1::bigint[]))::text AS channels,
         (SELECT coalesce(sum(jsonb_array_length(permission_overwrites)), 0) FROM channels WHERE guild_id = ANY($1::bigint[]))::text AS overwrites,
         (SELECT count(*) FROM threads WHERE guild_id = ANY($1::bigint[]))::text AS threads,
         (SELECT count(*) FROM members WHERE guild_id = ANY($1::bigint[]))::text AS members,
         (SELECT count(*) FROM presences WHERE guild_id = ANY($1::bigint[]))::text AS presences,
         (SELECT count(*) FROM users WHERE id = ANY($2::bigint[]))::text AS users`,
      [guildIds, userIds],
    );
    const row = res.rows[0]!;
    return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as unknown as GuildSetCounts;
  } finally {
    await client.end();
  }
}

/** `got` against `want`, kind by kind: the differences, empty when they match. */
export function countMismatches(want: GuildSetCounts, got: GuildSetCounts): string[] {
  return (Object.keys(want) as (keyof GuildSetCounts)[]).filter((k) => want[k] !== got[k]).map((k) => `${k}: expected ${want[k]}, found ${got[k]}`);
}

export interface Machine {
  nproc: number;
  cpu: string;
  memory: string;
  postgres: string;
  postgresSettings: string;
  node: string;
}

export async function describeMachine(): Promise<Machine> {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpu = m[1].trim();
  } catch {
    // keep os.cpus()
  }
  const { version, settings } = await withAdmin(async (c) => {
    const v = await c.query<{ v: string }>('SELECT version() AS v');
    const s = await c.query<{ name: string; setting: string; unit: string | null }>(
      `SELECT name, setting, unit FROM pg_settings
       WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', 'wal_level', 'max_connections', 'autovacuum', 'plan_cache_mode')
       ORDER BY name`,
    );
    return {
      version: v.rows[0]?.v ?? 'unknown',
      settings: s.rows.map((r) => `${r.name}=${r.setting}${r.unit ? ` ${r.unit}` : ''}`).join(', '),
    };
  });
  return {
    nproc: os.availableParallelism(),
    cpu,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    postgres: version,
    postgresSettings: settings,
    node: process.version,
  };
}
