/** GET /v1/changes: the change feed as server-sent events (see http/event-stream.ts and cache/feed.ts). */
import type { FastifyInstance } from 'fastify';
import { TABLE_NAMES, type TableName } from '../../db/tables.js';
import type { RouteContext } from '../context.js';
import { HttpError } from '../errors.js';
import { EventStream, type StreamFilter } from '../event-stream.js';
import { snowflake } from '../schemas.js';

export interface ChangesOptions {
  /** Bytes waiting in a subscriber's socket beyond which it is reset rather than written to (default 4 MiB). */
  maxBuffered?: number;
  /** Heartbeat period (ms, default 10,000). */
  heartbeatMs?: number;
}

const description =
  'Server-sent events: after each commit, what it changed (`change`: `{ id, changes }`, each change a row ' +
  '`{ table, op: "upsert" | "delete", key }` or a set `{ table, scope: { guild_id } | { channel_id } | {} }`), ' +
  'with an increasing `id:`. `Last-Event-ID` resumes after that commit when it is still in the window; ' +
  'otherwise, and when a subscriber falls behind, a `reset` event says to read everything again. `ready` ' +
  'follows the reset or the missed commits; `heartbeat` events carry the position; `?stats=1` adds the ' +
  'status page\'s `stats` events. 503 while the feed is down (its LISTEN connection is lost).';

export function changesRoutes(app: FastifyInstance, ctx: RouteContext, options: ChangesOptions = {}) {
  const schema = {
    tags: ['feed'],
    summary: 'The change feed (server-sent events)',
    description,
    querystring: {
      type: 'object',
      properties: {
        tables: { type: 'string', description: `Comma-separated tables to receive (default all): ${TABLE_NAMES.join(', ')}` },
        guild_id: { ...snowflake, description: "Only this guild's changes (and those whose guild the change does not name: users, rows deleted by id)" },
        stats: { type: 'string', enum: ['0', '1', 'false', 'true'], description: '`1`: also `stats` events, once a second (the status page)' },
      },
    },
  };

  app.get<{ Querystring: { tables?: string; guild_id?: string; stats?: string } }>('/changes', { schema }, async (request, reply) => {
    const filter: StreamFilter = { guildId: request.query.guild_id };
    if (request.query.tables !== undefined && request.query.tables !== '') {
      const names = request.query.tables.split(',').map((s) => s.trim());
      const unknown = names.filter((n) => !(TABLE_NAMES as string[]).includes(n));
      if (unknown.length > 0) throw new HttpError('INVALID_PARAM', `querystring.tables: unknown table ${unknown.join(', ')} (known: ${TABLE_NAMES.join(', ')})`);
      filter.tables = new Set(names as TableName[]);
    }
    if (!ctx.feed.live) {
      reply.header('retry-after', '1');
      throw new HttpError('UNAVAILABLE', 'the change feed is down (its database connection is lost): retry later');
    }
    const lastEventId = request.headers['last-event-id'];
    const since = typeof lastEventId === 'string' && /^\d{1,15}$/.test(lastEventId.trim()) ? Number(lastEventId) : undefined;

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 1000\n\n');
    const stream = new EventStream(res, filter, {
      maxBuffered: options.maxBuffered ?? 4 * 1024 * 1024,
      heartbeatMs: options.heartbeatMs ?? 10_000,
      position: () => ctx.feed.position,
    });
    const subscribed = ctx.feed.subscribe(stream, since);
    if ('reset' in subscribed) stream.reset(subscribed.reset, subscribed.reason);
    else for (const event of subscribed.replay) stream.change(event);
    stream.ready(ctx.feed.position);
    const stopStats = request.query.stats === '1' || request.query.stats === 'true' ? ctx.status.add((json) => stream.stats(json)) : undefined;
    res.on('close', () => {
      ctx.feed.unsubscribe(stream);
      stream.dispose();
      stopStats?.();
    });
  });
}
