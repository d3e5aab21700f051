/**
 * Statement planning: the pending rows of a buffer (`buffer.ts`) become set-based statement parts
 * (`statements.ts`), as few as possible: one per table, kind (update / delete / upsert), column set and
 * chunk of `chunkRows` rows. Pure: nothing is sent here.
 */
import { specs, type Row } from '../discord/columns.js';
import type { TableName } from '../db/tables.js';
import type { RowBuffers } from './buffer.js';
import * as S from './statements.js';

function chunks<T>(items: T[], size: number): T[][] {
  if (items.length <= size) return [items];
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Each column's bit in a row's column mask: 2^(its position in the table). */
const bitsByTable = new Map<TableName, Map<string, number>>();
function columnBits(table: TableName): Map<string, number> {
  let bits = bitsByTable.get(table);
  if (!bits) bitsByTable.set(table, (bits = new Map(specs[table].columns.map((c, i) => [c.name, 2 ** i]))));
  return bits;
}

/**
 * Tables that instances writing different shards share (TOTAL_SHARDS, db/leases.ts): a user is in guilds of
 * many shards. With `orderShared`, their upserts lock rows in key order, so two instances upserting the same
 * users never wait for each other in a cycle within one statement (the writer runs a transaction again on the
 * rarer deadlocks across statements, or in the updates, whose join order the planner picks). Only then: it
 * costs about 1 µs a row (120 ms for the 100,000 users of a giant GUILD_CREATE on the busy 2-core machine).
 */
const SHARED: ReadonlySet<TableName> = new Set(['users']);

/** Snowflake keys (decimal strings) in numeric order. */
const byKey = (a: [string, Row], b: [string, Row]) => a[0].length - b[0].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

export interface Plan {
  /**
   * Phases in order (updates, deletes, upserts); the parts of one phase touch disjoint rows. When no row has
   * pending changes in two phases, everything is one phase.
   */
  phases: S.Part[][];
  rows: number;
}

/** Drains the pending writes of `tables` from `buffers` into statement parts (the buffers are left empty). */
export function plan(buffers: RowBuffers, tables: readonly TableName[], chunkRows: number, orderShared = false): Plan {
  const phases: S.Part[][] = [[], [], []];
  let overlap = false;
  let total = 0;
  for (const table of tables) {
    const b = buffers.of(table);
    if (b.empty) continue;
    const pk = specs[table].primaryKey;
    if (b.updates.size > 0) {
      const groups = new Map<string, { set: string[]; inc: string[]; rows: Row[]; incs: Record<string, number>[] }>();
      for (const [key, u] of b.updates) {
        if (b.upserts.has(key)) overlap = true;
        const set = Object.keys(u.row).filter((c) => !pk.includes(c));
        const inc = Object.keys(u.inc);
        const gkey = `${set.join(',')}|${inc.join(',')}`;
        let g = groups.get(gkey);
        if (!g) groups.set(gkey, (g = { set, inc, rows: [], incs: [] }));
        const parts = key.split(':'); // the key columns travel with the row
        pk.forEach((c, i) => (u.row[c] = parts[i]));
        g.rows.push(u.row);
        g.incs.push(u.inc);
      }
      for (const g of groups.values()) {
        for (let i = 0; i < g.rows.length; i += chunkRows) {
          phases[0]!.push(S.updatePart(table, g.set, g.inc, g.rows.slice(i, i + chunkRows), g.incs.slice(i, i + chunkRows)));
        }
        total += g.rows.length;
      }
      b.updates.clear();
    }
    if (b.deletes.size > 0) {
      for (const key of b.deletes.keys()) if (b.upserts.has(key)) overlap = true;
      for (const keys of chunks([...b.deletes.values()], chunkRows)) phases[1]!.push(S.deletePart(table, keys));
      total += b.deletes.size;
      b.deletes.clear();
    }
    if (b.upserts.size > 0) {
      // Rows grouped by the set of columns they carry, as a bit mask (tables have fewer than 53 columns).
      const groups = new Map<number, Row[]>();
      const names = specs[table].columns.map((c) => c.name);
      const bits = columnBits(table);
      for (const row of orderShared && SHARED.has(table) ? [...b.upserts].sort(byKey).map(([, r]) => r) : b.upserts.values()) {
        let mask = 0;
        for (const key in row) if (row[key] !== undefined) mask += bits.get(key) ?? 0;
        let g = groups.get(mask);
        if (!g) groups.set(mask, (g = []));
        g.push(row);
      }
      for (const [mask, rows] of groups) {
        const cols = names.filter((_, i) => Math.floor(mask / 2 ** i) % 2 === 1);
        for (const chunk of chunks(rows, chunkRows)) phases[2]!.push(S.upsertPart(table, cols, chunk));
        total += rows.length;
      }
      b.upserts.clear();
    }
  }
  const nonEmpty = phases.filter((p) => p.length > 0);
  return { phases: overlap ? nonEmpty : nonEmpty.length > 0 ? [nonEmpty.flat()] : [], rows: total };
}
