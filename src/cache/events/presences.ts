/** PRESENCE_UPDATE, and the presences inside GUILD_CREATE, GUILD_MEMBERS_CHUNK and THREAD_MEMBERS_UPDATE. */
import { objectAt, pickColumns, snowflakeAt } from '../../discord/columns.js';
import { remove, upsert, type Change } from '../changes.js';
import type { EventMapper } from './context.js';
import { partialUserChanges } from './users.js';

const PRESENCE_KEYS = new Set(['guild_id', 'user_id']);

/**
 * The presence's `user` is partial (only `id` is guaranteed): only the user keys present are written.
 * `guild_id` comes from the parent payload where the presence has none.
 */
export function presenceChanges(presence: unknown, guildId: string, path: string, deleteOffline: boolean): Change[] {
  const p = objectAt(presence, path);
  const user = objectAt(p.user, `${path}.user`);
  const userId = snowflakeAt(user.id, `${path}.user.id`);
  const key = { guild_id: guildId, user_id: userId };
  const changes = partialUserChanges(user, `${path}.user`);
  if (deleteOffline && p.status === 'offline') {
    changes.push(remove('presences', key));
  } else {
    changes.push(upsert('presences', { ...pickColumns('presences', p, path, PRESENCE_KEYS), ...key }));
  }
  return changes;
}

export const PRESENCE_UPDATE: EventMapper = (d, ctx) =>
  presenceChanges(d, snowflakeAt(d.guild_id, `${ctx.path}.guild_id`), ctx.path, ctx.deleteOfflinePresences);
