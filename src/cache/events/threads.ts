/** THREAD_CREATE / UPDATE / DELETE, THREAD_LIST_SYNC and THREAD_MEMBERS_UPDATE. */
import { arrayAt, objectAt, optionalArrayAt, pickColumns, snowflakeAt } from '../../discord/columns.js';
import { update, upsert, type Change } from '../changes.js';
import type { EventMapper } from './context.js';
import { memberWithUserChanges } from './members.js';
import { presenceChanges } from './presences.js';

/** A thread; `guildId` is injected where the payload has none (threads inside GUILD_CREATE). */
export function threadChanges(thread: unknown, guildId: string | undefined, path: string): Change[] {
  const t = objectAt(thread, path);
  const row = pickColumns('threads', t, path);
  row.id = snowflakeAt(t.id, `${path}.id`);
  if (guildId !== undefined && row.guild_id == null) row.guild_id = guildId;
  return [upsert('threads', row)];
}

const threadUpsert: EventMapper = (d, { path }) => threadChanges(d, undefined, path);
export const THREAD_CREATE = threadUpsert;
export const THREAD_UPDATE = threadUpsert;

/** THREAD_DELETE carries only id, guild_id, parent_id and type: it is a delete, never an upsert. */
export const THREAD_DELETE: EventMapper = (d, { path }) => {
  const ids = [snowflakeAt(d.id, `${path}.id`)];
  return [d.guild_id != null ? { kind: 'cascade', table: 'threads', ids, guildId: snowflakeAt(d.guild_id, `${path}.guild_id`) } : { kind: 'cascade', table: 'threads', ids }];
};

export const THREAD_LIST_SYNC: EventMapper = (d, { path }) => {
  const guildId = snowflakeAt(d.guild_id, `${path}.guild_id`);
  const parentIds = optionalArrayAt(d.channel_ids, `${path}.channel_ids`)?.map((id, i) =>
    snowflakeAt(id, `${path}.channel_ids[${i}]`),
  );
  const threads = arrayAt(d.threads, `${path}.threads`);
  const upserts = threads.flatMap((t, i) => threadChanges(t, guildId, `${path}.threads[${i}]`));
  const keep = upserts.map((c) => (c.kind === 'upsert' ? String(c.row.id) : ''));
  const changes: Change[] = [
    parentIds ? { kind: 'retain', table: 'threads', guildId, keep, parentIds } : { kind: 'retain', table: 'threads', guildId, keep },
    ...upserts,
  ];
  // The bot's own thread membership for each synced thread.
  optionalArrayAt(d.members, `${path}.members`)?.forEach((m, i) => {
    const member = objectAt(m, `${path}.members[${i}]`);
    const id = snowflakeAt(member.id, `${path}.members[${i}].id`);
    changes.push(update('threads', { id, ...pickColumns('threads', { member }, `${path}.members[${i}]`) }, undefined, guildId));
  });
  return changes;
};

export const THREAD_MEMBERS_UPDATE: EventMapper = (d, ctx) => {
  const { path } = ctx;
  const id = snowflakeAt(d.id, `${path}.id`);
  const guildId = snowflakeAt(d.guild_id, `${path}.guild_id`);
  const changes: Change[] = [];
  optionalArrayAt(d.added_members, `${path}.added_members`)?.forEach((raw, i) => {
    const at = `${path}.added_members[${i}]`;
    const added = objectAt(raw, at);
    if (added.member != null) changes.push(...memberWithUserChanges(added.member, guildId, `${at}.member`));
    if (added.presence != null) {
      changes.push(...presenceChanges(added.presence, guildId, `${at}.presence`, ctx.deleteOfflinePresences));
    }
  });
  if (d.member_count !== undefined) {
    changes.push(update('threads', { id, ...pickColumns('threads', { member_count: d.member_count }, path) }, undefined, guildId));
  }
  return changes;
};
