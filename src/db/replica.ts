/**
 * READ_DATABASE_URL: a streaming (physical) replica of the primary that serves the GETs.
 *
 * - `sql` runs reads on the replica. When the replica cannot be reached (connecting fails), it is marked down
 *   and reads go to the primary until a probe, once a second, reaches it again; a read cut by the connection
 *   (the replica restarting) or cancelled by a recovery conflict is run again on the primary. A bot's reads
 *   thus keep working, fresher rather than staler, while the replica is away.
 * - `status()` measures the lag: the WAL the primary has flushed that the replica has not replayed yet
 *   (bytes), and, when that is not zero, the age of the newest transaction the replica has replayed
 *   (seconds; 0 when it has replayed everything).
 */
import type pg from 'pg';
import { isUnavailable } from '../cache/errors.js';
import { postgresPool, runOn, type Sql } from './connect.js';

export interface ReplicaStatus {
  reachable: boolean;
  /** null: unknown (unreachable, the primary did not answer, or not a streaming replica). */
  lagSeconds: number | null;
  lagBytes: number | null;
}

/** Where the replica going down and coming back is told (the app's logger). */
export interface ReplicaLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** A probe a second while the replica is down: the price is one connection attempt per second. */
const PROBE_MS = 1_000;

const REPLICA_POSITION =
  'SELECT pg_last_wal_replay_lsn()::text AS replayed, ' +
  'extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replayed_age';
const PRIMARY_POSITION = 'SELECT pg_current_wal_flush_lsn()::text AS flushed';

/** A WAL position `X/Y` (hex) as a number of bytes. */
function lsnBytes(lsn: string): bigint {
  const [hi = '0', lo = '0'] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

export class Replica {
  private readonly pool: pg.Pool;
  private down = false;
  private closed = false;
  private probe: NodeJS.Timeout | undefined;

  constructor(
    url: string,
    private readonly primary: Sql,
    private readonly log: ReplicaLog,
  ) {
    this.pool = postgresPool(url);
  }

  /** Reads: on the replica, or on the primary while the replica is unreachable. */
  readonly sql: Sql = {
    query: <R extends Record<string, unknown>>(text: string, params?: unknown[], name?: string) => this.read<R>(text, params, name),
  };

  private async read<R extends Record<string, unknown>>(text: string, params?: unknown[], name?: string): Promise<R[]> {
    if (this.down) return this.primary.query<R>(text, params, name);
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      this.markDown(err);
      return this.primary.query<R>(text, params, name);
    }
    try {
      const rows = await runOn(client)<R>(text, params, name);
      client.release();
      return rows;
    } catch (err) {
      const lost = isUnavailable(err);
      client.release(lost); // a broken connection is dropped, not reused
      if (!lost) throw err;
      return this.primary.query<R>(text, params, name);
    }
  }

  /** Reachability and lag, measured now (also brings a recovered replica back into use). */
  async status(): Promise<ReplicaStatus> {
    const [replica, primary] = await Promise.allSettled([
      this.pool.query<{ replayed: string | null; replayed_age: number | null }>(REPLICA_POSITION),
      this.primary.query<{ flushed: string }>(PRIMARY_POSITION),
    ]);
    if (replica.status === 'rejected') {
      this.markDown(replica.reason);
      return { reachable: false, lagSeconds: null, lagBytes: null };
    }
    this.markUp();
    const { replayed, replayed_age: age } = replica.value.rows[0] ?? { replayed: null, replayed_age: null };
    const flushed = primary.status === 'fulfilled' ? primary.value[0]?.flushed : undefined;
    // Not in recovery (not a physical standby): its position says nothing about the primary's.
    if (replayed == null || flushed === undefined) return { reachable: true, lagSeconds: null, lagBytes: null };
    // The two positions are read at about the same time; the replica may be read after it moved past.
    const behind = lsnBytes(flushed) - lsnBytes(replayed);
    const lagBytes = behind > 0n ? Number(behind) : 0;
    const lagSeconds = lagBytes === 0 ? 0 : age === null ? null : Math.max(0, age);
    return { reachable: true, lagSeconds, lagBytes };
  }

  private markDown(err: unknown): void {
    if (this.down || this.closed) return;
    this.down = true;
    this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'read replica unreachable: GETs read from the primary');
    this.scheduleProbe();
  }

  /** The next probe once this one answered (a connection attempt can take the pool's 5 s timeout). */
  private scheduleProbe(): void {
    this.probe = setTimeout(async () => {
      this.probe = undefined;
      await this.status();
      if (this.down && !this.closed && !this.probe) this.scheduleProbe();
    }, PROBE_MS);
    this.probe.unref();
  }

  private markUp(): void {
    if (!this.down) return;
    this.down = false;
    clearTimeout(this.probe);
    this.probe = undefined;
    this.log.info({}, 'read replica reachable again: GETs read from it');
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probe);
    this.probe = undefined;
    await this.pool.end();
  }
}
