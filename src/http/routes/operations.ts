/** /health, /ready and /metrics: no token needed. */
import type { FastifyInstance } from 'fastify';
import { TABLE_NAMES, type TableName } from '../../db/tables.js';
import type { RouteContext } from '../context.js';

const tags = ['operations'];
/** No token on these routes. */
const security: [] = [];

export function operationsRoutes(app: FastifyInstance, ctx: RouteContext) {
  app.get('/health', { schema: { tags, security, summary: '200 while the process runs' } }, async () => ({ status: 'ok' }));

  const readySummary =
    '200 when the database answers and no migration is pending, else 503; with a read replica, its lag ' +
    '(a replica that lags or is unreachable does not make it 503: GETs then read the primary)';
  app.get('/ready', { schema: { tags, security, summary: readySummary } }, async (_request, reply) => {
    try {
      await ctx.db.ping();
      const pending = await ctx.db.pendingMigrations();
      if (pending.length > 0) {
        return reply.code(503).send({ status: 'pending migrations', pending });
      }
      if (!ctx.replica) return { status: 'ready' };
      const replica = await ctx.replica.status();
      return {
        status: 'ready',
        replica: { reachable: replica.reachable, lag_seconds: replica.lagSeconds, lag_bytes: replica.lagBytes },
      };
    } catch {
      return reply.code(503).header('retry-after', '2').send({ status: 'database unreachable' });
    }
  });

  app.get('/metrics', { schema: { tags, security, summary: 'Prometheus metrics (text format)' } }, async (_request, reply) => {
    ctx.metrics.queueDepth.set(ctx.writer.depth);
    if (ctx.leases && ctx.metrics.leases) {
      const { held, standby } = ctx.leases.state();
      ctx.metrics.leases.held.set(held.length);
      ctx.metrics.leases.standby.set(standby.length);
    }
    if (ctx.replica && ctx.metrics.replica) {
      const { reachable, lagSeconds, lagBytes } = await ctx.replica.status();
      ctx.metrics.replica.up.set(reachable ? 1 : 0);
      ctx.metrics.replica.lagSeconds.set(lagSeconds ?? NaN);
      ctx.metrics.replica.lagBytes.set(lagBytes ?? NaN);
    }
    try {
      const counts = await ctx.reads.counts(TABLE_NAMES.filter((t) => ctx.cached.has(t)));
      for (const [table, n] of Object.entries(counts)) ctx.metrics.tableRows.set({ table: table as TableName }, n);
    } catch {
      // the database is down: serve the process metrics anyway
    }
    reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}
