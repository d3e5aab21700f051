/** Checks of PUT bodies against their path (params themselves are validated by the route schemas). */
import { HttpError } from './errors.js';

/** The body of a PUT: a JSON object. */
export function bodyObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError('INVALID_BODY', 'body must be a JSON object (the Discord object)');
  }
  return body as Record<string, unknown>;
}

/** A key of a PUT body that repeats a path parameter: absent, or equal to it (else 400). */
export function matchesPath(obj: Record<string, unknown>, key: string, id: string, where = `body.${key}`): void {
  if (obj[key] !== undefined && obj[key] !== id) {
    throw new HttpError('INVALID_BODY', `${where} (${String(obj[key])}) differs from the path (${id})`);
  }
}
