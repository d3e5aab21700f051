/** GET /v1/stats: rows per table and ingest counters. */
import type { FastifyInstance } from 'fastify';
import { TABLE_NAMES } from '../../db/tables.js';
import type { RouteContext } from '../context.js';

/** Rows of each cached table (those left out of CACHE_TABLES are not listed) and ingest counters. */
export function statsRoutes(app: FastifyInstance, ctx: RouteContext) {
  const schema = { tags: ['computed'], summary: 'Rows per cached table and ingest counters' };
  const tables = TABLE_NAMES.filter((t) => ctx.cached.has(t));
  app.get('/stats', { schema }, async (request) => ({
    tables: await ctx.readsFor(request).counts(tables),
    ingest: { ...ctx.metrics.totals, queue_depth: ctx.writer.depth },
  }));
}
