/** VOICE_STATE_UPDATE, and the voice states inside GUILD_CREATE. */
import { objectAt, pickColumns, snowflakeAt } from '../../discord/columns.js';
import { remove, upsert, type Change } from '../changes.js';
import type { EventMapper } from './context.js';
import { memberWithUserChanges } from './members.js';

const KEYS = new Set(['guild_id', 'user_id']);

/**
 * A voice state: the user is connected to `channel_id`, or left (`channel_id: null`: the row goes). Its
 * `member` (with `user`), when present, is cached too. `guildId` is injected where the state has none (the
 * voice states inside GUILD_CREATE).
 */
export function voiceStateChanges(state: unknown, guildId: string, path: string): Change[] {
  const v = objectAt(state, path);
  const userId = snowflakeAt(v.user_id, `${path}.user_id`);
  const key = { guild_id: guildId, user_id: userId };
  const changes: Change[] = v.member != null ? memberWithUserChanges(v.member, guildId, `${path}.member`) : [];
  if (v.channel_id === null) changes.push(remove('voice_states', key));
  else changes.push(upsert('voice_states', { ...pickColumns('voice_states', v, path, KEYS), ...key }));
  return changes;
}

/** A call in a DM has no guild: there is no guild's voice state to keep. */
export const VOICE_STATE_UPDATE: EventMapper = (d, { path }) =>
  d.guild_id == null ? [] : voiceStateChanges(d, snowflakeAt(d.guild_id, `${path}.guild_id`), path);
