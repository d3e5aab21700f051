/** CHANNEL_CREATE / UPDATE / DELETE and CHANNEL_PINS_UPDATE. Threads (types 10–12) go to `threads`. */
import { objectAt, optionalArrayAt, pickColumns, snowflakeAt, type Row } from '../../discord/columns.js';
import { update, upsert, type Change } from '../changes.js';
import type { EventMapper } from './context.js';
import { threadChanges } from './threads.js';
import { userChanges } from './users.js';

const THREAD_TYPES = new Set([10, 11, 12]);
const DM_TYPES = new Set([1, 3]);

export const isThreadType = (type: unknown) => typeof type === 'number' && THREAD_TYPES.has(type);

/** A guild or DM channel; `guildId` is injected where the payload has none (channels inside GUILD_CREATE). */
export function channelChanges(channel: unknown, guildId: string | undefined, path: string): Change[] {
  const c = objectAt(channel, path);
  if (isThreadType(c.type)) return threadChanges(c, guildId, path);
  const id = snowflakeAt(c.id, `${path}.id`);
  const row = pickColumns('channels', c, path);
  row.id = id;
  if (guildId !== undefined && row.guild_id == null) row.guild_id = guildId;
  const changes: Change[] = [];
  if (typeof c.type === 'number' && DM_TYPES.has(c.type)) {
    optionalArrayAt(c.recipients, `${path}.recipients`)?.forEach((u, i) =>
      changes.push(...userChanges(u, `${path}.recipients[${i}]`)),
    );
  }
  changes.push(upsert('channels', row));
  return changes;
}

const channelUpsert: EventMapper = (d, { path }) => channelChanges(d, undefined, path);
export const CHANNEL_CREATE = channelUpsert;
export const CHANNEL_UPDATE = channelUpsert;

export const CHANNEL_DELETE: EventMapper = (d, { path }) => {
  const id = snowflakeAt(d.id, `${path}.id`);
  const table = isThreadType(d.type) ? 'threads' : 'channels';
  return [d.guild_id != null ? { kind: 'cascade', table, ids: [id], guildId: snowflakeAt(d.guild_id, `${path}.guild_id`) } : { kind: 'cascade', table, ids: [id] }];
};

/** The pinned channel may be a channel or a thread: update whichever is cached (no stub rows). */
export const CHANNEL_PINS_UPDATE: EventMapper = (d, { path }) => {
  const id = snowflakeAt(d.channel_id, `${path}.channel_id`);
  const row: Row = { id, ...pickColumns('channels', { last_pin_timestamp: d.last_pin_timestamp ?? null }, path) };
  const guildId = d.guild_id == null ? undefined : snowflakeAt(d.guild_id, `${path}.guild_id`);
  return [update('channels', row, undefined, guildId), update('threads', row, undefined, guildId)];
};
