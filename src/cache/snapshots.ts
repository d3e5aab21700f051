/**
 * Unchanged GUILD_CREATE parts are not written again. A bot that reconnects receives every guild's
 * GUILD_CREATE anew, and most of each is what the cache already holds. The GUILD_CREATE mapper cuts a guild
 * into parts (the guild row, channels, threads, voice states, members, presences), each with a digest of what
 * Discord sent; `guild_snapshots` holds, per guild and part, the digest last written, in the same transaction
 * as the part itself. A part whose digest is the one there, for a guild whose row exists, is skipped:
 * writing it again would change nothing.
 *
 * "Nothing else wrote there since" is kept by touching: every other change marks the (guild, table) pairs
 * it writes (a row without its guild marks the table for every guild), and the digests of the parts holding
 * those tables are deleted in the same transaction. A part written touches what its set operations may reach
 * (a changed channel list may delete threads and voice states). Being in the database, the digests survive a
 * restart, roll back with a failed transaction, and are shared by every instance. Writes that do not go
 * through the service are not seen: do not edit the cache's tables by hand while it runs (emptying them
 * whole, `guild_snapshots` included, is fine).
 */
import type { TableName } from '../db/tables.js';
import type { Part, Statement } from './statements.js';

export type PartName = 'guild' | 'channels' | 'threads' | 'voice_states' | 'members' | 'presences';

/** The tables each part writes (users are in none: their rows are shared by every guild). */
export const PART_TABLES: Readonly<Record<PartName, readonly TableName[]>> = {
  guild: ['guilds', 'unavailable_guilds'],
  channels: ['channels', 'threads'],
  threads: ['threads'],
  voice_states: ['voice_states', 'members'],
  members: ['members'],
  presences: ['presences'],
};

/** What writing a part may also change in other parts' tables (its retains' cascades). */
const PART_REACH: Readonly<Partial<Record<PartName, readonly TableName[]>>> = {
  channels: ['threads', 'voice_states'],
};

const PARTS_OF = new Map<TableName, PartName[]>();
for (const [part, tables] of Object.entries(PART_TABLES) as [PartName, readonly TableName[]][]) {
  for (const t of tables) PARTS_OF.set(t, [...(PARTS_OF.get(t) ?? []), part]);
}

/**
 * The digests of the guilds `$1::bigint[]`, for those whose row exists (`withGuilds`: a cache emptied behind
 * the service's back writes its guilds in full again).
 */
export const loadStatement = (withGuilds: boolean): Statement =>
  withGuilds
    ? {
        name: 'dsc_snapshots_load',
        text: 'SELECT s.guild_id::text AS guild_id, s.part, s.digest FROM guild_snapshots s JOIN guilds g ON g.id = s.guild_id WHERE s.guild_id = ANY($1::bigint[])',
      }
    : { name: 'dsc_snapshots_load_all', text: 'SELECT guild_id::text AS guild_id, part, digest FROM guild_snapshots WHERE guild_id = ANY($1::bigint[])' };

/** A batch's view of the digests: those loaded from the database, and what this batch wrote and touched. */
export class Snapshots {
  /** Digests in the database, of the guilds loaded so far. */
  private readonly stored = new Map<string, Map<PartName, string>>();
  private readonly loaded = new Set<string>();
  /** Parts written by this batch (after their last touch). */
  private readonly applied = new Map<string, Map<PartName, string>>();
  /** Parts touched by this batch, per guild; `*` for every guild. */
  private readonly touched = new Map<string, Set<PartName>>();

  /** `skip`: false never reports a part unchanged (the digests are still kept up to date). */
  constructor(private readonly skip: boolean) {}

  /** Of `guildIds`, those whose digests are not loaded yet. */
  toLoad(guildIds: Iterable<string>): string[] {
    return [...guildIds].filter((id) => !this.loaded.has(id));
  }

  /** Digests read from the database for `guildIds` (rows of `loadStatement`). */
  load(guildIds: readonly string[], rows: readonly Record<string, unknown>[]) {
    for (const id of guildIds) this.loaded.add(id);
    for (const r of rows) {
      const id = String(r.guild_id);
      let parts = this.stored.get(id);
      if (!parts) this.stored.set(id, (parts = new Map()));
      parts.set(r.part as PartName, String(r.digest));
    }
  }

  private isTouched(guildId: string, part: PartName) {
    return this.touched.get(guildId)?.has(part) || this.touched.get('*')?.has(part);
  }

  /** Whether `digest` is what the cache holds for `part` of `guildId` (writing it again would change nothing). */
  unchanged(guildId: string, part: PartName, digest: string): boolean {
    if (!this.skip) return false;
    const own = this.applied.get(guildId)?.get(part);
    if (own !== undefined) return own === digest;
    if (this.isTouched(guildId, part)) return false;
    return this.stored.get(guildId)?.get(part) === digest;
  }

  /** `part` of `guildId` was written with `digest` (what it reaches elsewhere is touched). */
  record(guildId: string, part: PartName, digest: string) {
    for (const t of PART_REACH[part] ?? []) this.touch(t, guildId);
    let parts = this.applied.get(guildId);
    if (!parts) this.applied.set(guildId, (parts = new Map()));
    parts.set(part, digest);
  }

  /** Something other than a part wrote `table` for `guildId` (undefined: for some guild, which one unknown). */
  touch(table: TableName, guildId: string | undefined) {
    const parts = PARTS_OF.get(table);
    if (!parts) return;
    const key = guildId ?? '*';
    let set = this.touched.get(key);
    if (!set) this.touched.set(key, (set = new Set()));
    for (const p of parts) {
      set.add(p);
      if (key === '*') for (const applied of this.applied.values()) applied.delete(p);
      else this.applied.get(key)?.delete(p);
    }
  }

  /**
   * The statement parts that bring `guild_snapshots` up to date: the touched digests deleted, the written
   * ones upserted (disjoint keys: a part written after its touch is upserted, not deleted).
   */
  parts(): Part[] {
    const out: Part[] = [];
    const delGuilds: string[] = [];
    const delParts: string[] = [];
    const everywhere: string[] = [];
    for (const [key, parts] of this.touched) {
      for (const p of parts) {
        if (key === '*') everywhere.push(p);
        else if (!this.applied.get(key)?.has(p) && this.stored.get(key)?.has(p) !== false) (delGuilds.push(key), delParts.push(p));
      }
    }
    const upGuilds: string[] = [];
    const upParts: string[] = [];
    const upDigests: string[] = [];
    for (const [guildId, parts] of this.applied) for (const [p, d] of parts) (upGuilds.push(guildId), upParts.push(p), upDigests.push(d));
    if (delGuilds.length > 0) {
      out.push({
        key: 'guild_snapshots|delete',
        rows: delGuilds.length,
        params: () => [delGuilds, delParts],
        sql: (o) =>
          `DELETE FROM guild_snapshots AS s USING (SELECT unnest($${o + 1}::bigint[]) AS g, unnest($${o + 2}::text[]) AS p) AS k ` +
          `WHERE s.guild_id = k.g AND s.part = k.p`,
      });
    }
    if (everywhere.length > 0) {
      out.push({
        key: 'guild_snapshots|delete-all',
        rows: everywhere.length,
        params: () => [everywhere, upGuilds, upParts],
        sql: (o) =>
          `DELETE FROM guild_snapshots AS s WHERE s.part = ANY($${o + 1}::text[]) AND NOT EXISTS ` +
          `(SELECT 1 FROM unnest($${o + 2}::bigint[], $${o + 3}::text[]) AS k(g, p) WHERE k.g = s.guild_id AND k.p = s.part)`,
      });
    }
    if (upGuilds.length > 0) {
      out.push({
        key: 'guild_snapshots|upsert',
        rows: upGuilds.length,
        params: () => [upGuilds, upParts, upDigests],
        sql: (o) =>
          `INSERT INTO guild_snapshots (guild_id, part, digest) SELECT unnest($${o + 1}::bigint[]), unnest($${o + 2}::text[]), unnest($${o + 3}::text[]) ` +
          `ON CONFLICT (guild_id, part) DO UPDATE SET digest = excluded.digest`,
      });
    }
    return out;
  }
}
