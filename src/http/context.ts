import type { FastifyRequest } from 'fastify';
import type { Feed } from '../cache/feed.js';
import type { Reads } from '../cache/reads.js';
import type { Writer } from '../cache/writer.js';
import type { Database } from '../db/connect.js';
import type { TableName } from '../db/tables.js';
import type { Leases } from '../db/leases.js';
import type { Replica } from '../db/replica.js';
import type { Metrics } from './metrics.js';
import type { StatusSampler } from './status.js';

/** What route plugins get from the app. */
export interface RouteContext {
  db: Database;
  writer: Writer;
  /** Reads on the primary: what a write answers, and what GETs use without a replica. */
  reads: Reads;
  /** The reads of a GET: the replica's (READ_DATABASE_URL) unless it asks for the primary (`consistency.ts`). */
  readsFor(request: FastifyRequest): Reads;
  /** READ_DATABASE_URL, when set: its lag for /ready and /metrics. */
  replica: Replica | undefined;
  /** Shard leases (TOTAL_SHARDS), when set: writes only for the shards held (db/leases.ts). */
  leases: Leases | undefined;
  metrics: Metrics;
  deleteOfflinePresences: boolean;
  /** The tables in the cache scope (CACHE_TABLES). */
  cached: ReadonlySet<TableName>;
  /** The change feed this instance serves (`GET /v1/changes`). */
  feed: Feed;
  /** The status page's figures (`stats` events). */
  status: StatusSampler;
}
