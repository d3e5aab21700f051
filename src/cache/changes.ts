/**
 * What an event (or a PUT/DELETE) does to the tables, as data. Event mappers produce these (pure, no I/O);
 * the writer applies them in order, inside one transaction, batching what can be batched.
 */
import type { TableName } from '../db/tables.js';
import type { CascadeRoot, RetainTable } from './cascade.js';
import type { PartName } from './snapshots.js';
import type { Row } from '../discord/columns.js';

export type { Row };

export type Change =
  /** Insert or merge: columns present in `row` overwrite, absent ones keep their cached value. */
  | { kind: 'upsert'; table: TableName; row: Row }
  /**
   * Merge into a cached row only (no insert); `inc` adds to integer columns (NULL stays NULL). `guildId`:
   * the guild of a row updated by id alone, when the event says it (not written: see snapshots.ts).
   */
  | { kind: 'update'; table: TableName; row: Row; inc?: Record<string, number>; guildId?: string }
  /** Delete one row by primary key (`key` holds the primary-key columns). No cascade. */
  | { kind: 'delete'; table: TableName; key: Row }
  /**
   * Delete guilds, channels or threads by id with every row that belongs to them (see cascade.ts): a
   * channel's threads and the messages and voice states of both; a guild's members, presences, channels, ….
   */
  | { kind: 'cascade'; table: CascadeRoot; ids: string[]; guildId?: string }
  /**
   * GUILD_CREATE is authoritative for a guild's channels, threads and voice states (THREAD_LIST_SYNC for the
   * threads of some channels): the cached rows whose key is not in `keep` leave, with what belongs to them.
   */
  | { kind: 'retain'; table: RetainTable; guildId: string; keep: string[]; parentIds?: string[] }
  /** READY: cached guilds of this shard that the session does not list were left while offline. */
  | { kind: 'reconcileShard'; shardId: number; numShards: number; keep: string[] }
  /** GUILD_MEMBER_ADD/REMOVE: `member_count` moves only when the member's presence in the cache changes. */
  | { kind: 'countMember'; guildId: string; userId: string; delta: 1 | -1 }
  /** GUILD_ROLE_CREATE/UPDATE: replace or append the role in `guilds.roles` (no row, no change). */
  | { kind: 'putRole'; guildId: string; role: Record<string, unknown> }
  /** GUILD_ROLE_DELETE: drop it from `guilds.roles` and from every cached member's `roles`. */
  | { kind: 'removeRole'; guildId: string; roleId: string }
  /** The bot's own user id (READY, USER_UPDATE): reactions by it set `me`. */
  | { kind: 'self'; userId: string }
  /** Reaction counters on a cached message. */
  | { kind: 'reaction'; messageId: string; op: ReactionOp }
  /**
   * A GUILD_CREATE's parts, each with a digest of what Discord sent: a part the cache holds already (the same
   * digest last applied, nothing written there since) is skipped. See snapshots.ts.
   */
  | { kind: 'snapshot'; guildId: string; parts: SnapshotPart[] }
  /**
   * A forwarded event with its shard's sequence number: applied only if `seq` is above the shard's last
   * applied one (`session`: READY's, which starts a new session). See sequence.ts.
   */
  | { kind: 'sequenced'; shardId: number; seq: number; session?: string; changes: Change[] }
  /**
   * Changes mapped while they are applied (the members of a giant GUILD_CREATE), so the database writes the
   * first ones while the rest are mapped. `changes()` is pure and starts over on every call (a failed group
   * is retried request by request); a validation error surfaces while applying and rolls the request back.
   */
  | { kind: 'expand'; size: number; changes: () => Iterable<Change> };

/** How many changes `changes` stands for (an `expand` counts what it produces). */
export function changeCount(changes: readonly Change[]): number {
  let n = 0;
  for (const c of changes) {
    if (c.kind === 'expand') n += c.size;
    else if (c.kind === 'sequenced') n += changeCount(c.changes);
    else if (c.kind === 'snapshot') for (const p of c.parts) n += changeCount(p.changes);
    else n += 1;
  }
  return n;
}

export interface SnapshotPart {
  name: PartName;
  digest: string;
  changes: Change[];
}

export type ReactionOp =
  | { type: 'add'; emoji: Record<string, unknown>; burst: boolean; userId: string }
  | { type: 'remove'; emoji: Record<string, unknown>; burst: boolean; userId: string }
  | { type: 'removeAll' }
  | { type: 'removeEmoji'; emoji: Record<string, unknown> };

export const upsert = (table: TableName, row: Row): Change => ({ kind: 'upsert', table, row });
export const update = (table: TableName, row: Row, inc?: Record<string, number>, guildId?: string): Change => {
  const change: Change = inc ? { kind: 'update', table, row, inc } : { kind: 'update', table, row };
  if (guildId !== undefined) change.guildId = guildId;
  return change;
};
export const remove = (table: TableName, key: Row): Change => ({ kind: 'delete', table, key });
