/** Maps every error to Fastify's shape `{ statusCode, error, message }`; never a 500 for client input. */
import type { FastifyError, FastifyInstance } from 'fastify';
import { RejectedDataError, UnavailableError, isUnavailable } from '../cache/errors.js';
import { PayloadError } from '../discord/errors.js';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export class HttpError extends Error {
  constructor(
    public readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (kind: string, id: string) => new HttpError(404, `${kind} ${id} is not cached`);

export function registerErrorHandler(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError | Error, request, reply) => {
    let status = 500;
    let message = 'internal error';
    if (err instanceof PayloadError || err instanceof RejectedDataError) {
      status = 400;
      message = err.message;
    } else if (err instanceof HttpError) {
      status = err.statusCode;
      message = err.message;
    } else if (err instanceof UnavailableError || isUnavailable(err)) {
      status = 503;
      message = err instanceof UnavailableError ? err.message : 'the database is unreachable; retry later';
      reply.header('retry-after', String(err instanceof UnavailableError ? err.retryAfterSeconds : 2));
    } else if ('validation' in err && err.validation) {
      status = 400;
      message = err.message;
    } else if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      message = err.message;
    }
    if (status >= 500 && status !== 503) request.log.error({ err }, 'unexpected error');
    else if (status === 503) request.log.warn({ err: err.message }, 'service unavailable');
    reply.code(status).send({ statusCode: status, error: REASONS[status] ?? 'Error', message });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `Route ${request.method}:${request.url} not found` });
  });
}
