/**
 * JSON schemas of the HTTP API, for validation of params/querystrings and for the OpenAPI document.
 *
 * - The Discord objects (`User`, `Guild`, ...) are derived from the Drizzle schema through the column specs,
 *   so the documentation follows the tables. They are shared schemas (`$id`), referenced as `User#` etc., and
 *   open (`additionalProperties: true`): they describe what the cache stores, never filter it.
 * - Request bodies are only `type: object`: Fastify's Ajv coerces types (it would turn `null` into `""`), and
 *   the column-level checks (`discord/columns.ts`) give better messages. The body is documented by the
 *   response schema of the same resource.
 * - Bad params/querystrings answer 400 naming the field (`params.guildId ...`): see `formatSchemaErrors`.
 */
import type { TableName } from '../db/schema.js';
import { specs, type ColumnKind } from '../discord/columns.js';
import { INTERNAL_COLUMNS } from '../discord/shape.js';
import { SNOWFLAKE_PROBLEM } from './params.js';

type Schema = Record<string, unknown>;

export const SNOWFLAKE_PATTERN = '^(0|[1-9][0-9]{0,19})$';
/** Optional query snowflakes may be empty (`?after=` means "from the start"). */
export const OPTIONAL_SNOWFLAKE_PATTERN = '^(|0|[1-9][0-9]{0,19})$';
const SNOWFLAKE_PATTERNS = new Set([SNOWFLAKE_PATTERN, OPTIONAL_SNOWFLAKE_PATTERN]);

const SNOWFLAKE_DOC = 'Snowflake: a decimal string without leading zeros, at most 20 digits, below 2^63';

export const snowflake: Schema = { type: 'string', pattern: SNOWFLAKE_PATTERN, description: SNOWFLAKE_DOC };
const optionalSnowflake = (description: string): Schema => ({
  type: 'string',
  pattern: OPTIONAL_SNOWFLAKE_PATTERN,
  description: `${description} (${SNOWFLAKE_DOC})`,
});

/** Path parameters, all snowflakes. */
export function paramsSchema(...names: string[]): Schema {
  return {
    type: 'object',
    required: names,
    properties: Object.fromEntries(names.map((n) => [n, snowflake])),
  };
}

const limit: Schema = {
  type: 'integer',
  minimum: 1,
  maximum: 1000,
  default: 100,
  description: 'Rows per page, 1 to 1000',
};

/** `?limit=&after=` (ascending lists) or `?limit=&before=` (newest-first lists). */
export function pageQuery(bound: 'after' | 'before'): Schema {
  const doc =
    bound === 'after'
      ? 'Keyset paging: only rows whose id is greater (pass the last id of the previous page)'
      : 'Keyset paging: only rows whose id is smaller (pass the last id of the previous page)';
  return { type: 'object', properties: { limit, [bound]: optionalSnowflake(doc) } };
}

export function optionalSnowflakeQuery(name: string, description: string): Schema {
  return { type: 'object', properties: { [name]: optionalSnowflake(description) } };
}

/** A PUT body: any JSON object (see the header comment). */
export const objectBody = (description: string): Schema => ({ type: 'object', additionalProperties: true, description });

// ---- Discord objects, from the column specs ----

const KIND_SCHEMA: Record<ColumnKind, Schema> = {
  snowflake: { type: 'string', description: 'snowflake' },
  snowflakes: { type: 'array', items: { type: 'string', description: 'snowflake' } },
  text: { type: 'string' },
  int: { type: 'integer' },
  bool: { type: 'boolean' },
  time: { type: 'string', format: 'date-time' },
  json: { description: 'JSON, as Discord sends it' },
};

function objectSchema(id: string, table: TableName, description: string, drop: string[] = [], extra: Schema = {}): Schema {
  const skip = new Set([...INTERNAL_COLUMNS, ...drop]);
  const properties: Schema = {};
  for (const c of specs[table].columns) if (!skip.has(c.name)) properties[c.name] = KIND_SCHEMA[c.kind];
  return { $id: id, type: 'object', description, additionalProperties: true, properties: { ...properties, ...extra } };
}

const ref = (id: string): Schema => ({ $ref: `${id}#` });

export const errorSchema: Schema = {
  $id: 'Error',
  type: 'object',
  description: "Fastify's error shape",
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    message: { type: 'string', description: 'what and where' },
  },
  required: ['statusCode', 'error', 'message'],
};

/** Shared schemas: registered with `app.addSchema` before the routes, named as components in OpenAPI. */
export const sharedSchemas: Schema[] = [
  errorSchema,
  objectSchema('User', 'users', 'A Discord user (properties the cache stores; nulls are omitted)'),
  objectSchema('Guild', 'guilds', 'A Discord guild, with `roles` (nulls are omitted)'),
  objectSchema('Member', 'members', 'A guild member; `user` is the cached user or `{ id }`', ['guild_id', 'user_id'], {
    user: ref('User'),
  }),
  objectSchema('Channel', 'channels', 'A guild or DM channel (not a thread)'),
  objectSchema('Thread', 'threads', 'A thread (channel types 10, 11, 12)'),
  objectSchema('Message', 'messages', 'A message; `author` is the snapshot stored with it', ['author_id']),
  objectSchema('Presence', 'presences', 'A presence; `user` is the cached user or `{ id }`', ['user_id'], {
    user: ref('User'),
  }),
  {
    $id: 'UnavailableGuild',
    type: 'object',
    description: 'A guild in an outage',
    properties: { id: snowflake, unavailable: { type: 'boolean', enum: [true] } },
  },
  {
    $id: 'Permissions',
    type: 'object',
    properties: { permissions: { type: 'string', description: 'permission bit set, a decimal string' } },
    required: ['permissions'],
  },
];

export const one = (id: string) => ref(id);
export const list = (id: string): Schema => ({ type: 'array', items: ref(id) });

const error = (description: string): Schema => ({ ...ref('Error'), description });
const BAD = error('Bad request: the message names the offending field');
const UNAVAILABLE = error('Write queue full or database unreachable; retry after Retry-After seconds');
/** GET of one object: 200, 400 bad params, 404 not cached. */
export const readResponses = (ok: Schema) => ({ 200: ok, 400: BAD, 404: error('Not cached: `<kind> <id> is not cached`') });
/** GET of a list: 200, 400 bad params. */
export const listResponses = (ok: Schema) => ({ 200: ok, 400: BAD });
/** PUT: 200 with the stored object, 400, 503 (queue full or database unreachable). */
export const putResponses = (ok: Schema) => ({ 200: ok, 400: BAD, 503: UNAVAILABLE });
/** DELETE: 204, also when absent. */
export const deleteResponses = {
  204: { type: 'null', description: 'Deleted, or was not cached' },
  400: BAD,
  503: UNAVAILABLE,
};

/** An Ajv error as Fastify hands it to the formatter (`verbose` Ajv: with the data and the failing schema). */
interface SchemaError {
  keyword: string;
  instancePath: string;
  message?: string | undefined;
  params: Record<string, unknown>;
  data?: unknown;
  parentSchema?: Record<string, unknown>;
}

/** Ajv options for the app: `verbose` puts the offending value and its schema into errors (for the messages). */
export const AJV_OPTIONS = { customOptions: { verbose: true } };

function problemOf(e: SchemaError): string {
  const pattern = e.keyword === 'pattern' ? e.params.pattern : undefined;
  if (typeof pattern === 'string' && SNOWFLAKE_PATTERNS.has(pattern)) return SNOWFLAKE_PROBLEM;
  const s = e.parentSchema;
  if (s?.type === 'integer' && typeof s.minimum === 'number' && typeof s.maximum === 'number') {
    return `must be an integer from ${s.minimum} to ${s.maximum}`;
  }
  return e.message ?? 'is invalid';
}

/**
 * Fastify's validation errors as `<part>.<field> <problem>, got "<value>"` (`params.guildId must be a
 * snowflake ...`), matching the messages of the handlers' own checks (`params.ts`).
 */
export function formatSchemaErrors(errors: SchemaError[], dataVar: string): Error {
  const text = errors.map((e) => {
    let field = dataVar + e.instancePath.replaceAll('/', '.');
    if (e.keyword === 'required' && typeof e.params.missingProperty === 'string') field += `.${e.params.missingProperty}`;
    const got = e.keyword !== 'required' && (typeof e.data === 'string' || typeof e.data === 'number') ? `, got "${e.data}"` : '';
    return `${field} ${problemOf(e)}${got}`;
  });
  return new Error(text.join(', '));
}
