/** GET /v1/stats: rows per table and ingest counters. */
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';

export function statsRoutes(app: FastifyInstance, ctx: RouteContext) {
  const schema = { tags: ['computed'], summary: 'Rows per table and ingest counters' };
  app.get('/stats', { schema }, async (request) => ({
    tables: await ctx.readsFor(request).counts(),
    ingest: { ...ctx.metrics.totals, queue_depth: ctx.writer.depth },
  }));
}
