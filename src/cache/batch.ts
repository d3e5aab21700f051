/**
 * Applies a sequence of changes inside one transaction with as few statements as possible, ending in exactly
 * the state that applying them one at a time would give.
 *
 * How: by-key changes (upsert, update, delete) are buffered per table and per row, merged in arrival order:
 * - upsert after upsert merges columns (later wins); a delete drops the row's pending upsert/update and
 *   remembers the delete; an upsert after a delete replaces (the delete runs first at flush);
 * - an update folds into a pending upsert of its row, is dropped when the row is known deleted, and is
 *   otherwise kept; updates run first at flush, which is correct because an update that was *not* folded
 *   either came before the row's pending upsert or touches columns that upsert does not.
 * A flush of a table runs its updates, deletes and upserts as one statement each (per column set, and per
 * chunk of CHUNK_ROWS rows); large flushes are pipelined (`sendAll`), and a table whose buffer fills a chunk
 * is flushed early, while the rest of the batch is still being applied.
 * Changes that read or touch rows by something other than their key (cascades, GUILD_CREATE's retain,
 * READY's reconcile, role stripping) first flush the tables they involve, then run as SQL: that keeps the
 * order of every table's history. Reads of a single row (member exists? reactions, roles) consult the buffer
 * first and the database only when the buffer says nothing about that row.
 */
import type { Work } from '../db/connect.js';
import type { TableName } from '../db/schema.js';
import { specs, type Row } from '../discord/columns.js';
import type { Change, ReactionOp } from './changes.js';
import { applyReaction } from './reactions.js';
import { putRole, removeRole } from './roles.js';
import * as S from './statements.js';

interface PendingUpdate {
  row: Row;
  inc: Record<string, number>;
}

class TableBuffer {
  readonly upserts = new Map<string, Row>();
  readonly deletes = new Map<string, Row>();
  readonly updates = new Map<string, PendingUpdate>();
  get empty() {
    return this.upserts.size === 0 && this.deletes.size === 0 && this.updates.size === 0;
  }
}

/** A write of at least this many rows is sent as one statement per part, pipelined (see `write`). */
export const PIPELINE_ROWS = 2_000;
/** Rows per statement at most: a giant GUILD_CREATE becomes a pipeline of statements, not one. */
export const CHUNK_ROWS = 20_000;

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

/** Counters are int4 columns: increments stop at the bounds (as the SQL of `updatePart` does). */
const saturate = (n: number) => Math.min(2147483647, Math.max(-2147483648, n));

const ALL_TABLES: TableName[] = Object.keys(specs) as TableName[];
const GUILD_TABLES: TableName[] = ['guilds', 'members', 'channels', 'threads', 'messages', 'presences', 'unavailable_guilds'];

export interface BatchOptions {
  /** The bot's user id, when known: decides `me` on reactions. */
  botUserId?: string | undefined;
  /** Overrides PIPELINE_ROWS (tests exercise the pipelined path with small batches). */
  pipelineRows?: number | undefined;
  /** Overrides CHUNK_ROWS. */
  chunkRows?: number | undefined;
}

/** Counters of what a batch did, for metrics. */
export interface BatchStats {
  statements: number;
  rows: number;
}

export class Batch {
  private readonly buffers = new Map<TableName, TableBuffer>();
  /** Pending upsert rows this batch made itself (merges): the others are the changes' own, never mutated. */
  private readonly owned = new WeakSet<Row>();
  /** Messages upserted per channel, for retention. */
  readonly messagesByChannel = new Map<string, number>();
  readonly stats: BatchStats = { statements: 0, rows: 0 };
  /** The bot user seen in READY / USER_UPDATE during this batch. */
  botUserId: string | undefined;

  /** Writes sent and not yet answered (see `sendAll`), and whether one of them failed. */
  private inflight: Promise<unknown>[] = [];
  private failed = false;

  constructor(
    private readonly sql: Work,
    private readonly options: BatchOptions,
  ) {
    this.botUserId = options.botUserId;
    for (const t of ALL_TABLES) this.buffers.set(t, new TableBuffer());
  }

  private get chunkRows() {
    return this.options.chunkRows ?? CHUNK_ROWS;
  }

  private buf(table: TableName) {
    return this.buffers.get(table)!;
  }

  private keyOf(table: TableName, row: Row): string {
    const pk = specs[table].primaryKey;
    return pk.length === 1 ? String(row[pk[0]!]) : pk.map((c) => String(row[c])).join(':');
  }

  /** A write inside the transaction (which it begins if needed). */
  private async exec(statement: S.Statement, params: unknown[]) {
    await this.settle();
    this.stats.statements++;
    return S.run(this.sql, statement, params);
  }

  /** A read: needs no transaction (there is a single writer), joins it once begun. */
  private async read(statement: S.Statement, params: unknown[]) {
    await this.settle();
    this.stats.statements++;
    return this.sql.read(statement.text, params, statement.name);
  }

  // ---- buffered by-key changes ----

  upsert(table: TableName, row: Row) {
    const b = this.buf(table);
    const key = this.keyOf(table, row);
    const pending = b.upserts.get(key);
    if (pending) Object.assign(this.own(b, key, pending), row);
    else b.upserts.set(key, row);
    if (table === 'messages' && row.channel_id != null) {
      const channel = String(row.channel_id);
      this.messagesByChannel.set(channel, (this.messagesByChannel.get(channel) ?? 0) + 1);
    }
  }

  /**
   * The pending upsert of `key`, copied first unless this batch made it: a change's row may be applied
   * again (a failed group is retried request by request), so it must stay as the mapper made it.
   */
  private own(b: TableBuffer, key: string, pending: Row): Row {
    if (this.owned.has(pending)) return pending;
    const copy = { ...pending };
    this.owned.add(copy);
    b.upserts.set(key, copy);
    return copy;
  }

  delete(table: TableName, keyRow: Row) {
    const b = this.buf(table);
    const key = this.keyOf(table, keyRow);
    b.upserts.delete(key);
    b.updates.delete(key);
    b.deletes.set(key, keyRow);
  }

  update(table: TableName, row: Row, inc: Record<string, number> = {}) {
    const b = this.buf(table);
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

  /** Whether a row exists as of now, without flushing. */
  private async exists(table: TableName, keyRow: Row): Promise<boolean> {
    const b = this.buf(table);
    const key = this.keyOf(table, keyRow);
    if (b.upserts.has(key)) return true;
    if (b.deletes.has(key)) return false;
    return this.existsInDb(table, keyRow);
  }

  private async existsInDb(table: TableName, keyRow: Row): Promise<boolean> {
    const pk = specs[table].primaryKey.map((c) => keyRow[c]);
    const rows = await this.read(S.existsStatement(table), pk);
    return rows.length > 0;
  }

  /**
   * The current value of one JSON column of one row, or `undefined` when the row does not exist.
   * Buffer first; the database only when the buffer holds nothing for that column of that row.
   */
  private async readJson<T>(table: TableName, keyRow: Row, column: string): Promise<T | null | undefined> {
    const b = this.buf(table);
    const key = this.keyOf(table, keyRow);
    const parse = (v: unknown) => (v == null ? null : (JSON.parse(String(v)) as T));
    const pending = b.upserts.get(key);
    if (pending && column in pending) return parse(pending[column]);
    const u = b.updates.get(key);
    if (u && column in u.row) {
      // A pending update (never pending after a delete) applies only where the row exists in the database;
      // a pending upsert that does not carry the column leaves it as the update made it, or empty if it inserts.
      const inDb = await this.existsInDb(table, keyRow);
      if (inDb) return parse(u.row[column]);
      return pending ? null : undefined;
    }
    if (pending && b.deletes.has(key)) return null; // replaced row: the column starts empty
    if (!pending && b.deletes.has(key)) return undefined;
    const pk = specs[table].primaryKey.map((c) => keyRow[c]);
    const rows = await this.read(S.readColumnStatement(table, column), pk);
    if (rows.length === 0) return pending ? null : undefined;
    return (rows[0]!.v ?? null) as T | null;
  }

  // ---- flushing ----

  /**
   * The pending writes of `tables` as statements: updates, then deletes, then upserts. Parts of one phase touch
   * disjoint rows, so a phase is one statement; when no row has pending changes in two phases, everything
   * is one statement.
   */
  private drain(tables: readonly TableName[]): S.Part[][] {
    const phases: S.Part[][] = [[], [], []];
    let overlap = false;
    for (const table of tables) {
      const b = this.buf(table);
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
          for (let i = 0; i < g.rows.length; i += this.chunkRows) {
            const rows = g.rows.slice(i, i + this.chunkRows);
            phases[0]!.push(S.updatePart(table, g.set, g.inc, rows, g.incs.slice(i, i + this.chunkRows)));
          }
          this.stats.rows += g.rows.length;
        }
        b.updates.clear();
      }
      if (b.deletes.size > 0) {
        for (const key of b.deletes.keys()) if (b.upserts.has(key)) overlap = true;
        for (const keys of chunks([...b.deletes.values()], this.chunkRows)) phases[1]!.push(S.deletePart(table, keys));
        this.stats.rows += b.deletes.size;
        b.deletes.clear();
      }
      if (b.upserts.size > 0) {
        // Rows grouped by the set of columns they carry, as a bit mask (tables have fewer than 53 columns).
        const groups = new Map<number, Row[]>();
        const names = specs[table].columns.map((c) => c.name);
        const bits = columnBits(table);
        for (const row of b.upserts.values()) {
          let mask = 0;
          for (const key in row) if (row[key] !== undefined) mask += bits.get(key) ?? 0;
          let g = groups.get(mask);
          if (!g) groups.set(mask, (g = []));
          g.push(row);
        }
        for (const [mask, rows] of groups) {
          const cols = names.filter((_, i) => Math.floor(mask / 2 ** i) % 2 === 1);
          for (const chunk of chunks(rows, this.chunkRows)) phases[2]!.push(S.upsertPart(table, cols, chunk));
          this.stats.rows += rows.length;
        }
        b.upserts.clear();
      }
    }
    const nonEmpty = phases.filter((p) => p.length > 0);
    return overlap ? nonEmpty : nonEmpty.length > 0 ? [nonEmpty.flat()] : [];
  }

  /** Writes the pending changes of `tables` (inside the transaction). */
  async flush(tables: readonly TableName[] = ALL_TABLES) {
    await this.write(this.drain(tables), false);
  }

  /**
   * Runs drained phases in order. Small writes: one statement per phase (the last one `final` when `last`:
   * alone, without BEGIN/COMMIT, when nothing else needed a transaction). Large writes: one statement per
   * part and chunk, pipelined (`sendAll`).
   */
  private async write(phases: S.Part[][], last: boolean) {
    let rows = 0;
    for (const phase of phases) for (const part of phase) rows += part.rows;
    if (rows < (this.options.pipelineRows ?? PIPELINE_ROWS) && this.inflight.length === 0) {
      for (let i = 0; i < phases.length; i++) {
        const { text, params, name } = S.combine(phases[i]!);
        this.stats.statements++;
        if (last && i === phases.length - 1) await this.sql.final(text, params, name);
        else await this.sql.query(text, params, name);
      }
      return;
    }
    await this.sendAll(phases);
    await this.settle();
  }

  /**
   * Sends one statement per part, each as soon as its arrays are built, without waiting for the database:
   * the next one is built while the database runs this one (`Work.send` chains each statement behind the
   * previous one's answer; yielding to the event loop between builds lets that answer in). `settle` waits.
   */
  private async sendAll(phases: S.Part[][]) {
    for (const phase of phases) {
      for (const part of phase) {
        if (this.failed) return;
        const { text, params, name } = S.combine([part]);
        this.stats.statements++;
        const sent = this.sql.send(text, params, name);
        sent.catch(() => (this.failed = true));
        this.inflight.push(sent);
        await new Promise(setImmediate);
      }
    }
  }

  /** Waits for the statements in flight; throws the first failure. */
  private async settle() {
    if (this.inflight.length === 0) return;
    const sent = this.inflight;
    this.inflight = [];
    await Promise.all(sent);
  }

  /**
   * A table whose buffer reached a statement's worth of rows is written now, without waiting, so the
   * database works while the rest of a giant request (a GUILD_CREATE with 100,000 members) is applied.
   * Writing one table early keeps every table's history in order, like the flush before a cascade.
   */
  private async flushEarly(table: TableName) {
    await this.sendAll(this.drain([table]));
  }

  // ---- applying changes ----

  /**
   * Applies one change. By-key changes (nearly all of them) are buffered synchronously and return
   * `undefined`; the others return a promise to await before the next change.
   */
  apply(change: Change): Promise<void> | undefined {
    switch (change.kind) {
      case 'upsert': {
        this.upsert(change.table, change.row);
        return this.buf(change.table).upserts.size >= this.chunkRows ? this.flushEarly(change.table) : undefined;
      }
      case 'update':
        this.update(change.table, change.row, change.inc);
        return undefined;
      case 'delete':
        this.delete(change.table, change.key);
        return undefined;
      default:
        return this.applyDirect(change);
    }
  }

  private async applyDirect(change: Change): Promise<void> {
    switch (change.kind) {
      case 'deleteChannels':
        await this.flush(['channels', 'threads', 'messages']);
        await this.exec(S.DELETE_CHANNELS, [change.ids]);
        return;
      case 'deleteThreads':
        await this.flush(['threads', 'messages']);
        await this.exec(S.DELETE_THREADS, [change.ids]);
        return;
      case 'removeGuild':
        await this.flush(GUILD_TABLES);
        await this.exec(S.REMOVE_GUILDS, [[change.guildId]]);
        return;
      case 'retainGuildChannels':
        await this.flush(['channels', 'threads', 'messages']);
        await this.exec(S.RETAIN_GUILD_CHANNELS, [change.guildId, change.keep]);
        return;
      case 'retainGuildThreads':
        await this.flush(['threads', 'messages']);
        await this.exec(S.RETAIN_GUILD_THREADS, [change.guildId, change.keep, change.parentIds ?? null]);
        return;
      case 'reconcileShard': {
        await this.flush(GUILD_TABLES);
        const rows = await this.exec(S.SHARD_GUILDS, [change.shardId, change.numShards, change.keep]);
        const gone = rows.map((r) => String(r.id));
        if (gone.length > 0) {
          await this.exec(S.REMOVE_GUILDS, [gone]);
          await this.exec(S.DELETE_UNAVAILABLE_GUILDS, [gone]);
        }
        return;
      }
      case 'countMember': {
        const cached = await this.exists('members', { guild_id: change.guildId, user_id: change.userId });
        if (cached !== (change.delta === 1)) this.update('guilds', { id: change.guildId }, { member_count: change.delta });
        return;
      }
      case 'putRole': {
        const roles = await this.readJson<unknown>('guilds', { id: change.guildId }, 'roles');
        if (roles === undefined) return; // guild not cached: no row to change
        this.update('guilds', { id: change.guildId, roles: JSON.stringify(putRole(roles, change.role)) });
        return;
      }
      case 'removeRole': {
        const roles = await this.readJson<unknown>('guilds', { id: change.guildId }, 'roles');
        if (roles != null) this.update('guilds', { id: change.guildId, roles: JSON.stringify(removeRole(roles, change.roleId)) });
        await this.flush(['members']);
        await this.exec(S.STRIP_ROLE, [change.guildId, change.roleId]);
        return;
      }
      case 'reaction':
        return this.react(change.messageId, change.op);
      case 'self':
        this.botUserId = change.userId;
        return;
      case 'expand':
        for (const c of change.changes()) {
          const pending = this.apply(c);
          if (pending) await pending;
        }
        return;
      default:
        return;
    }
  }

  private async react(messageId: string, op: ReactionOp) {
    const current = await this.readJson<unknown>('messages', { id: messageId }, 'reactions');
    if (current === undefined) return; // message not cached
    const next = applyReaction(current, op, this.botUserId);
    this.update('messages', { id: messageId, reactions: JSON.stringify(next) });
  }

  /**
   * Writes everything still pending. Call once, last: when the batch needed no transaction so far and its
   * writes fit one statement, that statement runs on its own (atomic by itself: no BEGIN/COMMIT).
   */
  async finish() {
    await this.write(this.drain(ALL_TABLES), true);
  }
}
