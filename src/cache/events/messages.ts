/** MESSAGE_CREATE / UPDATE / DELETE / DELETE_BULK. */
import { arrayAt, objectAt, pickColumns, snowflakeAt, type Row } from '../../discord/columns.js';
import { remove, update, upsert, type Change } from '../changes.js';
import type { EventMapper } from './context.js';
import { memberRow } from './members.js';
import { userChanges } from './users.js';

const MESSAGE_KEYS = new Set(['author_id']);

/**
 * The message row plus what it carries: its author and mentioned users, and the author's member (which has
 * no `user`: it is keyed by `author.id` and `guild_id`). Webhook messages have a fake author and no member:
 * they create no users or members.
 */
function messageChanges(d: Record<string, unknown>, path: string): Change[] {
  const id = snowflakeAt(d.id, `${path}.id`);
  const channelId = snowflakeAt(d.channel_id, `${path}.channel_id`);
  const row: Row = pickColumns('messages', d, path, MESSAGE_KEYS);
  row.id = id;
  row.channel_id = channelId;
  const changes: Change[] = [];
  const fromWebhook = d.webhook_id != null;
  if (d.author != null) {
    const author = objectAt(d.author, `${path}.author`);
    const authorId = snowflakeAt(author.id, `${path}.author.id`);
    row.author_id = authorId;
    if (!fromWebhook) {
      changes.push(...userChanges(author, `${path}.author`));
      if (d.member != null && row.guild_id != null) {
        const member = objectAt(d.member, `${path}.member`);
        changes.push(upsert('members', memberRow(member, String(row.guild_id), authorId, `${path}.member`)));
      }
    }
  }
  if (!fromWebhook && Array.isArray(d.mentions)) {
    d.mentions.forEach((u, i) => changes.push(...userChanges(u, `${path}.mentions[${i}]`)));
  }
  changes.push(upsert('messages', row));
  return changes;
}

export const MESSAGE_CREATE: EventMapper = (d, { path }) => {
  const changes = messageChanges(d, path);
  const last: Row = { id: String(d.channel_id), last_message_id: String(d.id) };
  // With its guild, when it has one (a snowflake: checked with the message row above), so the writer knows
  // which guild's channels changed (snapshots.ts); not written.
  const guildId = d.guild_id == null ? undefined : String(d.guild_id);
  // The message's channel is a channel or a thread: whichever is cached moves on.
  changes.push(update('channels', last, undefined, guildId), update('threads', last, { message_count: 1, total_message_sent: 1 }, guildId));
  return changes;
};

/** Partial updates merge the keys present; `edited_timestamp: null` updates are real updates too. */
export const MESSAGE_UPDATE: EventMapper = (d, { path }) => messageChanges(d, path);

export const MESSAGE_DELETE: EventMapper = (d, { path }) => [remove('messages', { id: snowflakeAt(d.id, `${path}.id`) })];

export const MESSAGE_DELETE_BULK: EventMapper = (d, { path }) =>
  arrayAt(d.ids, `${path}.ids`).map((id, i) => remove('messages', { id: snowflakeAt(id, `${path}.ids[${i}]`) }));
