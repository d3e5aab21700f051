/** POST /v1/dispatch: gateway payloads in, committed before the answer. */
import type { FastifyInstance } from 'fastify';
import type { Change } from '../../cache/changes.js';
import { UnavailableError, isUnavailable } from '../../cache/errors.js';
import { KNOWN_EVENTS, mapDispatch } from '../../cache/events/index.js';
import { PayloadError } from '../../discord/errors.js';
import type { RouteContext } from '../context.js';
import { setChangeId } from '../change-id.js';
import { putResponses } from '../schemas.js';

const schema = {
  tags: ['ingest'],
  summary: 'Apply gateway dispatches to the cache',
  description:
    'Body: a gateway payload `{ op, t, s, d }`, a Discordeno big-bot forward `{ payload, shardId }`, or an array ' +
    'of either, applied in array order. Answers once everything is committed. Atomic: on 400 nothing of the ' +
    'request is applied. Untracked events and non-dispatch opcodes are counted as ignored.',
  body: {
    description: 'A gateway payload, a `{ payload, shardId }` forward, or an array of them (raw snake_case packets)',
  },
  response: putResponses({
    type: 'object',
    properties: {
      applied: { type: 'integer', description: 'tracked events processed' },
      ignored: { type: 'integer', description: 'events the cache does not track' },
    },
    required: ['applied', 'ignored'],
  }),
};

/** Gateway opcodes other than dispatch (0), as the `op:<n>` labels of /metrics. */
const KNOWN_OPCODES: ReadonlySet<string> = new Set([1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 31].map((op) => `op:${op}`));

export function dispatchRoutes(app: FastifyInstance, ctx: RouteContext) {
  const options = { deleteOfflinePresences: ctx.deleteOfflinePresences };

  app.post('/dispatch', { schema }, async (request, reply) => {
    const body = request.body;
    const items = Array.isArray(body) ? body : [body];
    if (body === undefined || body === null) throw new PayloadError('body', 'is required (a gateway payload or an array of them)');
    const changes: Change[] = [];
    const types: [string, boolean][] = [];
    let applied = 0;
    try {
      for (let i = 0; i < items.length; i++) {
        const mapped = mapDispatch(items[i], Array.isArray(body) ? `body[${i}]` : 'body', options);
        types.push([mapped.type, mapped.tracked]);
        if (mapped.tracked) {
          applied++;
          for (const c of mapped.changes) changes.push(c);
        }
      }
      if (changes.length > 0) setChangeId(reply, await ctx.writer.submit(changes, applied));
    } catch (err) {
      if (err instanceof UnavailableError || isUnavailable(err)) ctx.metrics.totals.unavailable++;
      else ctx.metrics.totals.rejected++;
      throw err;
    }
    for (const [type, tracked] of types) {
      // Names come from clients: only known event names and opcodes become labels (a bounded set).
      const label = KNOWN_EVENTS.has(type) || KNOWN_OPCODES.has(type) ? type : 'other';
      ctx.metrics.events.inc({ type: label, outcome: tracked ? 'applied' : 'ignored' });
    }
    ctx.metrics.totals.applied += applied;
    ctx.metrics.totals.ignored += items.length - applied;
    return { applied, ignored: items.length - applied };
  });
}
