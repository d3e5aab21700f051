/**
 * Applies a sequence of changes inside one unit of work with as few statements as possible, ending in exactly
 * the state that applying them one at a time would give.
 *
 * - By-key changes (upsert, update, delete) go to the per-row merge buffer (`buffer.ts`), planned into
 *   set-based statements (`plan.ts`) when flushed. A table whose buffer fills a statement's worth of rows is
 *   flushed early, while the rest of the batch is still being applied.
 * - Changes that read or touch rows by something other than their key (cascades, retains, READY's reconcile,
 *   role stripping) first flush the tables they involve, then run as SQL: that keeps the order of every
 *   table's history. Reads of a single row (member exists? reactions, roles) consult the buffer first and
 *   the database only when the buffer says nothing about that row.
 * - Large writes are pipelined: one statement per part and chunk, each sent as soon as its arrays are built,
 *   so the next one is built while the database runs this one.
 * - Tables outside the cache scope (CACHE_TABLES) are never written: their changes are dropped here.
 */
import type { Work } from '../db/connect.js';
import { TABLE_NAMES, describe, type TableName } from '../db/tables.js';
import { specs, type Row } from '../discord/columns.js';
import { RowBuffers } from './buffer.js';
import { ChangeLog } from './changelog.js';
import { cascadeStatement, retainReach, retainStatement, type SetStatement } from './cascade.js';
import type { Change, ReactionOp, SnapshotPart } from './changes.js';
import { plan } from './plan.js';
import { DeferredRetains } from './retains.js';
import { applyReaction } from './reactions.js';
import { putRole, removeRole } from './roles.js';
import { LOAD_SHARD, Sequences, type ShardState } from './sequence.js';
import { Snapshots, loadStatement } from './snapshots.js';
import * as S from './statements.js';

/** A write of at least this many rows is sent as one statement per part, pipelined (see `write`). */
export const PIPELINE_ROWS = 2_000;
/** Rows per statement at most: a giant GUILD_CREATE becomes a pipeline of statements, not one. */
export const CHUNK_ROWS = 20_000;

export interface BatchOptions {
  /** The bot's user id, when known: decides `me` on reactions. */
  botUserId?: string | undefined;
  /** The tables written (CACHE_TABLES); default all. */
  cached?: ReadonlySet<TableName> | undefined;
  /** Overrides PIPELINE_ROWS (tests exercise the pipelined path with small batches). */
  pipelineRows?: number | undefined;
  /** Overrides CHUNK_ROWS. */
  chunkRows?: number | undefined;
  /** The writer's committed shard states (exactly once for forwards, see sequence.ts). */
  shards?: Map<number, ShardState> | undefined;
  /** Skip GUILD_CREATE parts the cache holds already (snapshots.ts; default true). */
  skipUnchanged?: boolean | undefined;
  /** Other instances write other shards (leases): upsert the shared rows in key order (see plan.ts). */
  orderShared?: boolean | undefined;
}

/** Counters of what a batch did, for metrics. */
export interface BatchStats {
  statements: number;
  rows: number;
}

const ALL = new Set(TABLE_NAMES);

export class Batch {
  private readonly buffers: RowBuffers;
  private readonly cached: ReadonlySet<TableName>;
  private readonly tables: TableName[];
  /** Messages upserted per channel, for retention. */
  readonly messagesByChannel = new Map<string, number>();
  readonly stats: BatchStats = { statements: 0, rows: 0 };
  /** What the batch changed, for the change feed: the buffers report by-key writes, `runSet` the rest. */
  readonly log = new ChangeLog();
  /** The bot user seen in READY / USER_UPDATE during this batch. */
  botUserId: string | undefined;
  /** Shard sequence numbers seen in this batch: duplicates are skipped. */
  readonly sequences: Sequences;
  /** GUILD_CREATE parts applied and rows touched in this batch: unchanged parts are skipped. */
  readonly snapshots: Snapshots;
  /** Applying a snapshot part: its own writes do not count as touching (snapshots.ts). */
  private inPart = false;

  /** GUILD_CREATEs' retains, run together (see retains.ts). */
  private readonly deferred = new DeferredRetains();

  /** Writes sent and not yet answered (see `sendAll`), and whether one of them failed. */
  private inflight: Promise<unknown>[] = [];
  private failed = false;

  constructor(
    private readonly sql: Work,
    private readonly options: BatchOptions,
  ) {
    this.botUserId = options.botUserId;
    this.cached = options.cached ?? ALL;
    this.tables = TABLE_NAMES.filter((t) => this.cached.has(t));
    this.buffers = new RowBuffers(this.tables, this.log);
    this.snapshots = new Snapshots(options.skipUnchanged ?? true);
    this.sequences = new Sequences(options.shards ?? new Map(), async (shardId) => {
      const row = (await this.read(LOAD_SHARD, [shardId]))[0];
      if (!row) return undefined;
      return {
        session: (row.session_id as string | null) ?? null,
        last: Number(row.last_sequence),
        window: BigInt(`0x${String(row.applied_window)}`),
        applied: Number(row.events_applied),
      };
    });
  }

  private get chunkRows() {
    return this.options.chunkRows ?? CHUNK_ROWS;
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

  /** A set operation: the tables it writes are flushed first, so their history stays in order. */
  private async runSet(statement: SetStatement, params: unknown[]) {
    if (statement.tables.length === 0) return [];
    await this.flush(statement.tables);
    const deleted = await this.exec(statement, params);
    this.log.setOperation(statement, params, deleted);
    return deleted;
  }

  /** Runs the deferred retains (one statement per table for the whole batch so far). */
  async runDeferred() {
    if (this.deferred.empty) return;
    await this.flush(this.deferred.reach());
    for (const { table, params } of this.deferred.take()) {
      const statement = retainStatement(table, this.cached);
      this.log.setOperation(statement, params, await this.exec(statement, params));
    }
  }

  /** Whether a row exists as of now, without flushing. */
  private async exists(table: TableName, keyRow: Row): Promise<boolean> {
    const known = this.buffers.known(table, keyRow);
    return known === 'unknown' ? this.existsInDb(table, keyRow) : known === 'present';
  }

  private async existsInDb(table: TableName, keyRow: Row): Promise<boolean> {
    const pk = specs[table].primaryKey.map((c) => keyRow[c]);
    return (await this.read(S.existsStatement(table), pk)).length > 0;
  }

  /**
   * The current value of one JSON column of one row, or `undefined` when the row does not exist.
   * Buffer first; the database only when the buffer holds nothing for that column of that row.
   */
  private async readJson(table: TableName, keyRow: Row, column: string): Promise<unknown> {
    const parse = (v: unknown) => (v == null ? null : (JSON.parse(String(v)) as unknown));
    const known = this.buffers.column(table, keyRow, column);
    if ('value' in known) return parse(known.value);
    if ('absent' in known) return undefined;
    if ('ifInDb' in known) return (await this.existsInDb(table, keyRow)) ? parse(known.ifInDb) : known.otherwise;
    const pk = specs[table].primaryKey.map((c) => keyRow[c]);
    const rows = await this.read(S.readColumnStatement(table, column), pk);
    return rows.length === 0 ? known.otherwise : (rows[0]!.v ?? null);
  }

  // ---- writing ----

  /** Writes the pending changes of `tables` (inside the transaction). */
  async flush(tables: readonly TableName[] = this.tables) {
    await this.write(this.drain(tables), false);
  }

  private drain(tables: readonly TableName[]): S.Part[][] {
    const { phases, rows } = plan(this.buffers, tables.filter((t) => this.cached.has(t)), this.chunkRows, this.options.orderShared);
    this.stats.rows += rows;
    return phases;
  }

  /**
   * Runs drained phases in order. Small writes: one statement per phase (the last one `final` when `last`:
   * alone, without BEGIN/COMMIT, when nothing else needed a transaction). Large writes: one statement per
   * part and chunk, pipelined (`sendAll`).
   */
  private async write(phases: S.Part[][], last: boolean, tail?: S.Part): Promise<Record<string, unknown>[]> {
    let rows = 0;
    for (const phase of phases) for (const part of phase) rows += part.rows;
    if (rows < (this.options.pipelineRows ?? PIPELINE_ROWS) && this.inflight.length === 0) {
      if (tail) phases = phases.length > 0 ? [...phases.slice(0, -1), [...phases[phases.length - 1]!, tail]] : [[tail]];
      let answer: Record<string, unknown>[] = [];
      for (let i = 0; i < phases.length; i++) {
        const { text, params, name } = S.combine(phases[i]!);
        this.stats.statements++;
        if (last && i === phases.length - 1) answer = await this.sql.final(text, params, name);
        else await this.sql.query(text, params, name);
      }
      return answer;
    }
    await this.sendAll(phases);
    await this.settle();
    if (!tail) return [];
    const { text, params, name } = S.combine([tail]);
    this.stats.statements++;
    return this.sql.final(text, params, name);
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
   * `undefined`; the others return a promise to await before the next change. Every kind is handled here:
   * a new kind of change is a compile error until it is.
   */
  apply(change: Change): Promise<void> | undefined {
    switch (change.kind) {
      case 'upsert': {
        this.touchRow(change.table, change.row);
        if (!this.cached.has(change.table)) return undefined;
        // An insert a pending retain could delete must come after it (retains.ts).
        if (!this.deferred.empty && this.deferred.endangers(change.table, change.row)) {
          return this.runDeferred().then(() => this.upsert(change.table, change.row));
        }
        return this.upsert(change.table, change.row);
      }
      case 'update':
        this.touchRow(change.table, change.row, change.guildId);
        if (this.cached.has(change.table)) this.buffers.update(change.table, change.row, change.inc);
        return undefined;
      case 'delete':
        this.touchRow(change.table, change.key);
        if (this.cached.has(change.table)) this.buffers.delete(change.table, change.key);
        return undefined;
      case 'self':
        this.botUserId = change.userId;
        return undefined;
      case 'retain':
        if (!this.inPart) for (const t of retainReach(change.table)) this.snapshots.touch(t, change.guildId);
        return this.retain(change);
      case 'cascade':
        this.touchCascade(change);
        return this.afterDeferred(() => this.runSet(cascadeStatement(change.table, this.cached), [change.ids]));
      case 'reconcileShard':
        for (const t of TABLE_NAMES) this.snapshots.touch(t, undefined);
        return this.afterDeferred(() => this.reconcile(change.shardId, change.numShards, change.keep));
      case 'countMember':
        return this.afterDeferred(() => this.countMember(change.guildId, change.userId, change.delta));
      case 'putRole':
      case 'removeRole':
        return this.afterDeferred(() => this.editRoles(change));
      case 'reaction':
        return this.afterDeferred(() => this.react(change.messageId, change.op));
      case 'expand':
        return this.expand(change.changes());
      case 'sequenced':
        return this.sequenced(change);
      case 'snapshot':
        return this.snapshot(change.guildId, change.parts);
      default:
        return unreachable(change);
    }
  }

  /** A write outside a GUILD_CREATE part: the parts holding that table for that guild are no longer known. */
  private touchRow(table: TableName, row: Row, guildId?: string) {
    if (this.inPart) return;
    const column = describe(table).guild;
    if (column === undefined) return;
    this.snapshots.touch(table, guildId ?? (row[column] == null ? undefined : String(row[column])));
  }

  private touchCascade(change: Extract<Change, { kind: 'cascade' }>) {
    if (change.table === 'guilds') {
      for (const id of change.ids) for (const t of TABLE_NAMES) this.snapshots.touch(t, id);
    } else {
      for (const t of cascadeStatement(change.table, ALL).tables) this.snapshots.touch(t, change.guildId);
    }
  }

  /** Before a request's changes: the stored digests of its GUILD_CREATEs' guilds, in one query (snapshots.ts). */
  async prepare(changes: readonly Change[]) {
    const ids = new Set<string>();
    const collect = (cs: readonly Change[]) => {
      for (const c of cs) {
        if (c.kind === 'snapshot') ids.add(c.guildId);
        else if (c.kind === 'sequenced') collect(c.changes);
      }
    };
    collect(changes);
    const load = this.snapshots.toLoad(ids);
    if (load.length === 0) return;
    this.snapshots.load(load, await this.read(loadStatement(this.cached.has('guilds')), [load]));
  }

  /** A GUILD_CREATE's parts: those the cache holds already are skipped (snapshots.ts). */
  private async snapshot(guildId: string, parts: SnapshotPart[]) {
    for (const part of parts) {
      if (this.snapshots.unchanged(guildId, part.name, part.digest)) continue;
      this.inPart = true;
      try {
        await this.expand(part.changes);
      } finally {
        this.inPart = false;
      }
      this.snapshots.record(guildId, part.name, part.digest);
    }
  }

  /** Buffers an upsert; a table whose buffer fills a statement is written at once. */
  private upsert(table: TableName, row: Row): Promise<void> | undefined {
    this.buffers.upsert(table, row);
    if (table === 'messages' && row.channel_id != null) {
      const channel = String(row.channel_id);
      this.messagesByChannel.set(channel, (this.messagesByChannel.get(channel) ?? 0) + 1);
    }
    return this.buffers.of(table).upserts.size >= this.chunkRows ? this.flushEarly(table) : undefined;
  }

  /** Reads and set operations see the state after the pending retains. */
  private async afterDeferred(run: () => Promise<unknown>): Promise<void> {
    await this.runDeferred();
    await run();
  }

  /**
   * GUILD_CREATE's retains wait, to run as one statement per table with the other guilds' (retains.ts);
   * THREAD_LIST_SYNC's (limited to some parents) and a second one of the same guild run the pending first.
   */
  private retain(change: Extract<Change, { kind: 'retain' }>): Promise<void> | undefined {
    if (!this.cached.has(change.table)) return undefined;
    if (change.parentIds === undefined && !this.deferred.has(change.table, change.guildId)) {
      this.deferred.add(change.table, change.guildId, change.keep);
      return undefined;
    }
    return this.afterDeferred(async () => {
      if (change.parentIds === undefined) this.deferred.add(change.table, change.guildId, change.keep);
      else {
        const statement = retainStatement(change.table, this.cached);
        await this.runSet(statement, [[change.guildId], change.keep, change.parentIds]);
      }
    });
  }

  private async expand(changes: Iterable<Change>) {
    for (const c of changes) {
      const pending = this.apply(c);
      if (pending) await pending;
    }
  }

  private async sequenced(change: Extract<Change, { kind: 'sequenced' }>) {
    if (await this.sequences.admit(change.shardId, change.seq, change.session)) await this.expand(change.changes);
  }

  /** READY: cached guilds of this shard that the session does not list were left while offline. */
  private async reconcile(shardId: number, numShards: number, keep: string[]) {
    const guildTables = this.tables.filter((t) => t === 'guilds' || t === 'unavailable_guilds');
    if (guildTables.length === 0) return;
    await this.flush(guildTables);
    const rows = await this.exec(S.shardGuildsStatement(guildTables), [shardId, numShards, keep]);
    const gone = rows.map((r) => String(r.id));
    if (gone.length > 0) await this.runSet(cascadeStatement('guilds', this.cached), [gone]);
  }

  /**
   * GUILD_MEMBER_ADD/REMOVE: `member_count` moves only when the member's presence in the cache changes
   * (idempotent over replays). Without a members table the cache cannot tell: every event moves it.
   */
  private async countMember(guildId: string, userId: string, delta: 1 | -1) {
    this.snapshots.touch('guilds', guildId);
    if (!this.cached.has('guilds')) return;
    if (this.cached.has('members')) {
      const cached = await this.exists('members', { guild_id: guildId, user_id: userId });
      if (cached === (delta === 1)) return;
    }
    this.buffers.update('guilds', { id: guildId }, { member_count: delta });
  }

  private async editRoles(change: Extract<Change, { kind: 'putRole' | 'removeRole' }>) {
    this.snapshots.touch('guilds', change.guildId);
    if (change.kind === 'removeRole') this.snapshots.touch('members', change.guildId);
    if (this.cached.has('guilds')) {
      const roles = await this.readJson('guilds', { id: change.guildId }, 'roles');
      if (change.kind === 'putRole') {
        // A guild that is not cached has no row to change.
        if (roles !== undefined) this.buffers.update('guilds', { id: change.guildId, roles: JSON.stringify(putRole(roles, change.role)) });
      } else if (roles != null) {
        this.buffers.update('guilds', { id: change.guildId, roles: JSON.stringify(removeRole(roles, change.roleId)) });
      }
    }
    if (change.kind === 'removeRole' && this.cached.has('members')) {
      await this.flush(['members']);
      await this.exec(S.STRIP_ROLE, [change.guildId, change.roleId]);
      this.log.scope('members', { guild_id: change.guildId });
    }
  }

  private async react(messageId: string, op: ReactionOp) {
    if (!this.cached.has('messages')) return;
    const current = await this.readJson('messages', { id: messageId }, 'reactions');
    if (current === undefined) return; // message not cached
    const next = applyReaction(current, op, this.botUserId);
    this.buffers.update('messages', { id: messageId, reactions: JSON.stringify(next) });
  }

  /**
   * Writes everything still pending. Call once, last: when the batch needed no transaction so far and its
   * writes fit one statement, that statement runs on its own (atomic by itself: no BEGIN/COMMIT). `tail`
   * (the change feed's publication) rides in that last statement, and its rows are returned.
   */
  async finish(tail?: S.Part): Promise<Record<string, unknown>[]> {
    await this.runDeferred();
    const phases = this.drain(this.tables);
    // The shard states and the digests go with the last statement: in the same transaction as what they describe.
    const ledger = [...this.snapshots.parts()];
    const sequence = this.sequences.part();
    if (sequence) ledger.push(sequence);
    if (ledger.length > 0) {
      if (phases.length === 0) phases.push(ledger);
      else phases[phases.length - 1]!.push(...ledger);
    }
    return this.write(phases, true, tail);
  }
}

function unreachable(change: never): never {
  throw new Error(`unhandled change ${JSON.stringify(change)}`);
}
