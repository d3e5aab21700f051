/**
 * Deferred retains: a startup storm is thousands of GUILD_CREATEs, each authoritative for its guild's
 * channels, threads and voice states. Run one by one, each retain is a statement and flushes the buffers it
 * involves, three times per guild. Deferred, the retains of a whole batch run as one statement per table.
 *
 * Why that ends in the state one-by-one application gives: retains only delete, deletes commute with each
 * other and with updates and deletes of any row (a row a retain deletes ends deleted either way; no update
 * changes the columns a retain selects by: guild_id, parent_id, channel_id). Only an
 * insert can be undone by a later delete: an upsert that a pending retain could delete (a row of a retained
 * guild not in its keep list, or a row belonging to a channel that may go) runs the pending retains first.
 * The GUILD_CREATE's own rows are in its keep lists, so a storm never waits. Reads and the other set
 * operations run the pending retains first too (the batch does). Pure bookkeeping: the batch runs the SQL.
 */
import { describe, type TableName } from '../db/tables.js';
import type { Row } from '../discord/columns.js';
import { retainReach, type RetainTable } from './cascade.js';

/** Order of execution: a channel's retain may take threads, which a threads retain then need not. */
const ORDER: readonly RetainTable[] = ['channels', 'threads', 'voice_states'];

const keyColumn = (table: RetainTable) => (table === 'voice_states' ? 'user_id' : 'id');

export class DeferredRetains {
  /** Per table, the guilds retained and the keys each keeps. */
  private readonly pending = new Map<RetainTable, Map<string, Set<string>>>();

  get empty(): boolean {
    return this.pending.size === 0;
  }

  /** Whether a retain of `table` is pending for `guildId` (a second one must not be merged with it). */
  has(table: RetainTable, guildId: string): boolean {
    return this.pending.get(table)?.has(guildId) ?? false;
  }

  add(table: RetainTable, guildId: string, keep: readonly string[]) {
    let guilds = this.pending.get(table);
    if (!guilds) this.pending.set(table, (guilds = new Map()));
    guilds.set(guildId, new Set(keep));
  }

  /** Whether a pending retain could delete the row an upsert of `row` into `table` inserts. */
  endangers(table: TableName, row: Row): boolean {
    const d = describe(table);
    const rowGuild = d.guild !== undefined && row[d.guild] != null ? String(row[d.guild]) : undefined;
    const own = this.pending.get(table as RetainTable);
    if (own) {
      if (rowGuild === undefined) return true;
      const keep = own.get(rowGuild);
      if (keep && !keep.has(String(row[keyColumn(table as RetainTable)]))) return true;
    }
    if (d.channel === undefined) return false;
    // A row that belongs to a channel or thread: a retain of channels (or threads) takes it with its owner.
    for (const [retained, guilds] of this.pending) {
      if (retained === table || !retainReach(retained).includes(table)) continue;
      if (rowGuild !== undefined && !guilds.has(rowGuild)) continue; // another guild's channels are not touched
      const owner = row[d.channel];
      if (owner == null || !this.kept(rowGuild, String(owner))) return true;
    }
    return false;
  }

  /**
   * Whether `id` is a channel or thread a pending retain of its guild keeps. Ids are unique across channels
   * and threads, so a kept channel is no thread a threads retain could take; and a kept thread was checked
   * when it was upserted (its parent is kept), so no channel retain takes it either.
   */
  private kept(guildId: string | undefined, id: string): boolean {
    for (const table of ['channels', 'threads'] as const) {
      const guilds = this.pending.get(table);
      if (!guilds) continue;
      if (guildId !== undefined ? guilds.get(guildId)?.has(id) : [...guilds.values()].some((k) => k.has(id))) return true;
    }
    return false;
  }

  /** Every table the pending retains may delete from (flushed before they run). */
  reach(): TableName[] {
    const tables = new Set<TableName>();
    for (const table of this.pending.keys()) for (const t of retainReach(table)) tables.add(t);
    return [...tables];
  }

  /** The pending retains as statement parameters (see `retainStatement`), in order; none is pending after. */
  take(): { table: RetainTable; params: unknown[] }[] {
    const out: { table: RetainTable; params: unknown[] }[] = [];
    for (const table of ORDER) {
      const guilds = this.pending.get(table);
      if (!guilds) continue;
      const ids = [...guilds.keys()];
      if (table === 'voice_states') {
        const users: string[] = [];
        const of: string[] = [];
        for (const [guild, keep] of guilds) for (const u of keep) (users.push(u), of.push(guild));
        out.push({ table, params: [ids, users, of] });
      } else {
        const keep: string[] = [];
        for (const k of guilds.values()) for (const id of k) keep.push(id);
        out.push({ table, params: table === 'threads' ? [ids, keep, null] : [ids, keep] });
      }
    }
    this.pending.clear();
    return out;
  }
}
