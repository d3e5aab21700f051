/**
 * Set-based SQL for the writer, generated from the Drizzle table definitions: one statement per table and
 * column set, binding one array per column (`unnest`), whatever the number of rows. Statement texts are
 * built once and cached (node-postgres prepares them by name).
 */
import type { TableName } from '../db/tables.js';
import type { Sql } from '../db/connect.js';
import { specs, type ColumnSpec, type Row, type TableSpec } from '../discord/columns.js';

const q = (name: string) => `"${name}"`;

export interface Statement {
  name: string;
  text: string;
}

const named = new Map<string, Statement>();
let counter = 0;

function cached(key: string, build: () => string): Statement {
  let s = named.get(key);
  if (!s) {
    s = { name: `dsc_${++counter}`, text: build() };
    named.set(key, s);
  }
  return s;
}

/**
 * One set-based write, placed in a statement by `combine`: `sql(offset)` numbers its parameters from
 * `offset + 1`. `key` identifies its shape (same key, same text for the same offset).
 */
export interface Part {
  key: string;
  sql: (offset: number) => string;
  /** The bound values (built on first call, then kept). */
  params: () => unknown[];
  /** Rows written. */
  rows: number;
  /** A SELECT whose rows the statement returns (the change feed's publication): last in its statement. */
  returns?: boolean;
}

/**
 * `(SELECT unnest($1::bigint[]) AS "a", unnest($2::text[]) AS "b", ...) AS u` and the casted select list for
 * `cols`. Set-returning functions in the select list advance in lockstep (the arrays have equal lengths) and
 * stream their rows, where `unnest(a, b, ...)` in FROM first copies every row into a tuple store: about a fifth
 * less work for PostgreSQL on large batches.
 */
function unnestFrom(spec: TableSpec, cols: string[], offset: number) {
  const unnests = cols.map((c, i) => `${expand(spec.byName.get(c)!, i + 1 + offset)} AS ${q(c)}`);
  const from = `(SELECT ${unnests.join(', ')}) AS u`;
  const values = cols.map((c) => spec.byName.get(c)!.cast(`u.${q(c)}`));
  return { from, values };
}

/** The rows of bound parameter `$n` for column `col` (see `ColumnSpec.bind`). */
function expand(col: ColumnSpec, n: number): string {
  return col.bind === 'json' ? `jsonb_array_elements($${n}::jsonb)` : `unnest($${n}::${col.bindType}[])`;
}

/** A double-quoted array element; most values need no escaping, and the check is cheaper than the regex. */
const quote = (s: string) => (s.includes('"') || s.includes('\\') ? `"${s.replace(/[\\"]/g, '\\$&')}"` : `"${s}"`);

const bareTypes = new Set(['bigint', 'integer', 'boolean']);

/**
 * A PostgreSQL array literal (`{1,2,NULL}`, `{"a","b \\" c"}`) for one column's values. Built here rather
 * than by node-postgres, which is over twice as slow on large batches. Snowflakes (validated digit strings),
 * integers and booleans need no quoting; everything else is quoted and escaped.
 */
export function arrayLiteral(values: unknown[], bindType: string): string {
  const bare = bareTypes.has(bindType);
  const items = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    items[i] = v === null || v === undefined ? 'NULL' : bare ? String(v) : quote(String(v));
  }
  return `{${items.join(',')}}`;
}

/**
 * One bound array literal per column of `cols`, over `rows`: the hot loop of large batches. Joining an array
 * is faster than growing a string (fewer intermediate strings for the garbage collector).
 */
export function columnArrays(rows: Row[], cols: string[], spec: TableSpec): string[] {
  return cols.map((c) => {
    const col = spec.byName.get(c)!;
    const items = new Array<string>(rows.length);
    if (col.bind === 'json') {
      // JSON texts side by side make a JSON array as they are.
      for (let i = 0; i < rows.length; i++) {
        const v = rows[i]![c];
        items[i] = v === null || v === undefined ? 'null' : String(v);
      }
      return `[${items.join(',')}]`;
    }
    const bare = bareTypes.has(col.bindType);
    for (let i = 0; i < rows.length; i++) {
      const v = rows[i]![c];
      items[i] = v === null || v === undefined ? 'NULL' : bare ? String(v) : quote(typeof v === 'string' ? v : String(v));
    }
    return `{${items.join(',')}}`;
  });
}

/** Parameters computed on first use: a pipelined flush builds each statement's arrays right before sending it. */
function lazy(build: () => unknown[]): () => unknown[] {
  let params: unknown[] | undefined;
  return () => (params ??= build());
}

/** Insert-or-merge rows that all carry exactly the columns `cols` (primary key included). */
export function upsertPart(table: TableName, cols: string[], rows: Row[]): Part {
  const spec = specs[table];
  return {
    key: `upsert|${table}|${cols.join(',')}`,
    rows: rows.length,
    params: lazy(() => columnArrays(rows, cols, spec)),
    sql(offset) {
      const { from, values } = unnestFrom(spec, cols, offset);
      const pk = new Set(spec.primaryKey);
      const data = cols.filter((c) => !pk.has(c));
      const conflict = `ON CONFLICT (${spec.primaryKey.map(q).join(', ')})`;
      const insert = `INSERT INTO ${q(table)} AS t (${cols.map(q).join(', ')}) SELECT ${values.join(', ')} FROM ${from}`;
      if (data.length === 0) return `${insert} ${conflict} DO NOTHING`;
      const sets = data.map((c) => `${q(c)} = excluded.${q(c)}`);
      sets.push(`"updated_at" = now()`);
      // Gateway events repeat the same objects (every message carries its author): an update that changes
      // nothing writes no new row version, and updated_at stays when the row last changed.
      const changed = `(${data.map((c) => `t.${q(c)}`).join(', ')}) IS DISTINCT FROM (${data.map((c) => `excluded.${q(c)}`).join(', ')})`;
      return `${insert} ${conflict} DO UPDATE SET ${sets.join(', ')} WHERE ${changed}`;
    },
  };
}

/**
 * Merge into cached rows only: `set` columns take the bound value, `inc` columns add it (NULL stays NULL).
 * `rows` carry the primary key and the `set` columns; `incs` the increments, row by row.
 */
export function updatePart(table: TableName, set: string[], inc: string[], rows: Row[], incs: Record<string, number>[]): Part {
  const spec = specs[table];
  const pk = spec.primaryKey;
  return {
    key: `update|${table}|${set.join(',')}|${inc.join(',')}`,
    rows: rows.length,
    params: lazy(() => [
      ...columnArrays(rows, [...pk, ...set], spec),
      ...inc.map((c) => arrayLiteral(incs.map((i) => i[c] ?? 0), 'integer')),
    ]),
    sql(offset) {
      const incNames = inc.map((c) => `${c}__inc`);
      const unnests = [...pk, ...set].map((c, i) => `${expand(spec.byName.get(c)!, i + 1 + offset)} AS ${q(c)}`);
      unnests.push(...incNames.map((c, i) => `unnest($${pk.length + set.length + i + 1 + offset}::integer[]) AS ${q(c)}`));
      const sets = [
        ...set.map((c) => `${q(c)} = ${spec.byName.get(c)!.cast(`u.${q(c)}`)}`),
        // Counters saturate at the int4 bounds: an event is never refused because a stored count is at the limit.
        // NULL stays NULL (GREATEST and LEAST skip NULLs, hence the CASE).
        ...inc.map(
          (c, i) =>
            `${q(c)} = CASE WHEN t.${q(c)} IS NULL THEN NULL ELSE LEAST(GREATEST(t.${q(c)}::bigint + u.${q(incNames[i]!)}, ${INT4_MIN}), ${INT4_MAX})::integer END`,
        ),
        `"updated_at" = now()`,
      ];
      const where = pk.map((c) => `t.${q(c)} = u.${q(c)}`).join(' AND ');
      return `UPDATE ${q(table)} AS t SET ${sets.join(', ')} FROM (SELECT ${unnests.join(', ')}) AS u WHERE ${where}`;
    },
  };
}

const INT4_MIN = -2147483648;
const INT4_MAX = 2147483647;

/** Delete rows by primary key. */
export function deletePart(table: TableName, keys: Row[]): Part {
  const spec = specs[table];
  return {
    key: `delete|${table}`,
    rows: keys.length,
    params: lazy(() => columnArrays(keys, spec.primaryKey, spec)),
    sql(offset) {
      const { from } = unnestFrom(spec, spec.primaryKey, offset);
      const where = spec.primaryKey.map((c) => `t.${q(c)} = u.${q(c)}`).join(' AND ');
      return `DELETE FROM ${q(table)} AS t USING ${from} WHERE ${where}`;
    },
  };
}

/**
 * One statement for several parts that touch disjoint rows: data-modifying CTEs all run, once, on the same
 * snapshot; a last part that `returns` is the statement's answer. A single part keeps a stable name, so
 * node-postgres prepares it once per connection.
 */
export function combine(parts: Part[]): { text: string; params: unknown[]; name?: string } {
  if (parts.length === 1) {
    const part = parts[0]!;
    const statement = cached(part.key, () => part.sql(0));
    return { text: statement.text, params: part.params(), name: statement.name };
  }
  const params: unknown[] = [];
  for (const part of parts) params.push(...part.params());
  // The same parts in the same order make the same text: steady traffic reuses a few prepared shapes.
  const key = parts.map((p) => p.key).join(' + ');
  const build = () => {
    let offset = 0;
    const ctes = parts.map((part, i) => {
      const cte = `w${i} AS (${part.sql(offset)})`;
      offset += part.params().length;
      return cte;
    });
    return `WITH ${ctes.join(', ')} ${parts[parts.length - 1]!.returns ? `SELECT * FROM w${parts.length - 1}` : 'SELECT 1'}`;
  };
  if (named.size < MAX_NAMED || named.has(key)) {
    const statement = cached(key, build);
    return { text: statement.text, params, name: statement.name };
  }
  return { text: build(), params };
}

/** Prepared shapes kept at most (each is prepared once per connection that runs it). */
const MAX_NAMED = 2_000;

/** Runs a named statement. */
export function run(sql: Sql, statement: Statement, params: unknown[]) {
  return sql.query(statement.text, params, statement.name);
}

// ---- Set operations that are not cascades (those are in cascade.ts) ----

/**
 * READY's reconcile: the cached guilds of shard `$1` of `$2` that are not in `$3::bigint[]`, from the guild
 * tables given (guilds, unavailable_guilds: the ones in the cache scope).
 */
export function shardGuildsStatement(tables: readonly TableName[]): Statement {
  return cached(`shard_guilds|${tables.join(',')}`, () =>
    tables
      .map((t) => `SELECT id::text AS id FROM ${q(t)} WHERE (id >> 22) % $2::bigint = $1::bigint AND NOT (id = ANY($3::bigint[]))`)
      .join(' UNION '),
  );
}

export const STRIP_ROLE: Statement = {
  name: 'dsc_strip_role',
  text: `UPDATE members SET roles = array_remove(roles, $2::bigint), updated_at = now()
  WHERE guild_id = $1::bigint AND $2::bigint = ANY(roles)`,
};

/**
 * Keeps the newest `$2` messages of each channel in `$1`, deleting at most `$3` older ones per channel (the
 * rest go at a later pruning). One bounded index scan per channel, whatever the plan: it walks the `$2`
 * newest entries and the `$3` after them, never the entries of messages deleted earlier (without a vacuum
 * they stay in the index, and an unbounded walk got slower with every pruning). Returns every deleted
 * message and its channel.
 */
export const PRUNE_MESSAGES = `DELETE FROM messages WHERE id = ANY(ARRAY(
    SELECT old.id FROM unnest($1::bigint[]) AS c(id)
    CROSS JOIN LATERAL (SELECT id FROM messages WHERE channel_id = c.id ORDER BY id DESC OFFSET $2::int LIMIT $3::int) AS old))
  RETURNING channel_id::text AS channel_id, id::text AS id`;

/** Reads one column of one row (`$1…` = primary key). */
export function readColumnStatement(table: TableName, column: string): Statement {
  return cached(`read|${table}|${column}`, () => {
    const spec = specs[table];
    const where = spec.primaryKey.map((c, i) => `${q(c)} = $${i + 1}::bigint`).join(' AND ');
    return `SELECT ${q(column)} AS v FROM ${q(table)} WHERE ${where}`;
  });
}

export function existsStatement(table: TableName): Statement {
  return cached(`exists|${table}`, () => {
    const spec = specs[table];
    const where = spec.primaryKey.map((c, i) => `${q(c)} = $${i + 1}::bigint`).join(' AND ');
    return `SELECT 1 AS v FROM ${q(table)} WHERE ${where}`;
  });
}
