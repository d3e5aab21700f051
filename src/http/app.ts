/**
 * buildApp(deps): the Fastify application, separate from the process entry so tests can `inject()` into it.
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { Reads } from '../cache/reads.js';
import { Writer } from '../cache/writer.js';
import type { LogLevel } from '../config.js';
import type { Database } from '../db/connect.js';
import { Replica } from '../db/replica.js';
import { stripNulEscapes } from '../discord/nul.js';
import { acceptConsistency, readsChooser } from './consistency.js';
import type { RouteContext } from './context.js';
import { registerDocs } from './docs.js';
import { HttpError, registerErrorHandler } from './errors.js';
import { Metrics } from './metrics.js';
import { AJV_OPTIONS } from './schemas.js';
import { channelsRoutes } from './routes/channels.js';
import { dispatchRoutes } from './routes/dispatch.js';
import { guildsRoutes } from './routes/guilds.js';
import { membersRoutes } from './routes/members.js';
import { messagesRoutes } from './routes/messages.js';
import { operationsRoutes } from './routes/operations.js';
import { permissionsRoutes } from './routes/permissions.js';
import { presencesRoutes } from './routes/presences.js';
import { statsRoutes } from './routes/stats.js';
import { threadsRoutes } from './routes/threads.js';
import { unavailableGuildsRoutes } from './routes/unavailable-guilds.js';
import { usersRoutes } from './routes/users.js';

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
  /** Writer tuning (tests): rows from which writes are pipelined, rows per statement (see cache/batch.ts). */
  pipelineRows?: number;
  chunkRows?: number;
}

export type { FastifyInstance };

function tokenMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const bodyLimit = options.bodyLimit ?? 32 * 1024 * 1024;
  const logger: FastifyServerOptions['logger'] = options.logLevel === false ? false : { level: options.logLevel ?? 'info' };
  const app = Fastify({ logger, bodyLimit, forceCloseConnections: false, return503OnClosing: true, ajv: AJV_OPTIONS });

  const replica = options.readDatabaseUrl ? new Replica(options.readDatabaseUrl, options.db, app.log) : undefined;
  const metrics = new Metrics({ replica: replica !== undefined });
  const writer = new Writer(
    options.db,
    {
      queueLimit: options.queueLimit ?? 10_000,
      messageLimit: options.messageLimit ?? 200,
      ...(options.maxBatchChanges !== undefined ? { maxBatchChanges: options.maxBatchChanges } : {}),
      ...(options.pipelineRows !== undefined ? { pipelineRows: options.pipelineRows } : {}),
      ...(options.chunkRows !== undefined ? { chunkRows: options.chunkRows } : {}),
    },
    { onCommit: metrics.onCommit },
  );
  const reads = new Reads(options.db);
  const ctx: RouteContext = {
    db: options.db,
    writer,
    reads,
    readsFor: readsChooser(reads, replica && new Reads(replica.sql)),
    replica,
    metrics,
    deleteOfflinePresences: options.deleteOfflinePresences ?? false,
  };
  app.decorate('cache', ctx);

  // JSON allows \u0000, PostgreSQL text/jsonb do not: strip it before parsing (see discord/nul.ts).
  // An empty body is no body (PUT /v1/unavailable-guilds/:id takes none); routes that need one answer 400.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    return parseJson(request, stripNulEscapes(body as string), done);
  });

  registerErrorHandler(app);

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  if (options.cacheToken) {
    const token = options.cacheToken;
    app.addHook('onRequest', async (request) => {
      if (!request.url.startsWith('/v1/')) return;
      if (!tokenMatches(request.headers.authorization, token)) {
        throw new HttpError(401, 'missing or wrong bearer token: send Authorization: Bearer <CACHE_TOKEN>');
      }
    });
  }

  // Everything accepted is committed before the process lets go of the database.
  app.addHook('onClose', async () => {
    await writer.close();
    await replica?.close();
  });

  // Before the routes: this hook adds `consistency` to the GETs, and swagger (after it, so it documents that)
  // collects the routes registered after it.
  app.addHook('onRoute', acceptConsistency);
  await registerDocs(app);

  operationsRoutes(app, ctx);
  statsRoutes(app, ctx);
  dispatchRoutes(app, ctx);
  usersRoutes(app, ctx);
  guildsRoutes(app, ctx);
  unavailableGuildsRoutes(app, ctx);
  membersRoutes(app, ctx);
  permissionsRoutes(app, ctx);
  presencesRoutes(app, ctx);
  channelsRoutes(app, ctx);
  threadsRoutes(app, ctx);
  messagesRoutes(app, ctx);

  await app.ready();
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    cache: RouteContext;
  }
}
