/**
 * Column specs derived from the Drizzle schema: how a Discord property becomes a column value (validated, in
 * the form the set-based statements bind) and how a column comes back out as a Discord property.
 */
import { getTableColumns } from 'drizzle-orm';
import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core';
import { tables, type TableName } from '../db/schema.js';
import { PayloadError } from './errors.js';
import { JSON_SHAPES, checkJsonValue, type Check } from './json-shapes.js';
import { SNOWFLAKE_PROBLEM, isSnowflake } from './snowflake.js';

export type ColumnKind = 'snowflake' | 'snowflakes' | 'text' | 'int' | 'bool' | 'time' | 'json';

export interface ColumnSpec {
  /** SQL name, equal to the Discord key where the column mirrors a Discord property. */
  name: string;
  kind: ColumnKind;
  /** Element type of the array bound for this column in `unnest(...)`. */
  bindType: string;
  /**
   * How a batch binds this column: `array`, a PostgreSQL array literal expanded by `unnest($n::bindType[])`;
   * `json`, one JSON array of the values expanded by `jsonb_array_elements($n::jsonb)` (parsed once, and the
   * values need no escaping).
   */
  bind: 'array' | 'json';
  /** SQL expression turning the bound element `x` into the column's type. */
  cast: (x: string) => string;
  /** SQL expression reading the column as Discord JSON-compatible value. */
  read: (col: string) => string;
  /** JSON columns the cache computes with: the shape their values must have (see json-shapes.ts). */
  check?: Check;
}

export interface TableSpec {
  name: TableName;
  columns: ColumnSpec[];
  byName: Map<string, ColumnSpec>;
  primaryKey: string[];
}

const KINDS: Record<string, ColumnKind> = {
  PgBigInt64: 'snowflake',
  PgArray: 'snowflakes',
  PgText: 'text',
  PgInteger: 'int',
  PgBoolean: 'bool',
  PgTimestampString: 'time',
  PgJsonb: 'json',
};

function columnSpec(name: string, columnType: string): ColumnSpec {
  const kind = KINDS[columnType];
  if (!kind) throw new Error(`column ${name}: unsupported column type ${columnType}`);
  return { bind: 'array', ...columnConversions(name, kind) };
}

function columnConversions(name: string, kind: ColumnKind): Omit<ColumnSpec, 'bind'> & Partial<Pick<ColumnSpec, 'bind'>> {
  switch (kind) {
    case 'snowflake':
      return { name, kind, bindType: 'bigint', cast: (x) => x, read: (c) => `${c}::text` };
    case 'snowflakes':
      // Arrays of arrays cannot go through unnest (it flattens them): bind each as an array literal.
      return { name, kind, bindType: 'text', cast: (x) => `${x}::bigint[]`, read: (c) => `${c}::text[]` };
    case 'text':
      return { name, kind, bindType: 'text', cast: (x) => x, read: (c) => c };
    case 'int':
      return { name, kind, bindType: 'integer', cast: (x) => x, read: (c) => c };
    case 'bool':
      return { name, kind, bindType: 'boolean', cast: (x) => x, read: (c) => c };
    case 'time':
      return { name, kind, bindType: 'timestamptz', cast: (x) => x, read: (c) => `to_json(${c}) #>> '{}'` };
    case 'json':
      // Values are JSON texts and never JSON null (null is SQL NULL): the array's `null` elements are NULL.
      return { name, kind, bindType: 'jsonb', bind: 'json', cast: (x) => `NULLIF(${x}, 'null'::jsonb)`, read: (c) => c };
  }
}

function tableSpec(name: TableName, table: PgTable): TableSpec {
  const columns = Object.values(getTableColumns(table)).map((c) => {
    const spec = columnSpec(c.name, c.columnType);
    const check = JSON_SHAPES[`${name}.${c.name}`];
    return check ? { ...spec, check } : spec;
  });
  const config = getTableConfig(table);
  const composite = config.primaryKeys[0]?.columns.map((c) => c.name);
  const primaryKey = composite ?? config.columns.filter((c) => c.primary).map((c) => c.name);
  return { name, columns, byName: new Map(columns.map((c) => [c.name, c])), primaryKey };
}

export const specs = Object.fromEntries(
  Object.entries(tables).map(([name, table]) => [name, tableSpec(name as TableName, table)]),
) as Record<TableName, TableSpec>;

/** Columns the cache maintains itself: never taken from a payload. */
const MANAGED = new Set(['updated_at']);

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2})(?::?(\d{2}))?)?)?$/i;

/**
 * An ISO-8601 date or date-time that PostgreSQL's timestamptz accepts as it is: a real calendar date of year 1
 * or later (there is no year 0), hours to 23, a leap second `:60` only without a fraction, offsets to ±15:59.
 */
function isTimestamp(value: string): boolean {
  const m = ISO_8601.exec(value);
  if (!m) return false;
  const [, y, mo, d, h = '0', mi = '0', s = '0', oh = '0', om = '0'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const second = Number(s);
  const daysInMonth = day <= 28 ? 28 : new Date(Date.UTC(year, month, 0)).getUTCDate();
  return (
    year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth &&
    Number(h) <= 23 && Number(mi) <= 59 && (second <= 59 || (second === 60 && !/\.\d*[1-9]/.test(value))) &&
    Number(oh) <= 15 && Number(om) <= 59
  );
}
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/** Validates one Discord value for a column and returns it in bind form. `null` stays `null`. */
export function toColumn(col: ColumnSpec, value: unknown, path: string): unknown {
  if (value === null) return null;
  switch (col.kind) {
    case 'snowflake':
      if (isSnowflake(value)) return value;
      throw new PayloadError(path, SNOWFLAKE_PROBLEM);
    case 'snowflakes': {
      if (!Array.isArray(value)) throw new PayloadError(path, 'must be an array of snowflakes');
      for (let i = 0; i < value.length; i++) {
        if (!isSnowflake(value[i])) throw new PayloadError(`${path}[${i}]`, 'must be a snowflake string');
      }
      return `{${value.join(',')}}`;
    }
    case 'text':
      if (typeof value !== 'string') throw new PayloadError(path, 'must be a string or null');
      // node-postgres would send a lone surrogate as U+FFFD: stored as sent, or refused.
      if (!value.isWellFormed()) throw new PayloadError(path, 'contains a lone UTF-16 surrogate (not valid Unicode)');
      return value;
    case 'int':
      if (typeof value === 'number' && Number.isInteger(value) && value >= INT_MIN && value <= INT_MAX) return value;
      throw new PayloadError(path, 'must be a 32-bit integer or null');
    case 'bool':
      if (typeof value === 'boolean') return value;
      throw new PayloadError(path, 'must be a boolean or null');
    case 'time':
      if (typeof value === 'string' && isTimestamp(value)) return value;
      throw new PayloadError(path, 'must be an ISO-8601 timestamp string or null');
    case 'json':
      checkJsonValue(value, path);
      col.check?.(value, path);
      return JSON.stringify(value);
  }
}

/** A row: column name → bind-form value, holding only the columns the source object carried. */
export type Row = Record<string, unknown>;

const UPPER = /[A-Z]/;

/**
 * Discord's keys are snake_case: an upper-case letter in a key means a camelCased (transformed) object, whose
 * properties would otherwise be dropped silently. 400, naming the key.
 */
export function rejectCamelCase(obj: Record<string, unknown>, path: string): void {
  for (const key in obj) {
    if (UPPER.test(key)) {
      throw new PayloadError(
        `${path}.${key}`,
        'is camelCased: forward the raw gateway packet with snake_case keys (in Discordeno 21, create the ' +
          'gateway manager with `preferSnakeCase: true`, or forward the packet before transformation)',
      );
    }
  }
}

/**
 * Takes the properties of a Discord object that have a column in `table` (present keys only: an absent key
 * leaves the cached value alone; `null` sets null). `skip` names columns the caller fills itself.
 */
export function pickColumns(
  table: TableName,
  obj: Record<string, unknown>,
  path: string,
  skip?: ReadonlySet<string>,
): Row {
  rejectCamelCase(obj, path);
  const row: Row = {};
  for (const col of payloadColumns[table]) {
    const value = obj[col.name];
    if (value === undefined || skip?.has(col.name)) continue;
    row[col.name] = toColumn(col, value, `${path}.${col.name}`);
  }
  return row;
}

/** The columns a payload may fill, per table (all but the managed ones). */
const payloadColumns = Object.fromEntries(
  Object.entries(specs).map(([name, spec]) => [name, spec.columns.filter((c) => !MANAGED.has(c.name))]),
) as Record<TableName, ColumnSpec[]>;

/** Validates and converts a primary-key or foreign id value. */
export function snowflakeAt(value: unknown, path: string): string {
  if (isSnowflake(value)) return value;
  if (value === undefined) throw new PayloadError(path, 'is required (a snowflake string)');
  throw new PayloadError(path, SNOWFLAKE_PROBLEM);
}

export function objectAt(value: unknown, path: string): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new PayloadError(path, value === undefined ? 'is required (an object)' : 'must be an object');
}

export function arrayAt(value: unknown, path: string): unknown[] {
  if (Array.isArray(value)) return value;
  throw new PayloadError(path, value === undefined ? 'is required (an array)' : 'must be an array');
}

/** An optional array: undefined when absent or null. */
export function optionalArrayAt(value: unknown, path: string): unknown[] | undefined {
  if (value === undefined || value === null) return undefined;
  return arrayAt(value, path);
}
