/**
 * Rows → Discord JSON. Reads select every column already in Discord form (snowflakes as text, timestamps as
 * ISO-8601, jsonb as JSON), so shaping is dropping and renaming, driven by the table descriptors:
 * - the cache's own columns (`updated_at`) and the table's hidden ones (keys rendered otherwise) go;
 * - a NULL column is `null` when Discord's type says the property is present and nullable (`T | null`, the
 *   descriptor's `nullable`), and is left out otherwise (`T?`: the cache cannot tell "null" from "never
 *   seen", and Discordeno's transformers treat both as absent).
 */
import { TABLES, type TableName } from '../db/tables.js';

export type DiscordObject = Record<string, unknown>;

/** The cache's own columns, never part of a Discord object. */
export const INTERNAL_COLUMNS: ReadonlySet<string> = new Set(['updated_at']);

interface Shaping {
  drop: ReadonlySet<string>;
  nullable: ReadonlySet<string>;
}

const SHAPING = Object.fromEntries(
  Object.entries(TABLES).map(([name, d]) => [
    name,
    { drop: new Set([...INTERNAL_COLUMNS, ...d.hidden]), nullable: new Set<string>(d.nullable) },
  ]),
) as unknown as Record<TableName, Shaping>;

/** A row of `table` as Discord's object (without the extras some tables add: see `shape`). */
export function compact(table: TableName, row: Record<string, unknown>): DiscordObject {
  const { drop, nullable } = SHAPING[table];
  const out: DiscordObject = {};
  for (const key in row) {
    if (drop.has(key)) continue;
    const v = row[key];
    if (v === null || v === undefined) {
      if (nullable.has(key)) out[key] = null;
      continue;
    }
    out[key] = v;
  }
  return out;
}

/**
 * A row of `table` as Discord's object. Members and presences carry their `user` (the cached user, or
 * `{ id }` when it is not cached: Discord's own presences are partial too, and a member must stay
 * identifiable); a message whose author snapshot is missing gets `{ id }` from `author_id`; an unavailable
 * guild is `{ id, unavailable: true }`.
 */
export function shape(table: TableName, row: Record<string, unknown>, user?: Record<string, unknown>): DiscordObject {
  const out = compact(table, row);
  switch (table) {
    case 'members':
    case 'presences':
      out.user = user ? compact('users', user) : { id: row.user_id };
      break;
    case 'messages':
      if (out.author === undefined && row.author_id != null) out.author = { id: row.author_id };
      break;
    case 'unavailable_guilds':
      out.unavailable = true;
      break;
    default:
      break;
  }
  return out;
}
