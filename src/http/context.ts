import type { Reads } from '../cache/reads.js';
import type { Writer } from '../cache/writer.js';
import type { Database } from '../db/connect.js';
import type { Metrics } from './metrics.js';

/** What route plugins get from the app. */
export interface RouteContext {
  db: Database;
  writer: Writer;
  reads: Reads;
  metrics: Metrics;
  deleteOfflinePresences: boolean;
}
