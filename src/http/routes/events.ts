/**
 * GET /v1/events: the gateway events the cache tracks, and those it ignores. The typed client reads it to
 * resolve untracked events (INTERACTION_CREATE, …) at once, without sending them or waiting behind others.
 */
import type { FastifyInstance } from 'fastify';
import { IGNORED_EVENTS, trackedEvents } from '../../cache/events/index.js';

export function eventsRoutes(app: FastifyInstance) {
  const names = { type: 'array', items: { type: 'string' } };
  const answer = { tracked: [...trackedEvents].sort(), ignored: [...IGNORED_EVENTS].sort() };
  app.get(
    '/events',
    {
      schema: {
        tags: ['ingest'],
        summary: 'Gateway event names the cache tracks (anything else is ignored: not stored, nothing to wait for)',
        response: { 200: { type: 'object', properties: { tracked: names, ignored: names }, required: ['tracked', 'ignored'] } },
      },
    },
    async () => answer,
  );
}
