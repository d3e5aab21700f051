/** GUILD_CREATE (and Discordeno's GUILD_LOADED_DD), GUILD_UPDATE, GUILD_DELETE, GUILD_EMOJIS_UPDATE. */
import { createHash } from 'node:crypto';
import { arrayAt, optionalArrayAt, pickColumns, snowflakeAt } from '../../discord/columns.js';
import { remove, update, upsert, type Change, type SnapshotPart } from '../changes.js';
import { channelChanges } from './channels.js';
import type { EventMapper } from './context.js';
import { memberWithUserChanges } from './members.js';
import { presenceChanges } from './presences.js';
import { threadChanges } from './threads.js';
import { voiceStateChanges } from './voice-states.js';

/** Members from which GUILD_CREATE maps them while they are written rather than before. */
export const EXPAND_MEMBERS = 5_000;

const idsOf = (changes: Change[], table: 'channels' | 'threads') =>
  changes.flatMap((c) => (c.kind === 'upsert' && c.table === table ? [String(c.row.id)] : []));
/**
 * The user rows out of a part's changes: users are shared by every guild, so they are written every time (in
 * their order), and a part's digest speaks only for its own guild's rows.
 */
function withoutUsers(changes: Change[], users: Change[]): Change[] {
  return changes.filter((c) => (c.kind === 'upsert' && c.table === 'users' ? (users.push(c), false) : true));
}

const userIdsOf = (changes: Change[]) =>
  changes.flatMap((c) => (c.kind === 'upsert' && c.table === 'voice_states' ? [String(c.row.user_id)] : []));

/** A digest of what Discord sent for one part of a guild (snapshots.ts). */
const digest = (value: unknown) => createHash('sha1').update(JSON.stringify(value) ?? '').digest('base64');

/**
 * A guild as its parts (snapshots.ts): the guild row, channels, threads, voice states, members, presences,
 * each with a digest of what Discord sent, so that a part the cache holds already is not written again.
 */
export const GUILD_CREATE: EventMapper = (d, ctx) => {
  const { path } = ctx;
  const id = snowflakeAt(d.id, `${path}.id`);
  if (d.unavailable === true) return [upsert('unavailable_guilds', { id })];

  const guild = pickColumns('guilds', d, path);
  guild.id = id;
  const channels = (optionalArrayAt(d.channels, `${path}.channels`) ?? []).flatMap((c, i) =>
    channelChanges(c, id, `${path}.channels[${i}]`),
  );
  const threads = (optionalArrayAt(d.threads, `${path}.threads`) ?? []).flatMap((t, i) =>
    threadChanges(t, id, `${path}.threads[${i}]`),
  );
  const voiceStates = (optionalArrayAt(d.voice_states, `${path}.voice_states`) ?? []).flatMap((v, i) =>
    voiceStateChanges(v, id, `${path}.voice_states[${i}]`),
  );
  const parts: SnapshotPart[] = [{ name: 'guild', digest: digest(guild), changes: [upsert('guilds', guild), remove('unavailable_guilds', { id })] }];
  // Channels, threads and voice states are complete in GUILD_CREATE: cached ones it does not list are gone.
  // An absent or null list (read as absent by optionalArrayAt) says nothing: it must not wipe the cached ones.
  if (d.channels != null) {
    const retain: Change = { kind: 'retain', table: 'channels', guildId: id, keep: idsOf(channels, 'channels') };
    parts.push({ name: 'channels', digest: digest(d.channels), changes: [retain, ...channels] });
  }
  if (d.threads != null) {
    const keep = [...idsOf(channels, 'threads'), ...idsOf(threads, 'threads')];
    parts.push({ name: 'threads', digest: digest(d.threads), changes: [{ kind: 'retain', table: 'threads', guildId: id, keep }, ...threads] });
  }
  const users: Change[] = [];
  if (d.voice_states != null) {
    const retain: Change = { kind: 'retain', table: 'voice_states', guildId: id, keep: userIdsOf(voiceStates) };
    parts.push({ name: 'voice_states', digest: digest(d.voice_states), changes: [retain, ...withoutUsers(voiceStates, users)] });
  }
  const changes: Change[] = [{ kind: 'snapshot', guildId: id, parts }];
  // Members and presences are NOT complete (large guilds, intents): never delete because they are missing.
  const members = optionalArrayAt(d.members, `${path}.members`);
  if (members && members.length > EXPAND_MEMBERS) {
    // A giant guild: its members are mapped as the writer applies them (see `expand` in changes.ts), and
    // always written (a digest of 100,000 members would cost more than it saves).
    changes.push(...users.splice(0), {
      kind: 'expand',
      size: members.length * 2,
      *changes() {
        for (let i = 0; i < members.length; i++) yield* memberWithUserChanges(members[i], id, `${path}.members[${i}]`);
      },
    });
  } else if (members) {
    const mapped = members.flatMap((m, i) => memberWithUserChanges(m, id, `${path}.members[${i}]`));
    parts.push({ name: 'members', digest: digest(members), changes: withoutUsers(mapped, users) });
  }
  const presences = optionalArrayAt(d.presences, `${path}.presences`);
  if (presences) {
    const mapped = presences.flatMap((p, i) => presenceChanges(p, id, `${path}.presences[${i}]`, ctx.deleteOfflinePresences));
    // After the members, as Discord lists them (a presence's partial user merges over the member's user).
    if (members && members.length > EXPAND_MEMBERS) changes.push(...mapped);
    else parts.push({ name: 'presences', digest: digest([presences, ctx.deleteOfflinePresences]), changes: withoutUsers(mapped, users) });
  }
  changes.push(...users);
  return changes;
};

export const GUILD_UPDATE: EventMapper = (d, { path }) => {
  const row = pickColumns('guilds', d, path);
  row.id = snowflakeAt(d.id, `${path}.id`);
  return [upsert('guilds', row)];
};

export const GUILD_DELETE: EventMapper = (d, { path }) => {
  const id = snowflakeAt(d.id, `${path}.id`);
  // An outage keeps everything: the guild comes back with GUILD_CREATE.
  if (d.unavailable === true) return [upsert('unavailable_guilds', { id })];
  return [{ kind: 'cascade', table: 'guilds', ids: [id] }];
};

/** The full emoji list; a guild that is not cached has no row to change. */
export const GUILD_EMOJIS_UPDATE: EventMapper = (d, { path }) => {
  const id = snowflakeAt(d.guild_id, `${path}.guild_id`);
  const emojis = arrayAt(d.emojis, `${path}.emojis`);
  return [update('guilds', { id, ...pickColumns('guilds', { emojis }, path) })];
};
