/** Prometheus metrics of one app instance (its own registry, so tests can build many apps). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CommitInfo } from '../cache/writer.js';

export class Metrics {
  readonly registry = new Registry();
  /** With READ_DATABASE_URL only (sampled at scrape time; NaN while unknown). */
  readonly replica: { up: Gauge; lagSeconds: Gauge; lagBytes: Gauge } | undefined;
  /** With TOTAL_SHARDS only (held and standby sampled at scrape time). */
  readonly leases: { held: Gauge; standby: Gauge; acquired: Counter } | undefined;

  readonly requests = new Counter({
    name: 'dsc_http_requests_total',
    help: 'HTTP requests answered, by route and status code',
    labelNames: ['method', 'route', 'status'],
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    name: 'dsc_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: 'dsc_events_total',
    help: 'Gateway events received, by type and outcome (applied = tracked and committed, ignored = not tracked, duplicate = a forward its shard had already applied)',
    labelNames: ['type', 'outcome'],
    registers: [this.registry],
  });
  readonly batchEvents = new Histogram({
    name: 'dsc_batch_events',
    help: 'Events per committed transaction (group commit size)',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000],
    registers: [this.registry],
  });
  readonly commitSeconds = new Histogram({
    name: 'dsc_commit_duration_seconds',
    help: 'Time to apply and commit one transaction',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly statements = new Counter({
    name: 'dsc_statements_total',
    help: 'SQL statements run by the writer',
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'dsc_write_queue_depth',
    help: 'Events waiting for the writer',
    registers: [this.registry],
  });
  readonly vacuumSeconds = new Histogram({
    name: 'dsc_vacuum_duration_seconds',
    help: 'VACUUM runs of the churning tables by the service (only when autovacuum is not running)',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly conflictRetries = new Counter({
    name: 'dsc_write_conflict_retries_total',
    help: 'Transactions run again after a deadlock or serialization failure (other instances writing the shared users rows)',
    registers: [this.registry],
  });
  readonly tableRows = new Gauge({
    name: 'dsc_table_rows',
    help: 'Rows per cache table (sampled at scrape time)',
    labelNames: ['table'],
    registers: [this.registry],
  });

  /**
   * Ingest totals for /v1/stats: events applied and ignored, transactions committed, dispatch requests
   * rejected (400), refused for unavailability (503) and sent to an instance that does not hold their
   * shard (421).
   */
  readonly totals = { applied: 0, ignored: 0, duplicates: 0, transactions: 0, rejected: 0, unavailable: 0, misdirected: 0 };

  constructor(options: { replica?: boolean; leases?: boolean } = {}) {
    this.leases = options.leases
      ? {
          held: new Gauge({ name: 'dsc_shard_leases_held', help: 'Shards whose lease this instance holds (it writes them)', registers: [this.registry] }),
          standby: new Gauge({
            name: 'dsc_shard_leases_standby',
            help: 'Shards this instance was started for whose lease another instance holds (it takes them over when that one dies)',
            registers: [this.registry],
          }),
          acquired: new Counter({
            name: 'dsc_shard_lease_acquisitions_total',
            help: 'Shard leases acquired by this instance (at start, and on taking over from a dead holder)',
            registers: [this.registry],
          }),
        }
      : undefined;
    if (!options.replica) return;
    this.replica = {
      up: new Gauge({
        name: 'dsc_replica_up',
        help: '1 when the read replica (READ_DATABASE_URL) answers, 0 while GETs fall back to the primary',
        registers: [this.registry],
      }),
      lagSeconds: new Gauge({
        name: 'dsc_replica_lag_seconds',
        help: 'Read replica lag: 0 when it has replayed all the primary has written, else the age of the newest transaction it has replayed',
        registers: [this.registry],
      }),
      lagBytes: new Gauge({
        name: 'dsc_replica_lag_bytes',
        help: 'WAL bytes the primary has written that the read replica has not replayed yet',
        registers: [this.registry],
      }),
    };
  }

  onCommit = (info: CommitInfo) => {
    this.totals.transactions++;
    this.batchEvents.observe(info.events);
    this.commitSeconds.observe(info.seconds);
    this.statements.inc(info.statements);
  };
}
