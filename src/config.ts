/** Environment → typed, validated configuration. The only module that reads `process.env`. */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { parseShardList } from './cache/shards.js';
import { MAX_SHARDS } from './cache/events/ready.js';
import { TABLE_NAMES, type TableName } from './db/tables.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface Config {
  host: string;
  port: number;
  /** `postgres://` URL, or undefined for the embedded PGlite database. */
  databaseUrl: string | undefined;
  /** `postgres://` URL of a streaming replica of `databaseUrl` that serves the GETs, or undefined. */
  readDatabaseUrl: string | undefined;
  dataDir: string;
  cacheToken: string | undefined;
  bodyLimit: number;
  logLevel: LogLevel;
  migrateOnStart: boolean;
  /** Messages kept per channel; older ones are pruned by the writer. */
  messageLimit: number;
  /** Requests that may wait for the writer before new ones get 503. */
  queueLimit: number;
  /** PRESENCE_UPDATE with status offline: delete the row (true) or keep it with status offline. */
  deleteOfflinePresences: boolean;
  /** Seconds between the service's own vacuums when autovacuum is not running (0 = never). */
  vacuumInterval: number;
  /** The tables the cache writes and serves (CACHE_TABLES); the others are never written. */
  cacheTables: TableName[];
  /**
   * Shard leases (db/leases.ts): TOTAL_SHARDS, and the shards this instance writes when it holds their lease
   * (SHARDS; every shard when unset). Both undefined without TOTAL_SHARDS: one instance writes everything.
   */
  totalShards: number | undefined;
  shards: number[] | undefined;
  /** Where this instance answers, for other instances' 421 answers and GET /v1/shards (ADVERTISE_URL). */
  advertiseUrl: string | undefined;
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3 };

function parseSize(raw: string): number | undefined {
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(raw);
  if (!m) return undefined;
  const unit = SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  if (unit === undefined) return undefined;
  return Number(m[1]) * unit;
}

function parseBool(raw: string): boolean | undefined {
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off', ''].includes(v)) return false;
  return undefined;
}

function parseInteger(raw: string, min: number, max: number): number | undefined {
  if (!/^\s*\d+\s*$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}

/** True for the loopback address literals: 127.0.0.0/8 and ::1. A host name is not a literal (see `checkBindAddress`). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || h.toLowerCase().startsWith('::ffff:127.');
  return false;
}

/**
 * Without CACHE_TOKEN the service may only listen on loopback. A host name is resolved (every address it
 * resolves to must be loopback: `localhost` may be mapped to anything in /etc/hosts). Throws `ConfigError`.
 */
export async function checkBindAddress(config: Pick<Config, 'host' | 'cacheToken'>, resolve = defaultResolve): Promise<void> {
  const host = config.host.replace(/^\[|\]$/g, '');
  if (config.cacheToken !== undefined || isIP(host) !== 0) return;
  let addresses: string[];
  try {
    addresses = await resolve(host);
  } catch (err) {
    throw new ConfigError([`HOST=${config.host} does not resolve (${(err as Error).message})`]);
  }
  const open = addresses.filter((a) => !isLoopback(a));
  if (addresses.length === 0 || open.length > 0) {
    throw new ConfigError([
      `HOST=${config.host} resolves to ${open.join(', ') || 'nothing'}, not only loopback, and CACHE_TOKEN is unset: set CACHE_TOKEN, or bind to 127.0.0.1`,
    ]);
  }
}

async function defaultResolve(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const get = (name: string) => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };

  const host = get('HOST') ?? '127.0.0.1';

  let port = 8080;
  const rawPort = get('PORT');
  if (rawPort !== undefined) {
    const p = parseInteger(rawPort, 0, 65535);
    if (p === undefined) problems.push(`PORT must be an integer from 0 to 65535, got "${rawPort}"`);
    else port = p;
  }

  const databaseUrl = get('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL (unset it to use the embedded PGlite database)');
  }

  const readDatabaseUrl = get('READ_DATABASE_URL');
  if (readDatabaseUrl !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(readDatabaseUrl)) {
      problems.push('READ_DATABASE_URL must be a postgres:// or postgresql:// URL (a streaming replica of DATABASE_URL)');
    } else if (databaseUrl === undefined) {
      problems.push('READ_DATABASE_URL needs DATABASE_URL: the embedded PGlite database has no replicas');
    }
  }

  const dataDir = path.resolve(get('DATA_DIR') ?? './.data');

  const cacheToken = get('CACHE_TOKEN');
  // A host name (`localhost`, …) is resolved by `checkBindAddress` before listening.
  if (cacheToken === undefined && isIP(host.replace(/^\[|\]$/g, '')) !== 0 && !isLoopback(host)) {
    problems.push(
      `HOST=${host} is not a loopback address and CACHE_TOKEN is unset: set CACHE_TOKEN, or bind to 127.0.0.1`,
    );
  }

  let bodyLimit = 32 * 1024 * 1024;
  const rawBody = get('BODY_LIMIT');
  if (rawBody !== undefined) {
    const b = parseSize(rawBody);
    if (b === undefined || b < 1024) problems.push(`BODY_LIMIT must be a size of at least 1024 bytes such as 33554432 or 32mb, got "${rawBody}"`);
    else bodyLimit = b;
  }

  let logLevel: LogLevel = 'info';
  const rawLevel = get('LOG_LEVEL');
  if (rawLevel !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(rawLevel)) logLevel = rawLevel as LogLevel;
    else problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${rawLevel}"`);
  }

  const bool = (name: string, fallback: boolean): boolean => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const b = parseBool(raw);
    if (b === undefined) {
      problems.push(`${name} must be true or false, got "${raw}"`);
      return fallback;
    }
    return b;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const n = parseInteger(raw, min, max);
    if (n === undefined) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  };

  const migrateOnStart = bool('MIGRATE_ON_START', false);
  const messageLimit = int('MESSAGE_LIMIT', 200, 0, 100_000);
  const queueLimit = int('QUEUE_LIMIT', 10_000, 1, 10_000_000);
  const deleteOfflinePresences = bool('DELETE_OFFLINE_PRESENCES', false);
  const vacuumInterval = int('VACUUM_INTERVAL', 60, 0, 86_400);

  let cacheTables = [...TABLE_NAMES];
  const rawTables = get('CACHE_TABLES');
  if (rawTables !== undefined) {
    const names = rawTables.split(',').map((t) => t.trim()).filter(Boolean);
    const unknown = names.filter((t) => !(TABLE_NAMES as string[]).includes(t));
    if (unknown.length > 0 || names.length === 0) {
      problems.push(`CACHE_TABLES must list tables among ${TABLE_NAMES.join(', ')}, got "${rawTables}"${unknown.length > 0 ? ` (unknown: ${unknown.join(', ')})` : ''}`);
    } else {
      cacheTables = TABLE_NAMES.filter((t) => names.includes(t));
    }
  }

  let totalShards: number | undefined;
  let shards: number[] | undefined;
  const rawTotal = get('TOTAL_SHARDS');
  const rawShards = get('SHARDS');
  if (rawTotal !== undefined) {
    const n = parseInteger(rawTotal, 1, MAX_SHARDS);
    if (n === undefined) problems.push(`TOTAL_SHARDS must be an integer from 1 to ${MAX_SHARDS} (the bot's shard count), got "${rawTotal}"`);
    else totalShards = n;
  }
  if (rawShards !== undefined && rawTotal === undefined) {
    problems.push('SHARDS needs TOTAL_SHARDS: the shard of a guild is (guild_id >> 22) % TOTAL_SHARDS');
  }
  if (totalShards !== undefined) {
    if (rawShards === undefined) {
      shards = Array.from({ length: totalShards }, (_, i) => i);
    } else {
      const parsed = parseShardList(rawShards, totalShards);
      if (typeof parsed === 'string') problems.push(`SHARDS must list shards and ranges such as 0-7,12: ${parsed}`);
      else shards = parsed;
    }
  }
  if ((rawTotal !== undefined || rawShards !== undefined) && databaseUrl === undefined) {
    problems.push('TOTAL_SHARDS and SHARDS need DATABASE_URL: the embedded PGlite database belongs to one process, which writes every shard');
  }

  let advertiseUrl = get('ADVERTISE_URL');
  if (advertiseUrl !== undefined && !/^https?:\/\/[^/]/.test(advertiseUrl)) {
    problems.push(`ADVERTISE_URL must be an http:// or https:// URL (where clients reach this instance), got "${advertiseUrl}"`);
  }
  // By default, where it listens, when that is an address others can use.
  const bare = host.replace(/^\[|\]$/g, '');
  if (advertiseUrl === undefined && totalShards !== undefined && port !== 0 && !['0.0.0.0', '::', ''].includes(bare)) {
    advertiseUrl = `http://${isIP(bare) === 6 ? `[${bare}]` : bare}:${port}`;
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    host,
    port,
    databaseUrl,
    readDatabaseUrl,
    dataDir,
    cacheToken,
    bodyLimit,
    logLevel,
    migrateOnStart,
    messageLimit,
    queueLimit,
    deleteOfflinePresences,
    vacuumInterval,
    cacheTables,
    totalShards,
    shards,
    advertiseUrl,
  };
}
