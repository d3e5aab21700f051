/** POST /v1/dispatch: gateway payloads in, committed before the answer. */
import type { FastifyInstance } from 'fastify';
import type { Change } from '../../cache/changes.js';
import { UnavailableError, isUnavailable } from '../../cache/errors.js';
import { KNOWN_EVENTS, mapDispatch } from '../../cache/events/index.js';
import { PayloadError } from '../../discord/errors.js';
import type { RouteContext } from '../context.js';
import { putResponses } from '../schemas.js';

const schema = {
  tags: ['ingest'],
  summary: 'Apply gateway dispatches to the cache',
  description:
    'Body: a gateway payload `{ op, t, s, d }`, a Discordeno big-bot forward `{ payload, shardId }`, or an array ' +
    'of either, applied in array order. Answers once everything is committed. Atomic: on 400 nothing of the ' +
    'request is applied. Untracked events and non-dispatch opcodes are counted as ignored. A forward whose ' +
    '`s` its shard already applied (a resent batch) is a duplicate: not applied, counted in `duplicates`.',
  body: {
    description: 'A gateway payload, a `{ payload, shardId }` forward, or an array of them (raw snake_case packets)',
  },
  response: putResponses({
    type: 'object',
    properties: {
      applied: { type: 'integer', description: 'tracked events processed' },
      ignored: { type: 'integer', description: 'events the cache does not track' },
      duplicates: { type: 'integer', description: 'forwards their shard had already applied (exactly once)' },
    },
    required: ['applied', 'ignored', 'duplicates'],
  }),
};

/** Gateway opcodes other than dispatch (0), as the `op:<n>` labels of /metrics. */
const KNOWN_OPCODES: ReadonlySet<string> = new Set([1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 31].map((op) => `op:${op}`));

export function dispatchRoutes(app: FastifyInstance, ctx: RouteContext) {
  const options = { deleteOfflinePresences: ctx.deleteOfflinePresences };

  app.post('/dispatch', { schema }, async (request) => {
    const body = request.body;
    const items = Array.isArray(body) ? body : [body];
    if (body === undefined || body === null) throw new PayloadError('body', 'is required (a gateway payload or an array of them)');
    const changes: Change[] = [];
    const types: [string, boolean, string | undefined][] = [];
    let tracked = 0;
    let duplicates: string[] = [];
    try {
      for (let i = 0; i < items.length; i++) {
        const mapped = mapDispatch(items[i], Array.isArray(body) ? `body[${i}]` : 'body', options);
        types.push([mapped.type, mapped.tracked, mapped.sequence && `${mapped.sequence.shardId}:${mapped.sequence.seq}`]);
        if (!mapped.tracked) continue;
        tracked++;
        if (mapped.sequence) changes.push({ kind: 'sequenced', ...mapped.sequence, changes: mapped.changes });
        else for (const c of mapped.changes) changes.push(c);
      }
      if (changes.length > 0) ({ duplicates } = await ctx.writer.submit(changes, tracked));
    } catch (err) {
      if (err instanceof UnavailableError || isUnavailable(err)) ctx.metrics.totals.unavailable++;
      else ctx.metrics.totals.rejected++;
      throw err;
    }
    const skipped = new Set(duplicates);
    for (const [type, isTracked, seq] of types) {
      // Names come from clients: only known event names and opcodes become labels (a bounded set).
      const label = KNOWN_EVENTS.has(type) || KNOWN_OPCODES.has(type) ? type : 'other';
      ctx.metrics.events.inc({ type: label, outcome: !isTracked ? 'ignored' : seq !== undefined && skipped.has(seq) ? 'duplicate' : 'applied' });
    }
    const applied = tracked - duplicates.length;
    ctx.metrics.totals.applied += applied;
    ctx.metrics.totals.ignored += items.length - tracked;
    ctx.metrics.totals.duplicates += duplicates.length;
    return { applied, ignored: items.length - tracked, duplicates: duplicates.length };
  });
}
