/**
 * `cache.permissions()` computed in the bot's process from the cached guild, member and channel (or thread
 * and its parent), read through the local cache: the same inputs and the same algorithm
 * (`cache/permissions.ts`, pure) as `GET /v1/guilds/:guildId/members/:userId/permissions`, the same answers
 * (undefined when one of them is not cached, a 400 `INVALID_PARAM` for a channel of another guild).
 */
import type { BigString, DiscordChannel, DiscordGuild } from '@discordeno/types';
import { computePermissions, type OverwriteLike, type RoleLike } from '../cache/permissions.js';
import type { CachedMember } from '../db/tables.js';
import { CacheError } from './errors.js';

/** The reads it needs (the client's resource groups). */
export interface PermissionReads {
  guild(id: string): Promise<DiscordGuild | undefined>;
  member(guildId: string, userId: string): Promise<CachedMember | undefined>;
  channel(id: string): Promise<DiscordChannel | undefined>;
  thread(id: string): Promise<DiscordChannel | undefined>;
}

const array = <T>(value: unknown): T[] => (Array.isArray(value) ? (value as T[]) : []);

/** A read of a table left out of the cache (CACHE_TABLES) counts as not cached, as the route reads it. */
const orAbsent = <T>(read: Promise<T | undefined>) =>
  read.catch((err: unknown) => {
    if (err instanceof CacheError && err.code === 'TABLE_NOT_CACHED') return undefined;
    throw err;
  });

export async function localPermissions(reads: PermissionReads, guildId: BigString, userId: BigString, channelId?: BigString): Promise<bigint | undefined> {
  const [g, u] = [String(guildId), String(userId)];
  const [guild, member] = await Promise.all([reads.guild(g), reads.member(g, u)]);
  if (!guild || !member) return undefined;
  let overwrites: OverwriteLike[] | undefined;
  if (channelId !== undefined && String(channelId) !== '') {
    const c = String(channelId);
    let channel = await reads.channel(c);
    let owner = channel;
    if (!channel) {
      const thread = await orAbsent(reads.thread(c));
      if (!thread) return undefined;
      owner = thread;
      channel = thread.parent_id == null ? undefined : await reads.channel(String(thread.parent_id));
      if (!channel) return undefined;
    }
    if (owner?.guild_id != null && String(owner.guild_id) !== g) {
      const path = `/v1/guilds/${g}/members/${u}/permissions`;
      throw new CacheError(`querystring.channel_id ${c} belongs to guild ${String(owner.guild_id)}, not ${g}`, 400, 'GET', path, 'Bad Request', {
        code: 'INVALID_PARAM',
      });
    }
    overwrites = array<OverwriteLike>(channel.permission_overwrites);
  }
  return computePermissions({
    guildId: g,
    ownerId: guild.owner_id == null ? undefined : String(guild.owner_id),
    roles: array<RoleLike>(guild.roles),
    userId: u,
    memberRoles: array<unknown>(member.roles).map(String),
    communicationDisabledUntil: typeof member.communication_disabled_until === 'string' ? member.communication_disabled_until : undefined,
    overwrites,
    now: Date.now(),
  });
}
