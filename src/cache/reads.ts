/**
 * Reads: one statement text per query, built from the Drizzle tables and prepared by name on PostgreSQL.
 * Every column comes out in Discord form (see `discord/columns.ts`), so results need no per-driver fixing.
 */
import type { Sql } from '../db/connect.js';
import type { TableName } from '../db/schema.js';
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

const COUNTS = query(
  `SELECT ${(Object.keys(specs) as TableName[]).map((t) => `(SELECT count(*) FROM ${q(t)})::int AS ${q(t)}`).join(', ')}`,
);

const exec = async (sql: Sql, qy: Query, params: unknown[]) => sql.query<R>(qy.text, params, qy.name);

export class Reads {
  constructor(private readonly sql: Sql) {}

  /** One row by primary key (values in primary-key order), or undefined. */
  async one(table: TableName, ...key: string[]): Promise<R | undefined> {
    return (await exec(this.sql, ONE[table], key))[0];
  }

  /** Rows per table. */
  async counts(): Promise<Record<TableName, number>> {
    return (await exec(this.sql, COUNTS, []))[0] as Record<TableName, number>;
  }
}
