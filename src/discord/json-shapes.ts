/**
 * Shapes of the JSON values the cache itself computes with (reaction counts, role editing, permissions).
 *
 * JSON columns otherwise store whatever Discord sends. These few are read back by the writer and the
 * permission computation, so a value of the wrong shape (`"reactions": [null]`, `"roles": "x"`) is refused at
 * the door with a 400 naming the field, instead of being stored and breaking every later event. Only what the
 * computations read is checked; other properties pass as sent (Discord adds fields over time). The readers
 * stay total anyway (data written before these checks, or by hand, may be of any shape).
 */
import { PayloadError } from './errors.js';
import { SNOWFLAKE_PROBLEM, isSnowflake } from './snowflake.js';

/** Throws a `PayloadError` at `path` when `value` does not fit. */
export type Check = (value: unknown, path: string) => void;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

const snowflake: Check = (v, p) => {
  if (!isSnowflake(v)) throw new PayloadError(p, SNOWFLAKE_PROBLEM);
};
const nullableSnowflake: Check = (v, p) => {
  if (v !== null) snowflake(v, p);
};
const nullableString: Check = (v, p) => {
  if (v !== null && typeof v !== 'string') throw new PayloadError(p, 'must be a string or null');
};
/** Discord's permission bit sets: decimal strings. */
const permissionBits: Check = (v, p) => {
  if (typeof v !== 'string' || !/^\d{1,30}$/.test(v)) throw new PayloadError(p, 'must be a permission bit set (a decimal string)');
};
const count: Check = (v, p) => {
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2_147_483_647)) {
    throw new PayloadError(p, 'must be a non-negative 32-bit integer');
  }
};
const int: Check = (v, p) => {
  if (!(typeof v === 'number' && Number.isInteger(v))) throw new PayloadError(p, 'must be an integer');
};
const bool: Check = (v, p) => {
  if (typeof v !== 'boolean') throw new PayloadError(p, 'must be a boolean');
};

/** An object whose listed properties fit (when present; `required` ones must be); others pass. */
function object(fields: Record<string, Check>, required: readonly string[] = []): Check {
  return (v, p) => {
    if (!isObject(v)) throw new PayloadError(p, 'must be an object');
    for (const key of required) if (v[key] === undefined) throw new PayloadError(`${p}.${key}`, 'is required');
    for (const key in fields) if (v[key] !== undefined) fields[key]!(v[key], `${p}.${key}`);
  };
}

function arrayOf(item: Check): Check {
  return (v, p) => {
    if (!Array.isArray(v)) throw new PayloadError(p, 'must be an array');
    for (let i = 0; i < v.length; i++) item(v[i], `${p}[${i}]`);
  };
}

/** A reaction emoji: custom (`id`) or unicode (`name`). */
export const emoji: Check = object({ id: nullableSnowflake, name: nullableString });

/** A guild role (`guilds.roles[i]`, GUILD_ROLE_CREATE/UPDATE's `role`). */
export const role: Check = object({ id: snowflake, permissions: permissionBits, position: int }, ['id']);

/** A channel permission overwrite. */
export const overwrite: Check = object({ id: snowflake, type: int, allow: permissionBits, deny: permissionBits }, ['id']);

/** A message reaction with its counters. */
export const reaction: Check = object(
  {
    emoji,
    count,
    count_details: object({ burst: count, normal: count }),
    me: bool,
    me_burst: bool,
    burst_colors: arrayOf(nullableString),
  },
  ['emoji', 'count'],
);

/** JSON columns with a checked shape, by `table.column`. */
export const JSON_SHAPES: Readonly<Record<string, Check>> = {
  'guilds.roles': arrayOf(role),
  'channels.permission_overwrites': arrayOf(overwrite),
  'messages.reactions': arrayOf(reaction),
};

/** Nesting of a JSON value at most (a value nested deeper cannot be stringified safely, nor indexed usefully). */
export const MAX_JSON_DEPTH = 64;

/**
 * Checks what PostgreSQL would refuse or what cannot be serialised, with the path of the culprit: nesting
 * deeper than `MAX_JSON_DEPTH` (JSON.stringify overflows the stack near 4,500 levels) and strings or keys
 * with a lone UTF-16 surrogate (JSON.stringify escapes it, and `jsonb` refuses the escape).
 */
export function checkJsonValue(value: unknown, path: string, depth = 0): void {
  if (typeof value === 'string') {
    if (!value.isWellFormed()) throw new PayloadError(path, 'contains a lone UTF-16 surrogate (not valid Unicode)');
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (depth >= MAX_JSON_DEPTH) throw new PayloadError(path, `is nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item !== null && (typeof item === 'object' || typeof item === 'string')) checkJsonValue(item, `${path}[${i}]`, depth + 1);
    }
    return;
  }
  for (const key in value) {
    if (!key.isWellFormed()) throw new PayloadError(`${path}.${key}`, 'has a key with a lone UTF-16 surrogate (not valid Unicode)');
    const item: unknown = (value as Record<string, unknown>)[key];
    if (item !== null && (typeof item === 'object' || typeof item === 'string')) checkJsonValue(item, `${path}.${key}`, depth + 1);
  }
}
