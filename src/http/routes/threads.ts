/** /v1/threads/:threadId — PUT (merge), GET, DELETE (cascades to messages); a guild's threads. */
import type { FastifyInstance } from 'fastify';
import { upsert } from '../../cache/changes.js';
import { isThreadType } from '../../cache/events/channels.js';
import { pickColumns } from '../../discord/columns.js';
import { shapeThread } from '../../discord/shape.js';
import type { RouteContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { bodyObject, optionalSnowflakeParam, snowflakeParam } from '../params.js';
import {
  deleteResponses,
  list,
  listResponses,
  objectBody,
  one,
  optionalSnowflakeQuery,
  paramsSchema,
  putResponses,
  readResponses,
} from '../schemas.js';

type Params = { threadId: string };
type GuildParams = { guildId: string };

const tags = ['threads'];
const params = paramsSchema('threadId');

export function threadsRoutes(app: FastifyInstance, ctx: RouteContext) {
  const read = async (id: string, reads = ctx.reads) => {
    const row = await reads.one('threads', id);
    if (!row) throw notFound('thread', id);
    return shapeThread(row);
  };

  // Not paged: the cache holds the threads the gateway reports (active ones, and those updated since).
  app.get<{ Params: GuildParams; Querystring: { parent_id?: string } }>(
    '/guilds/:guildId/threads',
    {
      schema: {
        tags,
        summary: 'Every cached thread of a guild, by id; `parent_id` keeps those of one channel',
        params: paramsSchema('guildId'),
        querystring: optionalSnowflakeQuery('parent_id', 'Only the threads of this channel'),
        response: listResponses(list('Thread')),
      },
    },
    async (request) => {
      const guildId = snowflakeParam(request.params.guildId, 'params.guildId');
      const parentId = optionalSnowflakeParam(request.query.parent_id, 'querystring.parent_id');
      return (await ctx.readsFor(request).guildThreads(guildId, parentId)).map(shapeThread);
    },
  );

  app.get<{ Params: Params }>(
    '/threads/:threadId',
    { schema: { tags, summary: 'A cached thread', params, response: readResponses(one('Thread')) } },
    async (request) => read(snowflakeParam(request.params.threadId, 'params.threadId'), ctx.readsFor(request)),
  );

  // Symmetric to channels: a type that is not a thread type (10, 11, 12) is a 400; no type is accepted.
  app.put<{ Params: Params }>(
    '/threads/:threadId',
    {
      schema: {
        tags,
        summary: 'Upsert (merge) a thread',
        description: 'body.type, when present, must be a thread type (10, 11, 12).',
        params,
        body: objectBody('A Discord thread channel object (see the Thread schema)'),
        response: putResponses(one('Thread')),
      },
    },
    async (request) => {
      const id = snowflakeParam(request.params.threadId, 'params.threadId');
      const body = bodyObject(request.body, 'id', id);
      if (body.type != null && !isThreadType(body.type)) {
        throw new HttpError(400, `body.type ${String(body.type)} is not a thread type (10, 11, 12): PUT channels at /v1/channels/${id}`);
      }
      await ctx.writer.submit([upsert('threads', { ...pickColumns('threads', body, 'body'), id })]);
      return read(id);
    },
  );

  app.delete<{ Params: Params }>(
    '/threads/:threadId',
    { schema: { tags, summary: 'Delete a thread with its messages', params, response: deleteResponses } },
    async (request, reply) => {
      const id = snowflakeParam(request.params.threadId, 'params.threadId');
      await ctx.writer.submit([{ kind: 'deleteThreads', ids: [id] }]);
      return reply.code(204).send();
    },
  );
}
