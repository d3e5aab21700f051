/**
 * Rows → Discord JSON. Reads select every column already in Discord form (snowflakes as text, timestamps as
 * ISO-8601, jsonb as JSON), so shaping is renaming and dropping: columns that are NULL are omitted (the
 * cache cannot tell "null" from "never seen", and Discordeno's transformers accept both as absent), as are
 * the cache's own columns.
 */
export type DiscordObject = Record<string, unknown>;

/** The cache's own columns, never part of a Discord object. */
export const INTERNAL_COLUMNS: ReadonlySet<string> = new Set(['updated_at']);

export function compact(row: Record<string, unknown>, drop?: ReadonlySet<string>): DiscordObject {
  const out: DiscordObject = {};
  for (const key in row) {
    const v = row[key];
    if (v === null || v === undefined || INTERNAL_COLUMNS.has(key) || drop?.has(key)) continue;
    out[key] = v;
  }
  return out;
}

const MEMBER_DROP = new Set(['user_id', 'guild_id']);
const PRESENCE_DROP = new Set(['user_id']);
const MESSAGE_DROP = new Set(['author_id']);

export const shapeUser = (row: Record<string, unknown>) => compact(row);
export const shapeGuild = (row: Record<string, unknown>) => compact(row);
export const shapeChannel = (row: Record<string, unknown>) => compact(row);
export const shapeThread = (row: Record<string, unknown>) => compact(row);
export const shapeUnavailableGuild = (row: Record<string, unknown>) => ({ id: row.id, unavailable: true });

/**
 * A member, with its `user`: the cached user, or `{ id }` when the user is not cached (a member must stay
 * identifiable, in lists and for keyset paging).
 */
export function shapeMember(row: Record<string, unknown>, user?: Record<string, unknown>): DiscordObject {
  const out = compact(row, MEMBER_DROP);
  out.user = user ? shapeUser(user) : { id: row.user_id };
  return out;
}

/** A presence; its `user` is the cached user, or `{ id }` (Discord's own presences are partial too). */
export function shapePresence(row: Record<string, unknown>, user?: Record<string, unknown>): DiscordObject {
  const out = compact(row, PRESENCE_DROP);
  out.user = user ? shapeUser(user) : { id: row.user_id };
  return out;
}

/** A message; `author` is the snapshot stored with it (webhook authors are not users). */
export function shapeMessage(row: Record<string, unknown>): DiscordObject {
  const out = compact(row, MESSAGE_DROP);
  if (out.author === undefined && row.author_id != null) out.author = { id: row.author_id };
  return out;
}
