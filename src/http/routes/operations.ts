/** /health, /ready and /metrics: no token needed. */
import type { FastifyInstance } from 'fastify';
import type { TableName } from '../../db/schema.js';
import type { RouteContext } from '../context.js';

export function operationsRoutes(app: FastifyInstance, ctx: RouteContext) {
  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_request, reply) => {
    try {
      await ctx.db.ping();
      const pending = await ctx.db.pendingMigrations();
      if (pending.length > 0) {
        return reply.code(503).send({ status: 'pending migrations', pending });
      }
      return { status: 'ready' };
    } catch {
      return reply.code(503).header('retry-after', '2').send({ status: 'database unreachable' });
    }
  });

  app.get('/metrics', async (_request, reply) => {
    ctx.metrics.queueDepth.set(ctx.writer.depth);
    try {
      const counts = await ctx.reads.counts();
      for (const [table, n] of Object.entries(counts)) ctx.metrics.tableRows.set({ table: table as TableName }, n);
    } catch {
      // the database is down: serve the process metrics anyway
    }
    reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}
