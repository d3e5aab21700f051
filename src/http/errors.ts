/**
 * Every error answer: Fastify's shape `{ statusCode, error, message }` plus a stable `code` (clients act on
 * the code, never on the message text) and, for a refused event, its `index` in the body and the `path` of
 * the offending field. Never a 500 for client input.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { RejectedDataError, ShardNotHeldError, UnavailableError, isUnavailable } from '../cache/errors.js';
import { PayloadError } from '../discord/errors.js';

/** The codes, with their status and what they mean (the OpenAPI document lists them). */
export const ERROR_CODES = {
  INVALID_EVENT: [400, 'an event of a dispatch body is invalid: `index` is its position, `path` the field'],
  INVALID_BODY: [400, 'the body of a PUT is invalid: `path` names the field'],
  INVALID_JSON: [400, 'the body is not JSON'],
  INVALID_PARAM: [400, 'a path parameter, query parameter or header is invalid (the message names it)'],
  REFUSED_BY_DATABASE: [400, 'the database refused the data of this request (nothing of it was applied)'],
  UNAUTHORIZED: [401, 'missing or wrong bearer token'],
  NOT_CACHED: [404, 'the object is not cached'],
  TABLE_NOT_CACHED: [404, 'the table is left out of the cache (CACHE_TABLES)'],
  ROUTE_NOT_FOUND: [404, 'no such route'],
  BODY_TOO_LARGE: [413, 'the body is larger than BODY_LIMIT (after decoding)'],
  UNSUPPORTED_MEDIA_TYPE: [415, 'the body is not application/json, or its content-encoding is unknown'],
  SHARD_NOT_HELD: [
    421,
    'the request writes shards this instance holds no lease on (TOTAL_SHARDS): nothing of it was applied; `shards` names each one and its holder (instance and URL, null when none holds it now)',
  ],
  UNAVAILABLE: [503, 'the database is unreachable or the write queue is full: retry after Retry-After seconds'],
  INTERNAL: [500, 'a bug: the message is generic, the log has the details'],
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  421: 'Misdirected Request',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export class HttpError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.statusCode = ERROR_CODES[code][0];
  }
}

export const notFound = (kind: string, id: string) => new HttpError('NOT_CACHED', `${kind} ${id} is not cached`);

/** The position of a refused event in a dispatch body (`body[3].d…` → 3; a single payload is 0). */
function eventIndex(path: string): number {
  const m = /^body\[(\d+)\]/.exec(path);
  return m ? Number(m[1]) : 0;
}

interface Answer {
  code: ErrorCode;
  message: string;
  extra?: { index?: number; path: string } | { shards: ShardNotHeldError['holders'] };
  retryAfter?: number;
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_BODY',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
};

function classify(err: FastifyError | Error, route: string | undefined): Answer | undefined {
  if (err instanceof PayloadError) {
    return route?.endsWith('/dispatch')
      ? { code: 'INVALID_EVENT', message: err.message, extra: { index: eventIndex(err.path), path: err.path } }
      : { code: 'INVALID_BODY', message: err.message, extra: { path: err.path } };
  }
  if (err instanceof RejectedDataError) return { code: 'REFUSED_BY_DATABASE', message: err.message };
  if (err instanceof ShardNotHeldError) {
    const shards = err.shards.map((shard) => err.holders.find((h) => h.shard === shard) ?? { shard, instance_id: null, url: null });
    return { code: 'SHARD_NOT_HELD', message: err.message, extra: { shards } };
  }
  if (err instanceof HttpError) return { code: err.code, message: err.message };
  if (err instanceof UnavailableError) return { code: 'UNAVAILABLE', message: err.message, retryAfter: err.retryAfterSeconds };
  if (isUnavailable(err)) return { code: 'UNAVAILABLE', message: 'the database is unreachable; retry later', retryAfter: 2 };
  const fastify = err as FastifyError & { validationContext?: string };
  if (fastify.validation) {
    return { code: fastify.validationContext === 'body' ? 'INVALID_BODY' : 'INVALID_PARAM', message: err.message };
  }
  const mapped = fastify.code ? FASTIFY_CODES[fastify.code] : undefined;
  if (mapped) return { code: mapped, message: err.message };
  if (err instanceof SyntaxError || (typeof fastify.statusCode === 'number' && fastify.statusCode === 400)) {
    return { code: err instanceof SyntaxError ? 'INVALID_JSON' : 'INVALID_BODY', message: err.message };
  }
  if (fastify.statusCode === 415) return { code: 'UNSUPPORTED_MEDIA_TYPE', message: err.message };
  return undefined;
}

export function sendError(reply: FastifyReply, code: ErrorCode, message: string, extra: object = {}) {
  const status = ERROR_CODES[code][0];
  return reply.code(status).send({ statusCode: status, error: REASONS[status] ?? 'Error', code, message, ...extra });
}

export function registerErrorHandler(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError | Error, request, reply) => {
    const answer = classify(err, request.routeOptions.url);
    if (!answer) {
      request.log.error({ err }, 'unexpected error');
      return sendError(reply, 'INTERNAL', 'internal error');
    }
    if (answer.code === 'UNAVAILABLE') {
      request.log.warn({ err: err.message }, 'service unavailable');
      reply.header('retry-after', String(answer.retryAfter ?? 2));
    }
    return sendError(reply, answer.code, answer.message, answer.extra);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 'ROUTE_NOT_FOUND', `Route ${request.method}:${request.url} not found`),
  );
}
