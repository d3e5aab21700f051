/** /v1/guilds/:guildId/members — PUT (merge; `user` also upserts the user), GET (with `user`), DELETE, list. */
import type { FastifyInstance } from 'fastify';
import { remove, upsert, type Change } from '../../cache/changes.js';
import { memberRow } from '../../cache/events/members.js';
import { userChanges } from '../../cache/events/users.js';
import { objectAt } from '../../discord/columns.js';
import { shapeMember } from '../../discord/shape.js';
import type { RouteContext } from '../context.js';
import { notFound } from '../errors.js';
import { bodyObject, matchesPath, pageParam, snowflakeParam } from '../params.js';
import {
  deleteResponses,
  list,
  listResponses,
  objectBody,
  one,
  pageQuery,
  paramsSchema,
  putResponses,
  readResponses,
} from '../schemas.js';

type GuildParams = { guildId: string };
type Params = { guildId: string; userId: string };
type ListQuery = { limit?: number; after?: string };

const tags = ['members'];
const params = paramsSchema('guildId', 'userId');

const keyOf = (p: Params) => ({
  guildId: snowflakeParam(p.guildId, 'params.guildId'),
  userId: snowflakeParam(p.userId, 'params.userId'),
});

/** The changes of a member PUT: its `user` (when present and not null), then the member row. */
export function memberPutChanges(body: Record<string, unknown>, guildId: string, userId: string): Change[] {
  matchesPath(body, 'guild_id', guildId);
  const changes: Change[] = [];
  if (body.user != null) {
    const user = objectAt(body.user, 'body.user');
    matchesPath(user, 'id', userId, 'body.user.id');
    changes.push(...userChanges({ ...user, id: userId }, 'body.user'));
  }
  changes.push(upsert('members', memberRow(body, guildId, userId, 'body')));
  return changes;
}

export function membersRoutes(app: FastifyInstance, ctx: RouteContext) {
  const read = async (guildId: string, userId: string, reads = ctx.reads) => {
    const found = await reads.memberWithUser(guildId, userId);
    if (!found) throw notFound('member', userId);
    return shapeMember(found.member, found.user);
  };

  app.get<{ Params: GuildParams; Querystring: ListQuery }>(
    '/guilds/:guildId/members',
    {
      schema: {
        tags,
        summary: "A guild's cached members, by user id ascending (`user` is the cached user or `{ id }`)",
        params: paramsSchema('guildId'),
        querystring: pageQuery('after'),
        response: listResponses(list('Member')),
      },
    },
    async (request) => {
      const guildId = snowflakeParam(request.params.guildId, 'params.guildId');
      const reads = ctx.readsFor(request);
      const rows = await reads.members(guildId, pageParam(request.query, 'after'));
      const users = await reads.usersById(rows.map((r) => String(r.user_id)));
      return rows.map((r) => shapeMember(r, users.get(String(r.user_id))));
    },
  );

  app.get<{ Params: Params }>(
    '/guilds/:guildId/members/:userId',
    { schema: { tags, summary: 'A cached member (`user` is the cached user or `{ id }`)', params, response: readResponses(one('Member')) } },
    async (request) => {
      const { guildId, userId } = keyOf(request.params);
      return read(guildId, userId, ctx.readsFor(request));
    },
  );

  app.put<{ Params: Params }>(
    '/guilds/:guildId/members/:userId',
    {
      schema: {
        tags,
        summary: 'Upsert (merge) a member; a `user` in the body also upserts the user',
        description: 'body.user.id and body.guild_id, when present, must match the path. member_count is not changed.',
        params,
        body: objectBody('A Discord guild member object (see the Member schema)'),
        response: putResponses(one('Member')),
      },
    },
    async (request) => {
      const { guildId, userId } = keyOf(request.params);
      await ctx.writer.submit(memberPutChanges(bodyObject(request.body), guildId, userId));
      return read(guildId, userId);
    },
  );

  app.delete<{ Params: Params }>(
    '/guilds/:guildId/members/:userId',
    { schema: { tags, summary: 'Delete a member (its user and presence stay)', params, response: deleteResponses } },
    async (request, reply) => {
      const { guildId, userId } = keyOf(request.params);
      await ctx.writer.submit([remove('members', { guild_id: guildId, user_id: userId })]);
      return reply.code(204).send();
    },
  );
}
