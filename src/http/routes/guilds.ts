/** /v1/guilds — PUT (merge), GET, DELETE (cascades), and the list by id. */
import type { FastifyInstance } from 'fastify';
import { remove, upsert } from '../../cache/changes.js';
import { pickColumns } from '../../discord/columns.js';
import { shapeGuild } from '../../discord/shape.js';
import type { RouteContext } from '../context.js';
import { notFound } from '../errors.js';
import { bodyObject, pageParam, snowflakeParam } from '../params.js';
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

type Params = { guildId: string };
type ListQuery = { limit?: number; after?: string };

const tags = ['guilds'];
const params = paramsSchema('guildId');

export function guildsRoutes(app: FastifyInstance, ctx: RouteContext) {
  const read = async (id: string, reads = ctx.reads) => {
    const row = await reads.one('guilds', id);
    if (!row) throw notFound('guild', id);
    return shapeGuild(row);
  };

  app.get<{ Querystring: ListQuery }>(
    '/guilds',
    { schema: { tags, summary: 'Cached guilds, by id ascending', querystring: pageQuery('after'), response: listResponses(list('Guild')) } },
    async (request) => (await ctx.readsFor(request).guilds(pageParam(request.query, 'after'))).map(shapeGuild),
  );

  app.get<{ Params: Params }>(
    '/guilds/:guildId',
    { schema: { tags, summary: 'A cached guild', params, response: readResponses(one('Guild')) } },
    async (request) => read(snowflakeParam(request.params.guildId, 'params.guildId'), ctx.readsFor(request)),
  );

  // Only the guild's own columns: nested channels, members, ... are not written (PUT them separately).
  app.put<{ Params: Params }>(
    '/guilds/:guildId',
    {
      schema: {
        tags,
        summary: 'Upsert (merge) a guild',
        description: 'Only the guild object itself is stored: nested channels, threads, members and presences are ignored.',
        params,
        body: objectBody('A Discord guild object (see the Guild schema)'),
        response: putResponses(one('Guild')),
      },
    },
    async (request) => {
      const id = snowflakeParam(request.params.guildId, 'params.guildId');
      const body = bodyObject(request.body, 'id', id);
      await ctx.writer.submit([upsert('guilds', { ...pickColumns('guilds', body, 'body'), id })]);
      return read(id);
    },
  );

  app.delete<{ Params: Params }>(
    '/guilds/:guildId',
    {
      schema: {
        tags,
        summary: 'Delete a guild with its members, channels, threads, messages and presences',
        params,
        response: deleteResponses,
      },
    },
    async (request, reply) => {
      const id = snowflakeParam(request.params.guildId, 'params.guildId');
      await ctx.writer.submit([{ kind: 'removeGuild', guildId: id }, remove('unavailable_guilds', { id })]);
      return reply.code(204).send();
    },
  );
}
