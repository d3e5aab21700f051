/** GUILD_MEMBER_ADD / UPDATE / REMOVE and GUILD_MEMBERS_CHUNK. */
import { arrayAt, objectAt, optionalArrayAt, pickColumns, snowflakeAt } from '../../discord/columns.js';
import { remove, upsert, type Change } from '../changes.js';
import type { EventMapper } from './context.js';
import { presenceChanges } from './presences.js';
import { userChanges } from './users.js';

const MEMBER_KEYS = new Set(['guild_id', 'user_id']);

/** The member row alone, keyed by guild and user (the member object itself may lack `user`). */
export function memberRow(member: Record<string, unknown>, guildId: string, userId: string, path: string) {
  const row = pickColumns('members', member, path, MEMBER_KEYS);
  row.guild_id = guildId;
  row.user_id = userId;
  return row;
}

/** A member that carries its `user`: the user and the member. */
export function memberWithUserChanges(member: unknown, guildId: string, path: string): Change[] {
  const m = objectAt(member, path);
  const user = objectAt(m.user, `${path}.user`);
  const userId = snowflakeAt(user.id, `${path}.user.id`);
  return [...userChanges(user, `${path}.user`), upsert('members', memberRow(m, guildId, userId, path))];
}

export const GUILD_MEMBER_ADD: EventMapper = (d, { path }) => {
  const guildId = snowflakeAt(d.guild_id, `${path}.guild_id`);
  const userId = snowflakeAt(objectAt(d.user, `${path}.user`).id, `${path}.user.id`);
  // The count moves before the insert: it looks at whether the member was already cached.
  return [{ kind: 'countMember', guildId, userId, delta: 1 }, ...memberWithUserChanges(d, guildId, path)];
};

export const GUILD_MEMBER_UPDATE: EventMapper = (d, { path }) =>
  memberWithUserChanges(d, snowflakeAt(d.guild_id, `${path}.guild_id`), path);

export const GUILD_MEMBER_REMOVE: EventMapper = (d, { path }) => {
  const guildId = snowflakeAt(d.guild_id, `${path}.guild_id`);
  const userId = snowflakeAt(objectAt(d.user, `${path}.user`).id, `${path}.user.id`);
  const key = { guild_id: guildId, user_id: userId };
  return [{ kind: 'countMember', guildId, userId, delta: -1 }, remove('members', key), remove('presences', key)];
};

export const GUILD_MEMBERS_CHUNK: EventMapper = (d, ctx) => {
  const guildId = snowflakeAt(d.guild_id, `${ctx.path}.guild_id`);
  const changes: Change[] = [];
  arrayAt(d.members, `${ctx.path}.members`).forEach((m, i) =>
    changes.push(...memberWithUserChanges(m, guildId, `${ctx.path}.members[${i}]`)),
  );
  optionalArrayAt(d.presences, `${ctx.path}.presences`)?.forEach((p, i) =>
    changes.push(...presenceChanges(p, guildId, `${ctx.path}.presences[${i}]`, ctx.deleteOfflinePresences)),
  );
  return changes;
};
