/** POST /v1/dispatch: gateway payloads in, committed before the answer. */
import type { FastifyInstance } from 'fastify';
import type { Change } from '../../cache/changes.js';
import { ShardNotHeldError, UnavailableError, isUnavailable } from '../../cache/errors.js';
import { KNOWN_EVENTS, mapDispatch } from '../../cache/events/index.js';
import { eventShard } from '../../cache/shards.js';
import { PayloadError } from '../../discord/errors.js';
import type { RouteContext } from '../context.js';
import { setChangeId } from '../change-id.js';
import { putResponses } from '../schemas.js';
import { explainNotHeld, requireLeases } from './shards.js';

const schema = {
  tags: ['ingest'],
  summary: 'Apply gateway dispatches to the cache',
  description:
    'Body: a gateway payload `{ op, t, s, d }`, a Discordeno big-bot forward `{ payload, shardId }`, or an array ' +
    'of either, applied in array order. Answers once everything is committed. Atomic: on 400 nothing of the ' +
    'request is applied. Untracked events and non-dispatch opcodes are counted as ignored. A forward whose ' +
    '`s` its shard already applied (a resent batch) is a duplicate: not applied, counted in `duplicates`. ' +
    'With TOTAL_SHARDS, an instance applies only events of the shards it holds a lease on: a request with an ' +
    'event of any other shard is refused whole (421 SHARD_NOT_HELD, naming each such shard and its holder).',
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

  app.post('/dispatch', { schema }, async (request, reply) => {
    const body = request.body;
    const items = Array.isArray(body) ? body : [body];
    if (body === undefined || body === null) throw new PayloadError('body', 'is required (a gateway payload or an array of them)');
    const changes: Change[] = [];
    const types: [string, boolean, string | undefined][] = [];
    let tracked = 0;
    let duplicates: string[] = [];
    // The shards the request writes (leases only): every one must be held here.
    const shards = new Set<number>();
    try {
      for (let i = 0; i < items.length; i++) {
        const path = Array.isArray(body) ? `body[${i}]` : 'body';
        const mapped = mapDispatch(items[i], path, options);
        types.push([mapped.type, mapped.tracked, mapped.sequence && `${mapped.sequence.shardId}:${mapped.sequence.seq}`]);
        if (!mapped.tracked) continue;
        if (ctx.leases) shards.add(eventShard(items[i] as Record<string, unknown>, ctx.leases.totalShards, path));
        tracked++;
        if (mapped.sequence) changes.push({ kind: 'sequenced', ...mapped.sequence, changes: mapped.changes });
        else for (const c of mapped.changes) changes.push(c);
      }
      requireLeases(ctx, shards);
      if (changes.length > 0) {
        const result = await ctx.writer.submit(changes, tracked, [...shards]);
        duplicates = result.duplicates;
        setChangeId(reply, result.changeId);
      }
    } catch (err) {
      if (err instanceof UnavailableError || isUnavailable(err)) ctx.metrics.totals.unavailable++;
      else if (err instanceof ShardNotHeldError) ctx.metrics.totals.misdirected++;
      else ctx.metrics.totals.rejected++;
      throw await explainNotHeld(ctx, err);
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
