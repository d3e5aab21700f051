/** GET /v1/shards: per shard, the gateway session and the last sequence number applied (exactly once, cache/sequence.ts). */
import type { FastifyInstance } from 'fastify';
import { LIST_SHARDS } from '../../cache/sequence.js';
import type { RouteContext } from '../context.js';

const shard = {
  type: 'object',
  properties: {
    shard_id: { type: 'integer' },
    session_id: { type: 'string', nullable: true, description: "READY's session_id (null until a READY was forwarded)" },
    last_sequence: { type: 'integer', description: 'the last `s` applied from this shard' },
    last_event_at: { type: 'string', format: 'date-time' },
    events_applied: { type: 'integer', description: 'sequenced events applied from this shard' },
  },
  required: ['shard_id', 'session_id', 'last_sequence', 'last_event_at', 'events_applied'],
};

export function shardsRoutes(app: FastifyInstance, ctx: RouteContext) {
  app.get(
    '/shards',
    {
      schema: {
        tags: ['ingest'],
        summary: 'Shards that forwarded sequenced events: session, last sequence number, last event time, events applied',
        response: { 200: { type: 'array', items: shard } },
      },
    },
    async () =>
      (await ctx.db.query(LIST_SHARDS)).map((r) => ({
        ...r,
        last_sequence: Number(r.last_sequence),
        events_applied: Number(r.events_applied),
      })),
  );
}
