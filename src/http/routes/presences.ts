/** /v1/guilds/:guildId/presences — PUT (merge), GET, DELETE, list by user id. */
import type { FastifyInstance } from 'fastify';
import { remove, upsert } from '../../cache/changes.js';
import { objectAt, pickColumns } from '../../discord/columns.js';
import { shapePresence } from '../../discord/shape.js';
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

const tags = ['presences'];
const params = paramsSchema('guildId', 'userId');
const KEYS = new Set(['guild_id', 'user_id']);

const keyOf = (p: Params) => ({
  guildId: snowflakeParam(p.guildId, 'params.guildId'),
  userId: snowflakeParam(p.userId, 'params.userId'),
});

export function presencesRoutes(app: FastifyInstance, ctx: RouteContext) {
  const read = async (guildId: string, userId: string, reads = ctx.reads) => {
    const [row, user] = await Promise.all([reads.one('presences', guildId, userId), reads.one('users', userId)]);
    if (!row) throw notFound('presence', userId);
    return shapePresence(row, user);
  };

  app.get<{ Params: GuildParams; Querystring: ListQuery }>(
    '/guilds/:guildId/presences',
    {
      schema: {
        tags,
        summary: "A guild's cached presences, by user id ascending",
        params: paramsSchema('guildId'),
        querystring: pageQuery('after'),
        response: listResponses(list('Presence')),
      },
    },
    async (request) => {
      const guildId = snowflakeParam(request.params.guildId, 'params.guildId');
      const reads = ctx.readsFor(request);
      const rows = await reads.presences(guildId, pageParam(request.query, 'after'));
      const users = await reads.usersById(rows.map((r) => String(r.user_id)));
      return rows.map((r) => shapePresence(r, users.get(String(r.user_id))));
    },
  );

  app.get<{ Params: Params }>(
    '/guilds/:guildId/presences/:userId',
    { schema: { tags, summary: 'A cached presence', params, response: readResponses(one('Presence')) } },
    async (request) => {
      const { guildId, userId } = keyOf(request.params);
      return read(guildId, userId, ctx.readsFor(request));
    },
  );

  // The presence's `user` only identifies it (Discord's is partial): it is checked, not stored.
  app.put<{ Params: Params }>(
    '/guilds/:guildId/presences/:userId',
    {
      schema: {
        tags,
        summary: 'Upsert (merge) a presence',
        description:
          'body.user.id and body.guild_id, when present, must match the path; `user` is not stored. ' +
          'An offline status is stored like any other (DELETE removes a presence).',
        params,
        body: objectBody('A Discord presence object (see the Presence schema)'),
        response: putResponses(one('Presence')),
      },
    },
    async (request) => {
      const { guildId, userId } = keyOf(request.params);
      const body = bodyObject(request.body);
      matchesPath(body, 'guild_id', guildId);
      if (body.user != null) matchesPath(objectAt(body.user, 'body.user'), 'id', userId, 'body.user.id');
      const row = { ...pickColumns('presences', body, 'body', KEYS), guild_id: guildId, user_id: userId };
      await ctx.writer.submit([upsert('presences', row)]);
      return read(guildId, userId);
    },
  );

  app.delete<{ Params: Params }>(
    '/guilds/:guildId/presences/:userId',
    { schema: { tags, summary: 'Delete a presence', params, response: deleteResponses } },
    async (request, reply) => {
      const { guildId, userId } = keyOf(request.params);
      await ctx.writer.submit([remove('presences', { guild_id: guildId, user_id: userId })]);
      return reply.code(204).send();
    },
  );
}
