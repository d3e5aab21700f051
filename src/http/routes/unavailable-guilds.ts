/** /v1/unavailable-guilds — guilds in an outage: PUT (no body), GET, DELETE, and the list by id. */
import type { FastifyInstance } from 'fastify';
import { remove, upsert } from '../../cache/changes.js';
import { shapeUnavailableGuild } from '../../discord/shape.js';
import type { RouteContext } from '../context.js';
import { notFound } from '../errors.js';
import { bodyObject, pageParam, snowflakeParam } from '../params.js';
import {
  deleteResponses,
  list,
  listResponses,
  one,
  pageQuery,
  paramsSchema,
  putResponses,
  readResponses,
} from '../schemas.js';

type Params = { guildId: string };
type ListQuery = { limit?: number; after?: string };

const tags = ['unavailable guilds'];
const params = paramsSchema('guildId');

export function unavailableGuildsRoutes(app: FastifyInstance, ctx: RouteContext) {
  const read = async (id: string, reads = ctx.reads) => {
    const row = await reads.one('unavailable_guilds', id);
    if (!row) throw notFound('unavailable guild', id);
    return shapeUnavailableGuild(row);
  };

  // Paged like the other id-ordered lists: a large bot can have many guilds in an outage.
  app.get<{ Querystring: ListQuery }>(
    '/unavailable-guilds',
    {
      schema: {
        tags,
        summary: 'Guilds in an outage, by id ascending',
        querystring: pageQuery('after'),
        response: listResponses(list('UnavailableGuild')),
      },
    },
    async (request) => (await ctx.readsFor(request).unavailableGuilds(pageParam(request.query, 'after'))).map(shapeUnavailableGuild),
  );

  app.get<{ Params: Params }>(
    '/unavailable-guilds/:guildId',
    { schema: { tags, summary: 'A guild in an outage', params, response: readResponses(one('UnavailableGuild')) } },
    async (request) => read(snowflakeParam(request.params.guildId, 'params.guildId'), ctx.readsFor(request)),
  );

  // The body is empty; `{}` or `{ "id": ..., "unavailable": true }` are accepted too.
  app.put<{ Params: Params }>(
    '/unavailable-guilds/:guildId',
    {
      schema: {
        tags,
        summary: 'Mark a guild unavailable (empty body)',
        description: 'Its cached guild data, if any, is kept (as GUILD_DELETE with unavailable: true does).',
        params,
        response: putResponses(one('UnavailableGuild')),
      },
    },
    async (request) => {
      const id = snowflakeParam(request.params.guildId, 'params.guildId');
      if (request.body !== undefined) bodyObject(request.body, 'id', id);
      await ctx.writer.submit([upsert('unavailable_guilds', { id })]);
      return read(id);
    },
  );

  app.delete<{ Params: Params }>(
    '/unavailable-guilds/:guildId',
    { schema: { tags, summary: 'Forget that a guild is unavailable', params, response: deleteResponses } },
    async (request, reply) => {
      const id = snowflakeParam(request.params.guildId, 'params.guildId');
      await ctx.writer.submit([remove('unavailable_guilds', { id })]);
      return reply.code(204).send();
    },
  );
}
