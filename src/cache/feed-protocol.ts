/**
 * The change feed's vocabulary (`GET /v1/changes`), shared by the service and the typed client's local cache.
 * Plain data and pure functions: the client imports it without pulling in the service.
 *
 * A commit that changed something is one event with an increasing `id` and its `changes`:
 * - `{ table, op: 'upsert' | 'delete', key }`: one row, by primary key (`key` holds every primary-key column,
 *   as strings). `upsert` means "inserted or changed: read it again"; an update of a row that turned out not
 *   to be cached is reported too (the feed may over-report, never under-report). `guild_id` is added when
 *   the row's guild is known and is not part of the key (a channel's), for `?guild_id=` filters.
 * - `{ table, scope }`: a set of rows changed or deleted at once (cascades, GUILD_CREATE's authoritative
 *   lists, READY's reconcile, role stripping, and very large commits): `{ guild_id }` the rows of that guild,
 *   `{ channel_id }` the rows of that channel (a thread's: its parent), `{}` every row of the table.
 */
import type { TableName } from '../db/tables.js';

export interface RowChange {
  table: TableName;
  op: 'upsert' | 'delete';
  key: Record<string, string>;
  guild_id?: string;
}

export type Scope = { guild_id: string } | { channel_id: string } | Record<string, never>;

export interface ScopeChange {
  table: TableName;
  scope: Scope;
}

export type FeedChange = RowChange | ScopeChange;

/** What a `change` event's data holds. */
export interface ChangeEvent {
  id: number;
  changes: FeedChange[];
}

/** Primary-key columns of every table, in key order (a test checks them against the schema). */
export const KEY_COLUMNS: Readonly<Record<TableName, readonly string[]>> = {
  users: ['id'],
  members: ['guild_id', 'user_id'],
  guilds: ['id'],
  channels: ['id'],
  threads: ['id'],
  messages: ['id'],
  presences: ['guild_id', 'user_id'],
  unavailable_guilds: ['id'],
  voice_states: ['guild_id', 'user_id'],
};

/** Tables whose objects embed a cached user (`members.get` and `presences.get` return `user`). */
export const EMBEDS_USER: readonly TableName[] = ['members', 'presences'];

export const isScope = (c: FeedChange): c is ScopeChange => 'scope' in c;

/** The identity of a row in a table: its key values joined (one string per row). */
export const rowId = (table: TableName, key: Record<string, unknown>): string =>
  KEY_COLUMNS[table].map((c) => String(key[c])).join(':');

/** Tables whose rows are a guild (their key `id` is the guild's id). */
const GUILD_ROWS: ReadonlySet<TableName> = new Set(['guilds', 'unavailable_guilds']);

/** The guild a change is about, or undefined when the change does not say (a user, a channel deleted by id). */
export function guildOf(c: FeedChange): string | undefined {
  if (isScope(c)) return 'guild_id' in c.scope ? c.scope.guild_id : undefined;
  if (GUILD_ROWS.has(c.table)) return c.key.id;
  return c.key.guild_id ?? c.guild_id;
}
