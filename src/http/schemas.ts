/**
 * JSON schemas of the HTTP API, for validation of params/querystrings and for the OpenAPI document.
 *
 * - The Discord objects (`User`, `Guild`, ...) are derived from the Drizzle schema (column specs) and the
 *   table descriptors (hidden and nullable columns), so the documentation follows the tables. They are
 *   shared schemas (`$id`), referenced as `User#` etc., and open (`additionalProperties: true`): they
 *   describe what the cache stores, never filter it.
 * - Snowflake params use the Ajv format `snowflake` (registered in `AJV_OPTIONS`): a validated param is a
 *   canonical snowflake, and handlers use it as it is.
 * - Request bodies are only `type: object`: Fastify's Ajv coerces types (it would turn `null` into `""`), and
 *   the column-level checks (`discord/columns.ts`) give better messages. The body is documented by the
 *   response schema of the same resource.
 * - Bad params/querystrings answer 400 naming the field (`params.guildId ...`): see `formatSchemaErrors`.
 */
import { TABLES, TABLE_NAMES, type TableName } from '../db/tables.js';
import { specs, type ColumnKind } from '../discord/columns.js';
import { SNOWFLAKE_PROBLEM, isSnowflake } from '../discord/snowflake.js';
import { ERROR_CODES } from './errors.js';

type Schema = Record<string, unknown>;

const SNOWFLAKE_DOC = 'Snowflake: a decimal string without leading zeros, at most 20 digits, below 2^63';

export const snowflake: Schema = { type: 'string', format: 'snowflake', description: SNOWFLAKE_DOC };
/** Optional query snowflakes may be empty (`?after=` means "from the start"). */
const optionalSnowflake = (description: string): Schema => ({
  type: 'string',
  format: 'snowflake-or-empty',
  description: `${description} (${SNOWFLAKE_DOC})`,
});

/** Ajv options for the app: the snowflake formats, and `verbose` errors (offending value and schema, for the messages). */
export const AJV_OPTIONS = {
  customOptions: {
    verbose: true,
    formats: {
      snowflake: { type: 'string', validate: isSnowflake },
      'snowflake-or-empty': { type: 'string', validate: (s: string) => s === '' || isSnowflake(s) },
    },
  },
} as const;

/** Path parameters, all snowflakes. */
export function paramsSchema(names: readonly string[]): Schema {
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

/** `?limit=&after=` (ascending lists) or `?limit=&before=` (newest-first lists), and optional column filters. */
export function listQuery(paged: 'after' | 'before' | undefined, filters: readonly string[] = []): Schema {
  const properties: Schema = {};
  if (paged) {
    properties.limit = limit;
    properties[paged] = optionalSnowflake(
      `Keyset paging: only rows whose key is ${paged === 'after' ? 'greater' : 'smaller'} (pass the last key of the previous page)`,
    );
  }
  for (const f of filters) properties[f] = optionalSnowflake(`Only the rows whose ${f} is this`);
  return { type: 'object', properties };
}

export function optionalSnowflakeQuery(name: string, description: string): Schema {
  return { type: 'object', properties: { [name]: optionalSnowflake(description) } };
}

/** A PUT body: any JSON object (see the header comment). */
export const objectBody = (description: string): Schema => ({ type: 'object', additionalProperties: true, description });

// ---- Discord objects, from the column specs and the table descriptors ----

const KIND_SCHEMA: Record<ColumnKind, Schema> = {
  snowflake: { type: 'string', description: 'snowflake' },
  snowflakes: { type: 'array', items: { type: 'string', description: 'snowflake' } },
  text: { type: 'string' },
  int: { type: 'integer' },
  bool: { type: 'boolean' },
  time: { type: 'string', format: 'date-time' },
  json: { description: 'JSON, as Discord sends it' },
};

const ref = (id: string): Schema => ({ $ref: `${id}#` });

const OBJECT_DOC: Partial<Record<TableName, string>> = {
  members: 'A guild member; `user` is the cached user or `{ id }`',
  presences: 'A presence; `user` is the cached user or `{ id }`',
  messages: 'A message; `author` is the snapshot stored with it',
  threads: 'A thread (channel types 10, 11, 12)',
  channels: 'A guild or DM channel (not a thread)',
  unavailable_guilds: 'A guild in an outage',
};

/**
 * The object a table's rows are returned as: its columns but the hidden ones; `T | null` properties are
 * `nullable` (null when not known), the others are left out when not known.
 */
function objectSchema(table: TableName): Schema {
  const d = TABLES[table];
  const skip = new Set<string>(['updated_at', ...d.hidden]);
  const nullable = new Set<string>(d.nullable);
  const properties: Schema = {};
  for (const c of specs[table].columns) {
    if (skip.has(c.name)) continue;
    properties[c.name] = nullable.has(c.name) ? { ...KIND_SCHEMA[c.kind], nullable: true } : KIND_SCHEMA[c.kind];
  }
  if (table === 'members' || table === 'presences') properties.user = ref('User');
  if (table === 'unavailable_guilds') properties.unavailable = { type: 'boolean', enum: [true] };
  const description = OBJECT_DOC[table] ?? `A Discord ${d.kind} (properties the cache stores)`;
  return { $id: d.object, type: 'object', description, additionalProperties: true, properties };
}

export const errorSchema: Schema = {
  $id: 'Error',
  type: 'object',
  description: "Fastify's error shape, with a stable `code`",
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    code: {
      type: 'string',
      enum: Object.keys(ERROR_CODES),
      description: Object.entries(ERROR_CODES)
        .map(([code, [status, doc]]) => `\`${code}\` (${status}): ${doc}`)
        .join('; '),
    },
    message: { type: 'string', description: 'what and where, for people: act on `code`' },
    index: { type: 'integer', description: 'INVALID_EVENT: the position of the refused event in the body' },
    path: { type: 'string', description: 'INVALID_EVENT, INVALID_BODY: the offending field (`body[3].d.user.id`)' },
    shards: {
      type: 'array',
      description: 'SHARD_NOT_HELD: each shard of the request this instance does not hold, and who holds it now',
      items: {
        type: 'object',
        properties: {
          shard: { type: 'integer' },
          instance_id: { type: 'string', nullable: true, description: 'the holder; null when no instance holds it now (a standby takes it over)' },
          url: { type: 'string', nullable: true, description: "the holder's ADVERTISE_URL, when it has one" },
        },
        required: ['shard', 'instance_id', 'url'],
      },
    },
  },
  required: ['statusCode', 'error', 'code', 'message'],
};

/** Shared schemas: registered with `app.addSchema` before the routes, named as components in OpenAPI. */
export const sharedSchemas: Schema[] = [
  errorSchema,
  ...TABLE_NAMES.map(objectSchema),
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
const BAD = error('Bad request: `code` says what, the message names the offending field');
const UNAVAILABLE = error('Write queue full or database unreachable; retry after Retry-After seconds');
const NOT_HELD = error('SHARD_NOT_HELD: a shard this instance holds no lease on (TOTAL_SHARDS); `shards` names the holders');
const NOT_CACHED = error('NOT_CACHED: `<kind> <id> is not cached`; TABLE_NOT_CACHED: the table is left out (CACHE_TABLES)');
/** GET of one object: 200, 400 bad params, 404 not cached. */
export const readResponses = (ok: Schema) => ({ 200: ok, 400: BAD, 404: NOT_CACHED });
/** GET of a list: 200, 400 bad params, 404 table not cached. */
export const listResponses = (ok: Schema) => ({ 200: ok, 400: BAD, 404: NOT_CACHED });
/** PUT: 200 with the stored object, 400, 421 (shard not held here), 503 (queue full or database unreachable). */
export const putResponses = (ok: Schema) => ({ 200: ok, 400: BAD, 404: NOT_CACHED, 421: NOT_HELD, 503: UNAVAILABLE });
/** DELETE: 204, also when absent. */
export const deleteResponses = {
  204: { type: 'null', description: 'Deleted, or was not cached' },
  400: BAD,
  404: NOT_CACHED,
  421: NOT_HELD,
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

function problemOf(e: SchemaError): string {
  if (e.keyword === 'format' && String(e.params.format).startsWith('snowflake')) return SNOWFLAKE_PROBLEM;
  const s = e.parentSchema;
  if (s?.type === 'integer' && typeof s.minimum === 'number' && typeof s.maximum === 'number') {
    return `must be an integer from ${s.minimum} to ${s.maximum}`;
  }
  return e.message ?? 'is invalid';
}

/**
 * Fastify's validation errors as `<part>.<field> <problem>, got "<value>"` (`params.guildId must be a
 * snowflake ...`).
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
