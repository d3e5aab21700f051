/**
 * The per-row merge buffer of a batch: by-key changes (upsert, update, delete) of each table, merged per row
 * in arrival order, so that writing the buffer later ends in the state applying them one by one would give.
 * Pure (no I/O): the batch drains it into statements (`plan.ts`).
 *
 * - an upsert after an upsert merges columns (later wins); a delete drops the row's pending upsert and update
 *   and remembers the delete; an upsert after a delete replaces the row (the delete runs first at flush);
 * - an update folds into a pending upsert of its row, is dropped when the row is known deleted, and is
 *   otherwise kept; pending updates run first at flush, which is right because an update that was *not*
 *   folded either came before the row's pending upsert or touches columns that upsert does not;
 * - increments (`inc`) add up; a counter saturates at the int4 bounds, as the SQL does.
 */
import { specs, type Row } from '../discord/columns.js';
import type { TableName } from '../db/tables.js';
import type { ChangeLog } from './changelog.js';

export interface PendingUpdate {
  row: Row;
  inc: Record<string, number>;
}

export class TableBuffer {
  readonly upserts = new Map<string, Row>();
  readonly deletes = new Map<string, Row>();
  readonly updates = new Map<string, PendingUpdate>();
  get empty() {
    return this.upserts.size === 0 && this.deletes.size === 0 && this.updates.size === 0;
  }
  get size() {
    return this.upserts.size + this.deletes.size + this.updates.size;
  }
}

/** Counters are int4 columns: increments stop at the bounds (as the SQL of `updatePart` does). */
export const saturate = (n: number) => Math.min(2147483647, Math.max(-2147483648, n));

/** What the buffer knows of a row: it will exist, it will not, or the database decides. */
export type Known = 'present' | 'absent' | 'unknown';

export class RowBuffers {
  private readonly buffers = new Map<TableName, TableBuffer>();
  /** Pending upsert rows this buffer made itself (merges): the others are the changes' own, never mutated. */
  private readonly owned = new WeakSet<Row>();

  /** `log` hears of every write, for the change feed (an update is reported as an upsert). */
  constructor(
    tables: readonly TableName[],
    private readonly log?: ChangeLog,
  ) {
    for (const t of tables) this.buffers.set(t, new TableBuffer());
  }

  of(table: TableName): TableBuffer {
    return this.buffers.get(table)!;
  }

  keyOf(table: TableName, row: Row): string {
    const pk = specs[table].primaryKey;
    return pk.length === 1 ? String(row[pk[0]!]) : pk.map((c) => String(row[c])).join(':');
  }

  upsert(table: TableName, row: Row) {
    this.log?.row(table, row, 'upsert');
    const b = this.of(table);
    const key = this.keyOf(table, row);
    const pending = b.upserts.get(key);
    if (pending) Object.assign(this.own(b, key, pending), row);
    else b.upserts.set(key, row);
  }

  /**
   * The pending upsert of `key`, copied first unless this buffer made it: a change's row may be applied
   * again (a failed group is retried), so it must stay as the mapper made it.
   */
  private own(b: TableBuffer, key: string, pending: Row): Row {
    if (this.owned.has(pending)) return pending;
    const copy = { ...pending };
    this.owned.add(copy);
    b.upserts.set(key, copy);
    return copy;
  }

  delete(table: TableName, keyRow: Row) {
    this.log?.row(table, keyRow, 'delete');
    const b = this.of(table);
    const key = this.keyOf(table, keyRow);
    b.upserts.delete(key);
    b.updates.delete(key);
    b.deletes.set(key, keyRow);
  }

  update(table: TableName, row: Row, inc: Record<string, number> = {}) {
    this.log?.row(table, row, 'upsert');
    const b = this.of(table);
    const key = this.keyOf(table, row);
    let pending = b.upserts.get(key);
    if (pending) {
      pending = this.own(b, key, pending);
      Object.assign(pending, row);
      const rest: Record<string, number> = {};
      for (const [col, n] of Object.entries(inc)) {
        if (col in pending) pending[col] = pending[col] == null ? null : saturate(Number(pending[col]) + n);
        else rest[col] = n; // the pending upsert does not touch this column: the increment commutes with it
      }
      if (Object.keys(rest).length > 0) this.mergeUpdate(b, key, {}, rest);
      return;
    }
    if (b.deletes.has(key)) return; // known absent: an update of a missing row does nothing
    this.mergeUpdate(b, key, row, inc);
  }

  private mergeUpdate(b: TableBuffer, key: string, row: Row, inc: Record<string, number>) {
    let u = b.updates.get(key);
    if (!u) {
      u = { row: {}, inc: {} };
      b.updates.set(key, u);
    }
    for (const [col, v] of Object.entries(row)) {
      u.row[col] = v;
      delete u.inc[col];
    }
    for (const [col, n] of Object.entries(inc)) {
      if (col in u.row) u.row[col] = u.row[col] == null ? null : saturate(Number(u.row[col]) + n);
      else u.inc[col] = (u.inc[col] ?? 0) + n;
    }
  }

  /** Whether the row will exist once the buffer is written, as far as the buffer alone can tell. */
  known(table: TableName, keyRow: Row): Known {
    const b = this.of(table);
    const key = this.keyOf(table, keyRow);
    if (b.upserts.has(key)) return 'present';
    if (b.deletes.has(key)) return 'absent';
    return 'unknown';
  }

  /**
   * What the buffer says of one column of one row, for a read-modify-write (reactions, roles):
   * - `{ value }`: the column's value once the buffer is written (a JSON text, or null);
   * - `{ absent: true }`: the row will not exist;
   * - `{ ifInDb: value, otherwise }`: a pending update sets it, which applies only if the row exists in the
   *   database; `otherwise` is the answer when it does not (`null`: a pending upsert inserts the row empty;
   *   `undefined`: no row);
   * - `{ fromDb: true, otherwise }`: the database's value decides (`otherwise` when the row is not there).
   */
  column(table: TableName, keyRow: Row, column: string):
    | { value: unknown }
    | { absent: true }
    | { ifInDb: unknown; otherwise: null | undefined }
    | { fromDb: true; otherwise: null | undefined } {
    const b = this.of(table);
    const key = this.keyOf(table, keyRow);
    const pending = b.upserts.get(key);
    if (pending && column in pending) return { value: pending[column] ?? null };
    const u = b.updates.get(key);
    if (u && column in u.row) return { ifInDb: u.row[column] ?? null, otherwise: pending ? null : undefined };
    if (pending && b.deletes.has(key)) return { value: null }; // replaced row: the column starts empty
    if (!pending && b.deletes.has(key)) return { absent: true };
    return { fromDb: true, otherwise: pending ? null : undefined };
  }
}
