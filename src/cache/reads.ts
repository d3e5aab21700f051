/**
 * Reads: one statement text per query, built from the Drizzle tables and prepared by name on PostgreSQL.
 * Every column comes out in Discord form (see `discord/columns.ts`), so results need no per-driver fixing.
 */
import type { Sql } from '../db/connect.js';
import { TABLE_NAMES, type TableName } from '../db/tables.js';
import { specs } from '../discord/columns.js';

type R = Record<string, unknown>;
const q = (name: string) => `"${name}"`;

const selectList = (table: TableName, alias = '') =>
  specs[table].columns.map((c) => `${c.read(alias + q(c.name))} AS ${q(c.name)}`).join(', ');

interface Query {
  name: string;
  text: string;
}
let n = 0;
const query = (text: string): Query => ({ name: `dsc_read_${++n}`, text });

function byKey(table: TableName): Query {
  const where = specs[table].primaryKey.map((c, i) => `${q(c)} = $${i + 1}::bigint`).join(' AND ');
  return query(`SELECT ${selectList(table)} FROM ${q(table)} WHERE ${where}`);
}

const ONE = Object.fromEntries(
  (Object.keys(specs) as TableName[]).map((t) => [t, byKey(t)]),
) as Record<TableName, Query>;

const COUNTS = new Map<string, Query>();
/** Row counts of `tables` in one query. */
function countsQuery(tables: readonly TableName[]): Query {
  const key = tables.join(',');
  let qy = COUNTS.get(key);
  if (!qy) COUNTS.set(key, (qy = query(`SELECT ${tables.map((t) => `(SELECT count(*) FROM ${q(t)})::int AS ${q(t)}`).join(', ')}`)));
  return qy;
}

const exec = async (sql: Sql, qy: Query, params: unknown[]) => sql.query<R>(qy.text, params, qy.name);

/**
 * A list query: rows of `table` whose `filters` columns equal `$1…`, optionally bounded by the keyset column
 * `key` (`>` the bound when ascending, `<` when descending), in `key` order, at most `$last` rows (when
 * `limited`). Built once per shape and prepared by name.
 */
interface ListShape {
  table: TableName;
  filters: string[];
  key: string;
  order: 'ASC' | 'DESC';
  bounded: boolean;
  limited: boolean;
}

const LISTS = new Map<string, Query>();

function listQuery(shape: ListShape): Query {
  const cacheKey = JSON.stringify(shape);
  let qy = LISTS.get(cacheKey);
  if (!qy) {
    // Columns are qualified (`t.`): unqualified, ORDER BY would sort by the text output column of that name.
    const where = shape.filters.map((c, i) => `t.${q(c)} = $${i + 1}::bigint`);
    let at = shape.filters.length;
    if (shape.bounded) where.push(`t.${q(shape.key)} ${shape.order === 'ASC' ? '>' : '<'} $${++at}::bigint`);
    const text =
      `SELECT ${selectList(shape.table, 't.')} FROM ${q(shape.table)} t` +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY t.${q(shape.key)} ${shape.order}` +
      (shape.limited ? ` LIMIT $${++at}::int` : '');
    qy = query(text);
    LISTS.set(cacheKey, qy);
  }
  return qy;
}

/** One page of a keyset-paged list: at most `limit` rows after (ascending) or before (descending) `bound`. */
export interface Page {
  limit: number;
  /** Exclusive bound on the key (`after` for ascending lists, `before` for descending ones). */
  bound?: string | undefined;
}

/** A member and its user in one round trip (user columns prefixed `u__`; all NULL when not cached). */
const MEMBER_WITH_USER = query(
  `SELECT ${selectList('members', 'm.')}, ${specs.users.columns.map((c) => `${c.read(`u.${q(c.name)}`)} AS ${q(`u__${c.name}`)}`).join(', ')} ` +
    `FROM "members" m LEFT JOIN "users" u ON u."id" = m."user_id" WHERE m."guild_id" = $1::bigint AND m."user_id" = $2::bigint`,
);

const USERS_BY_ID = query(`SELECT ${selectList('users')} FROM "users" WHERE "id" = ANY($1::bigint[])`);

export class Reads {
  constructor(private readonly sql: Sql) {}

  /** A member and its user (undefined when the user is not cached), or undefined when the member is not. */
  async memberWithUser(guildId: string, userId: string): Promise<{ member: R; user: R | undefined } | undefined> {
    const row = (await exec(this.sql, MEMBER_WITH_USER, [guildId, userId]))[0];
    if (!row) return undefined;
    const member: R = {};
    const user: R = {};
    for (const key in row) {
      if (key.startsWith('u__')) user[key.slice(3)] = row[key];
      else member[key] = row[key];
    }
    return { member, user: user.id == null ? undefined : user };
  }

  /** One row by primary key (values in primary-key order), or undefined. */
  async one(table: TableName, ...key: string[]): Promise<R | undefined> {
    return (await exec(this.sql, ONE[table], key))[0];
  }

  /**
   * Rows of `table` whose `filters` columns equal the values given, in `key` order: one page (at most
   * `page.limit` rows past `page.bound`), or all of them without `page`.
   */
  async list(table: TableName, filters: readonly (readonly [string, string])[], key: string, order: 'asc' | 'desc', page?: Page) {
    const bounded = page?.bound !== undefined;
    const qy = listQuery({
      table,
      filters: filters.map(([c]) => c),
      key,
      order: order === 'asc' ? 'ASC' : 'DESC',
      bounded,
      limited: page !== undefined,
    });
    const params: unknown[] = filters.map(([, v]) => v);
    if (bounded) params.push(page!.bound);
    if (page) params.push(page.limit);
    return exec(this.sql, qy, params);
  }

  /** Users by id (those cached), keyed by id. */
  async usersById(ids: readonly string[]): Promise<Map<string, R>> {
    if (ids.length === 0) return new Map();
    const rows = await exec(this.sql, USERS_BY_ID, [[...new Set(ids)]]);
    return new Map(rows.map((r) => [String(r.id), r]));
  }

  /** Rows per table, for the tables given. */
  async counts(tables: readonly TableName[] = TABLE_NAMES): Promise<Partial<Record<TableName, number>>> {
    if (tables.length === 0) return {};
    return (await exec(this.sql, countsQuery(tables), []))[0] as Partial<Record<TableName, number>>;
  }
}
