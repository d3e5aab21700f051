/**
 * Shard leases (TOTAL_SHARDS, SHARDS): an instance writes only the shards it holds a lease on, so many
 * instances can share one database with exactly one writer per shard.
 *
 * - A lease is a session-level PostgreSQL advisory lock, `pg_try_advisory_lock(LEASE_NAMESPACE, shard)`, taken by
 *   the instance's *lease session*: one dedicated connection through which every write of the instance goes
 *   (`target`, the writer's database). The fence is PostgreSQL's: a lease exists exactly as long as that
 *   session, and a write can only reach the database through it. An instance whose session is lost (killed,
 *   network cut, database restart) has lost every lease with it, and its later writes go through a new session
 *   that holds only what it acquires again: it can never write a shard another instance took over.
 * - An instance started for shards another live instance holds is their standby: it tries to take them once
 *   per `pollMs` (1 s), so it takes over within about a second of the holder's session ending. A SIGKILLed
 *   holder's connection is closed by its kernel at once; a holder whose machine or network vanished is noticed
 *   by the server's TCP keepalives (set on the session: 2 s idle, then 2 probes 1 s apart, and
 *   `tcp_user_timeout` 4 s for unacknowledged data), so its leases are free within about 4 s, and taken over
 *   within about 5.
 * - Who is who: each instance has a row in `shard_writers` (schema.ts) naming its lease session's backend pid,
 *   its ADVERTISE_URL and the shards it was started for. Who holds a shard is read from `pg_locks` joined with
 *   those rows (never from a row that could be stale).
 * - Every instance on a database must agree on TOTAL_SHARDS (the same guild is on another shard under another
 *   count): registration, serialised by an advisory lock, refuses to start next to a live instance with another.
 *
 * On (re)acquiring a lease, `onAcquired` tells the writer, which drops what it remembered of those shards
 * (their sequence states, cache/sequence.ts): another instance may have written them meanwhile.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { UnavailableError } from '../cache/errors.js';
import { StartupError, connectionSettings, unitOfWork, type Database, type Sql, type Work } from './connect.js';

/** The first key of every lease lock (`'DSC1'`); the second is the shard id. */
export const LEASE_NAMESPACE = 0x44534331;
/** The transaction lock that serialises registrations (the TOTAL_SHARDS check). */
const REGISTRATION_NAMESPACE = LEASE_NAMESPACE + 1;

/**
 * The server side of the lease session: notice a vanished client within about 4 s (see above). A connection
 * over a Unix socket ignores them (and needs none: the kernel closes it).
 */
const SESSION_OPTIONS = '-c tcp_keepalives_idle=2 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=2 -c tcp_user_timeout=4000';

export interface LeaseLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface LeaseOptions {
  /** The primary's `postgres://` URL (DATABASE_URL). */
  url: string;
  totalShards: number;
  /** The shards this instance writes when it can (SHARDS; all of them when unset). */
  shards: readonly number[];
  /** Where this instance answers (ADVERTISE_URL): named in 421 answers and GET /v1/shards. */
  advertiseUrl?: string | undefined;
  /** How often a standby tries to take its shards, and a lost session is reconnected (ms). */
  pollMs?: number;
  log: LeaseLog;
}

/** The writer's view of the database: units of work and queries, here on the lease session. */
export type WriteTarget = Pick<Database, 'work' | 'query'>;

/** A live instance (its lease session is connected), with the shards it holds now. */
export interface WriterRow extends Record<string, unknown> {
  instance_id: string;
  advertise_url: string | null;
  total_shards: number;
  /** The shards it was started for. */
  shards: number[];
  /** The shards it holds a lease on now (from pg_locks). */
  held: number[];
}

/** A session is live when its backend is: the same pid, started when the row says (pids are reused). */
const LIVE = `EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = w.session_pid AND (a.backend_start IS NULL OR a.backend_start = w.session_started))`;

const REGISTER =
  `INSERT INTO shard_writers (instance_id, advertise_url, total_shards, shards, session_pid, session_started) ` +
  `SELECT $1, $2, $3, $4::int[], pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()`;

/** Takes every lease of `$2` that is free (never waits), returning those it got. */
const TRY_LEASES = `SELECT s FROM unnest($2::int[]) AS s WHERE pg_try_advisory_lock($1, s) ORDER BY s`;

const LIST_WRITERS =
  `SELECT w.instance_id, w.advertise_url, w.total_shards, w.shards, ` +
  `COALESCE((SELECT array_agg(l.objid::int ORDER BY l.objid) FROM pg_locks l ` +
  `WHERE l.locktype = 'advisory' AND l.classid = $1::oid AND l.objsubid = 2 AND l.granted AND l.pid = w.session_pid ` +
  `AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())), '{}') AS held ` +
  `FROM shard_writers w WHERE ${LIVE} ORDER BY w.started_at, w.instance_id`;

/** The live instances of the database and what each holds (any connection to it can ask). */
export async function listWriters(sql: Sql): Promise<WriterRow[]> {
  return sql.query<WriterRow>(LIST_WRITERS, [LEASE_NAMESPACE]);
}

/** Who holds each of `shards` now (instance and URL; null when nobody does), for the 421 answers. */
export async function holdersOf(sql: Sql, shards: readonly number[]) {
  const writers = await listWriters(sql);
  return shards.map((shard) => {
    const w = writers.find((x) => x.held.includes(shard));
    return { shard, instance_id: w?.instance_id ?? null, url: w?.advertise_url ?? null };
  });
}

export class Leases {
  readonly instanceId = randomUUID();
  /** Told of every lease (re)acquired: the writer forgets what it knew of those shards. */
  onAcquired: ((shards: number[]) => void) | undefined;

  private client: pg.Client | undefined;
  private readonly held = new Set<number>();
  private readonly configured: ReadonlySet<number>;
  /** Every use of the session, one after the other (a transaction and a lease attempt never interleave). */
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The last problem logged by the poll, so that an outage is logged once, not every second. */
  private lastProblem: string | undefined;

  private constructor(private readonly options: LeaseOptions) {
    this.configured = new Set(options.shards);
  }

  /**
   * Connects the lease session, registers the instance and takes every free lease of its shards. Throws
   * `StartupError` next to a live instance with another TOTAL_SHARDS (or when the database cannot be reached).
   */
  static async start(options: LeaseOptions): Promise<Leases> {
    const leases = new Leases(options);
    await leases.connect();
    await leases.acquire();
    leases.schedule();
    return leases;
  }

  get totalShards(): number {
    return this.options.totalShards;
  }

  holds(shard: number): boolean {
    return this.held.has(shard);
  }

  /** Whether this instance was started for `shard` (it holds it, or stands by for it). */
  serves(shard: number): boolean {
    return this.configured.has(shard);
  }

  /** The shards held now, and those this instance stands by for. */
  state(): { held: number[]; standby: number[] } {
    const held = [...this.held].sort((a, b) => a - b);
    return { held, standby: this.options.shards.filter((s) => !this.held.has(s)) };
  }

  /** The writer's database: every write goes through the lease session (see the module comment). */
  readonly target: WriteTarget = {
    work: <T>(fn: (work: Work) => Promise<T>) =>
      this.exclusive((client) => unitOfWork(client, fn, () => this.lost(client, new Error('a ROLLBACK failed')))),
    query: <R extends Record<string, unknown>>(text: string, params?: unknown[], name?: string) =>
      this.exclusive(async (client) => (await client.query<R>(name ? { name, text, values: params ?? [] } : { text, values: params ?? [] })).rows),
  };

  /** Runs `fn` on the lease session once every earlier use of it is done; 503 while there is no session. */
  private exclusive<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      const client = this.client;
      if (!client) throw new UnavailableError('the database session holding the shard leases was lost; reconnecting', 1);
      return fn(client);
    });
    this.queue = run.catch(() => {});
    return run;
  }

  private async connect(): Promise<void> {
    const settings = connectionSettings(this.options.url, 'discord-state-cache leases');
    const client = new pg.Client({
      ...settings,
      options: `${settings.options ?? ''} ${SESSION_OPTIONS}`.trim(),
      keepAlive: true,
      keepAliveInitialDelayMillis: 1_000,
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await this.register(client);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    this.client = client;
  }

  /** This instance's row, after checking that every live instance agrees on TOTAL_SHARDS. */
  private async register(client: pg.Client): Promise<void> {
    const { totalShards, shards, advertiseUrl } = this.options;
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1, 0)', [REGISTRATION_NAMESPACE]);
      // Rows of sessions that are gone (instances killed), and this instance's previous row (a reconnect).
      await client.query(`DELETE FROM shard_writers w WHERE w.instance_id = $1 OR NOT ${LIVE}`, [this.instanceId]);
      const others = await client.query<{ total_shards: number; advertise_url: string | null }>(
        'SELECT total_shards, advertise_url FROM shard_writers WHERE total_shards <> $1',
        [totalShards],
      );
      if (others.rows.length > 0) {
        const other = others.rows[0]!;
        throw new StartupError(
          `TOTAL_SHARDS=${totalShards}, but a running instance${other.advertise_url ? ` (${other.advertise_url})` : ''} on this database ` +
            `has TOTAL_SHARDS=${other.total_shards}: every instance must use the same count (stop them all to change it)`,
        );
      }
      await client.query(REGISTER, [this.instanceId, advertiseUrl ?? null, totalShards, shards]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  /** Takes the free leases among this instance's shards that it does not hold. */
  private async acquire(): Promise<void> {
    const wanted = this.options.shards.filter((s) => !this.held.has(s));
    if (wanted.length === 0) return;
    const got = await this.exclusive(async (client) => {
      const rows = (await client.query<{ s: number }>(TRY_LEASES, [LEASE_NAMESPACE, wanted])).rows.map((r) => r.s);
      // The session may have been lost (and replaced) while the answer came back: those leases went with it.
      return client === this.client ? rows : [];
    });
    if (got.length === 0) return;
    for (const s of got) this.held.add(s);
    this.options.log.info({ shards: got, instance: this.instanceId }, 'shard leases acquired: writing these shards');
    this.onAcquired?.(got);
  }

  /** The session ended: every lease went with it. The next poll reconnects and takes back what is free. */
  private lost(client: pg.Client, err?: Error): void {
    if (client !== this.client) return;
    this.client = undefined;
    const gone = [...this.held].sort((a, b) => a - b);
    this.held.clear();
    if (!this.closed) {
      this.options.log.warn(
        { shards: gone, err: err?.message },
        'lost the database session holding the shard leases: not writing those shards until their leases are acquired again',
      );
    }
    void client.end().catch(() => {});
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.tick(), this.options.pollMs ?? 1_000);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      if (!this.client) await this.connect();
      await this.acquire();
      if (this.lastProblem) this.options.log.info({}, 'shard leases: the database answers again');
      this.lastProblem = undefined;
    } catch (err) {
      const problem = err instanceof Error ? err.message : String(err);
      if (!this.closed && problem !== this.lastProblem) {
        const level = err instanceof StartupError ? 'error' : 'warn';
        this.options.log[level]({ err: problem }, 'shard leases: cannot register or acquire; trying again every poll');
      }
      this.lastProblem = problem;
    } finally {
      this.schedule();
    }
  }

  /** Gives every lease back (after the writer committed everything) and leaves. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.exclusive(async (client) => {
      await client.query('DELETE FROM shard_writers WHERE instance_id = $1', [this.instanceId]);
      await client.query('SELECT pg_advisory_unlock_all()');
    }).catch(() => {});
    const client = this.client;
    this.client = undefined;
    this.held.clear();
    await client?.end().catch(() => {});
  }
}
