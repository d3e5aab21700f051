import type { Page } from '../cache/reads.js';
import { SNOWFLAKE_PROBLEM, isSnowflake } from '../discord/snowflake.js';
import { HttpError } from './errors.js';

/** What a bad snowflake is told (also by the schema validation, see `formatSchemaErrors` in schemas.ts). */
export { SNOWFLAKE_PROBLEM };

/** A snowflake path or query parameter (canonical decimal string, at most 20 digits, below 2^63) or a 400 naming it. */
export function snowflakeParam(value: unknown, where: string): string {
  if (isSnowflake(value)) return value;
  throw new HttpError(400, `${where} ${SNOWFLAKE_PROBLEM}, got "${String(value)}"`);
}

export function optionalSnowflakeParam(value: unknown, where: string): string | undefined {
  return value === undefined || value === '' ? undefined : snowflakeParam(value, where);
}

/** `limit` of a list: default 100, 1 to 1000. */
export function limitParam(value: unknown): number {
  if (value === undefined || value === '') return 100;
  const s = String(value);
  const n = /^\d{1,4}$/.test(s) ? Number(s) : NaN;
  if (!(n >= 1 && n <= 1000)) throw new HttpError(400, `querystring.limit must be an integer from 1 to 1000, got "${s}"`);
  return n;
}

/** `?limit=&after=` or `?limit=&before=` of a list. */
export function pageParam(query: { limit?: unknown; after?: unknown; before?: unknown }, bound: 'after' | 'before'): Page {
  return { limit: limitParam(query.limit), bound: optionalSnowflakeParam(query[bound], `querystring.${bound}`) };
}

/** A key of a PUT body that repeats a path parameter: absent, or equal to it (else 400). */
export function matchesPath(obj: Record<string, unknown>, key: string, id: string, where = `body.${key}`): void {
  if (obj[key] !== undefined && obj[key] !== id) {
    throw new HttpError(400, `${where} (${String(obj[key])}) differs from the path (${id})`);
  }
}

/** The body of a PUT: a JSON object whose `id` (if any) matches the path. */
export function bodyObject(body: unknown, idKey?: string, id?: string): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'body must be a JSON object (the Discord object)');
  }
  const obj = body as Record<string, unknown>;
  if (idKey && id !== undefined && obj[idKey] !== undefined && obj[idKey] !== id) {
    throw new HttpError(400, `body.${idKey} (${String(obj[idKey])}) differs from the path (${id})`);
  }
  return obj;
}
