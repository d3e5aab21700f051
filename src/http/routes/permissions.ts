/** GET /v1/guilds/:guildId/members/:userId/permissions?channel_id= — computed permissions (cache/permissions.ts). */
import type { FastifyInstance } from 'fastify';
import { computePermissions, type OverwriteLike, type RoleLike } from '../../cache/permissions.js';
import type { Reads } from '../../cache/reads.js';
import type { RouteContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { one, optionalSnowflakeQuery, paramsSchema, readResponses } from '../schemas.js';
import { requireCached } from './resources.js';

type Params = { guildId: string; userId: string };

const array = <T>(value: unknown): T[] => (Array.isArray(value) ? (value as T[]) : []);

/**
 * The overwrites that apply in `channelId`: the channel's, or for a thread its parent channel's.
 * 404 when the channel (or the thread's parent) is not cached; 400 when it belongs to another guild.
 */
async function overwritesIn(reads: Reads, guildId: string, channelId: string): Promise<OverwriteLike[]> {
  let channel = await reads.one('channels', channelId);
  let owner = channel;
  if (!channel) {
    const thread = await reads.one('threads', channelId);
    if (!thread) throw notFound('channel', channelId);
    owner = thread;
    const parentId = thread.parent_id == null ? undefined : String(thread.parent_id);
    channel = parentId === undefined ? undefined : await reads.one('channels', parentId);
    if (!channel) throw new HttpError('NOT_CACHED', `channel ${parentId ?? '(unknown)'} (parent of thread ${channelId}) is not cached`);
  }
  if (owner?.guild_id != null && String(owner.guild_id) !== guildId) {
    throw new HttpError('INVALID_PARAM', `querystring.channel_id ${channelId} belongs to guild ${String(owner.guild_id)}, not ${guildId}`);
  }
  return array<OverwriteLike>(channel.permission_overwrites);
}

export function permissionsRoutes(app: FastifyInstance, ctx: RouteContext) {
  app.get<{ Params: Params; Querystring: { channel_id?: string } }>(
    '/guilds/:guildId/members/:userId/permissions',
    {
      schema: {
        tags: ['computed'],
        summary: "A member's permissions in the guild, or in a channel or thread",
        description:
          "Discord's algorithm: owner → all; @everyone + member roles; ADMINISTRATOR → all; channel overwrites " +
          '(@everyone, roles, member; a thread uses its parent channel); a timed-out member keeps only ' +
          'VIEW_CHANNEL and READ_MESSAGE_HISTORY. "All" is 8584986789675007. 404 when the guild, member or ' +
          'channel is not cached.',
        params: paramsSchema(['guildId', 'userId']),
        querystring: optionalSnowflakeQuery('channel_id', 'A channel or thread; omitted: guild-level permissions'),
        response: readResponses(one('Permissions')),
      },
    },
    async (request) => {
      const { guildId, userId } = request.params;
      const channelId = request.query.channel_id || undefined;
      for (const table of ['guilds', 'members', ...(channelId ? (['channels'] as const) : [])] as const) requireCached(ctx, table);
      const reads = ctx.readsFor(request);
      const [guild, member] = await Promise.all([reads.one('guilds', guildId), reads.one('members', guildId, userId)]);
      if (!guild) throw notFound('guild', guildId);
      if (!member) throw notFound('member', userId);
      const overwrites = channelId === undefined ? undefined : await overwritesIn(reads, guildId, channelId);
      const permissions = computePermissions({
        guildId,
        ownerId: guild.owner_id == null ? undefined : String(guild.owner_id),
        roles: array<RoleLike>(guild.roles),
        userId,
        memberRoles: array<unknown>(member.roles).map(String),
        communicationDisabledUntil: typeof member.communication_disabled_until === 'string' ? member.communication_disabled_until : undefined,
        overwrites,
        now: Date.now(),
      });
      return { permissions: permissions.toString() };
    },
  );
}
