/**
 * buildApp(deps): the Fastify application, separate from the process entry so tests can `inject()` into it.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions, type RequestPayload } from 'fastify';
import { Feed, type FeedOptions } from '../cache/feed.js';
import { startFeedSource } from '../cache/feed-source.js';
import { Reads } from '../cache/reads.js';
import { Vacuum } from '../cache/vacuum.js';
import { Writer } from '../cache/writer.js';
import type { LogLevel } from '../config.js';
import { StartupError, type Database } from '../db/connect.js';
import { Leases } from '../db/leases.js';
import { TABLE_NAMES, type TableName } from '../db/tables.js';
import { Replica } from '../db/replica.js';
import { stripNulEscapes } from '../discord/nul.js';
import { acceptConsistency, readsChooser } from './consistency.js';
import type { RouteContext } from './context.js';
import { registerDocs } from './docs.js';
import { HttpError, registerErrorHandler } from './errors.js';
import { Metrics } from './metrics.js';
import { AJV_OPTIONS } from './schemas.js';
import { StatusSampler } from './status.js';
import { changesRoutes, type ChangesOptions } from './routes/changes.js';
import { dispatchRoutes } from './routes/dispatch.js';
import { operationsRoutes } from './routes/operations.js';
import { pageRoutes } from './routes/page.js';
import { permissionsRoutes } from './routes/permissions.js';
import { resourceRoutes } from './routes/resources.js';
import { shardsRoutes } from './routes/shards.js';
import { eventsRoutes } from './routes/events.js';
import { statsRoutes } from './routes/stats.js';

export interface AppOptions {
  db: Database;
  /** `postgres://` URL of a streaming replica of `db` (a PostgreSQL database) that serves the GETs. */
  readDatabaseUrl?: string | undefined;
  /** Bearer token required on /v1/* (unset: no auth; main.ts refuses non-loopback binds then). */
  cacheToken?: string | undefined;
  bodyLimit?: number;
  /** Pino level, or `false` for no logging (tests). */
  logLevel?: LogLevel | false;
  messageLimit?: number;
  queueLimit?: number;
  deleteOfflinePresences?: boolean;
  /** Changes merged into one transaction at most. */
  maxBatchChanges?: number;
  /** The tables written and served (CACHE_TABLES); default all. */
  cachedTables?: readonly TableName[];
  /** When autovacuum is not running: vacuum the churning tables this often (ms; 0 = never; see cache/vacuum.ts). */
  vacuumIntervalMs?: number;
  /** Writer tuning (tests): rows from which writes are pipelined, rows per statement (see cache/batch.ts). */
  pipelineRows?: number;
  chunkRows?: number;
  /** Skip GUILD_CREATE parts the cache holds already (default true; see cache/snapshots.ts). */
  skipUnchanged?: boolean;
  /**
   * Shard leases (TOTAL_SHARDS, SHARDS; PostgreSQL only, see db/leases.ts): this instance writes only the shards
   * it holds a lease on, through a session of its own to `url` (the primary of `db`).
   */
  shardLeases?: {
    url: string;
    totalShards: number;
    shards: readonly number[];
    advertiseUrl?: string | undefined;
    /** How often a standby tries to take its shards (ms, default 1 000). */
    pollMs?: number;
  };
  /** The change feed's window and subscriber limits (defaults in cache/feed.ts and http/routes/changes.ts). */
  feed?: FeedOptions & ChangesOptions;
}

export type { FastifyInstance };

function tokenMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * `Content-Encoding: gzip` (or deflate, br) bodies are decoded before parsing: an event handler forwarding
 * large batches may compress them. BODY_LIMIT applies to the decoded bytes (no zip bombs); a corrupt stream
 * is a 400; another encoding is a 415.
 */
async function decodeBody(request: FastifyRequest, _reply: unknown, payload: RequestPayload): Promise<RequestPayload> {
  const encoding = request.headers['content-encoding']?.trim().toLowerCase();
  if (encoding === undefined || encoding === '' || encoding === 'identity') return payload;
  const decoder = DECODERS[encoding];
  if (!decoder) throw new HttpError('UNSUPPORTED_MEDIA_TYPE', `content-encoding ${encoding} is not supported: send gzip, deflate, br or identity`);
  const decoded = decoder() as Transform & { receivedEncodedLength: number };
  // Fastify compares this with Content-Length, and the decoded length with BODY_LIMIT.
  decoded.receivedEncodedLength = 0;
  payload.on('data', (chunk: Buffer) => (decoded.receivedEncodedLength += chunk.length));
  payload.on('error', (err) => decoded.destroy(err));
  decoded.on('error', (err: Error & { statusCode?: number }) => {
    err.statusCode ??= 400;
    err.message = `body: ${encoding} stream: ${err.message}`;
  });
  payload.pipe(decoded);
  return decoded;
}

/** The `/v1` scope's hook: 401 unless `Authorization: Bearer <token>`. */
function bearerAuth(token: string) {
  return async (request: FastifyRequest) => {
    if (!tokenMatches(request.headers.authorization, token)) {
      throw new HttpError('UNAUTHORIZED', 'missing or wrong bearer token: send Authorization: Bearer <CACHE_TOKEN>');
    }
  };
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const bodyLimit = options.bodyLimit ?? 32 * 1024 * 1024;
  const logger: FastifyServerOptions['logger'] = options.logLevel === false ? false : { level: options.logLevel ?? 'info' };
  const app = Fastify({ logger, bodyLimit, forceCloseConnections: false, return503OnClosing: true, ajv: AJV_OPTIONS });

  const cached: ReadonlySet<TableName> = new Set(options.cachedTables ?? TABLE_NAMES);
  const replica = options.readDatabaseUrl ? new Replica(options.readDatabaseUrl, options.db, app.log) : undefined;
  const metrics = new Metrics({ replica: replica !== undefined, leases: options.shardLeases !== undefined });
  if (options.shardLeases && options.db.kind !== 'postgres') {
    throw new StartupError('shard leases need PostgreSQL: the embedded database belongs to one process, which writes every shard');
  }
  const leases = options.shardLeases && (await Leases.start({ ...options.shardLeases, log: app.log }));
  const feed = new Feed(options.feed);
  const feedSource = await startFeedSource(options.db, feed, app.log);
  const writer = new Writer(
    leases ? leases.target : options.db,
    {
      queueLimit: options.queueLimit ?? 10_000,
      messageLimit: options.messageLimit ?? 200,
      cached,
      ...(options.maxBatchChanges !== undefined ? { maxBatchChanges: options.maxBatchChanges } : {}),
      ...(options.pipelineRows !== undefined ? { pipelineRows: options.pipelineRows } : {}),
      ...(options.chunkRows !== undefined ? { chunkRows: options.chunkRows } : {}),
      ...(options.skipUnchanged !== undefined ? { skipUnchanged: options.skipUnchanged } : {}),
      ...(leases ? { holds: (shard: number) => leases.holds(shard) } : {}),
    },
    {
      onCommit: (info) => {
        metrics.onCommit(info);
        vacuum.written();
      },
      onConflict: () => metrics.conflictRetries.inc(),
      publisher: feedSource.publisher,
    },
  );
  if (leases) {
    leases.onAcquired = (shards) => {
      writer.forgetShards(shards);
      metrics.leases?.acquired.inc(shards.length);
    };
  }
  const vacuum = new Vacuum(options.db, options.vacuumIntervalMs ?? 60_000, {
    onVacuum: ({ seconds }) => metrics.vacuumSeconds.observe(seconds),
    onError: (err) => app.log.warn({ err: (err as Error).message }, 'vacuum failed; retried later'),
  });
  const reads = new Reads(options.db);
  const ctx: RouteContext = {
    db: options.db,
    writer,
    reads,
    readsFor: readsChooser(reads, replica && new Reads(replica.sql)),
    replica,
    leases,
    metrics,
    deleteOfflinePresences: options.deleteOfflinePresences ?? false,
    cached,
    feed,
    status: new StatusSampler({ metrics, writer, feed, reads, cached }),
  };
  app.decorate('cache', ctx);

  // JSON allows \u0000, PostgreSQL text/jsonb do not: strip it before parsing (see discord/nul.ts).
  // An empty body is no body (PUT /v1/unavailable-guilds/:id takes none); routes that need one answer 400.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // JSON only: any other media type (Fastify also parses text/plain by default) is a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    return parseJson(request, stripNulEscapes(body as string), done);
  });

  registerErrorHandler(app);
  app.addHook('preParsing', decodeBody);

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  // Change feed streams never end by themselves: end them, or closing would wait for them.
  app.addHook('preClose', async () => {
    ctx.status.stop();
    feed.stop();
  });
  // Everything accepted is committed before the process lets go of the database.
  app.addHook('onClose', async () => {
    await vacuum.stop();
    await writer.close();
    await feedSource.close();
    await leases?.close(); // after the last commit: a standby takes the shards over
    await replica?.close();
  });
  try {
    if (await vacuum.start()) app.log.info({ intervalMs: options.vacuumIntervalMs ?? 60_000 }, 'autovacuum is not running: the service vacuums messages and presences itself');
  } catch (err) {
    app.log.warn({ err: (err as Error).message }, 'could not tell whether autovacuum runs; not vacuuming');
  }

  // Before the routes: this hook adds `consistency` to the GETs, and swagger (after it, so it documents that)
  // collects the routes registered after it.
  app.addHook('onRoute', acceptConsistency);
  await registerDocs(app);

  operationsRoutes(app, ctx);
  pageRoutes(app);
  // Every cache route lives in the /v1 scope, and its token check hangs on the scope: it runs for every route
  // the router matched there, whatever spelling of the URL reached it (`/%761/stats` is routed to /v1/stats).
  await app.register(
    async (v1) => {
      if (options.cacheToken) v1.addHook('onRequest', bearerAuth(options.cacheToken));
      statsRoutes(v1, ctx);
      dispatchRoutes(v1, ctx);
      shardsRoutes(v1, ctx);
      eventsRoutes(v1);
      resourceRoutes(v1, ctx);
      permissionsRoutes(v1, ctx);
      changesRoutes(v1, ctx, options.feed);
    },
    { prefix: '/v1' },
  );

  await app.ready();
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    cache: RouteContext;
  }
}
