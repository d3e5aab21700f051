/** /v1/channels/:channelId — PUT (merge), GET, DELETE (cascades to threads and messages); a guild's channels. */
import type { FastifyInstance } from 'fastify';
import { upsert } from '../../cache/changes.js';
import { isThreadType } from '../../cache/events/channels.js';
import { pickColumns } from '../../discord/columns.js';
import { shapeChannel } from '../../discord/shape.js';
import type { RouteContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { bodyObject, snowflakeParam } from '../params.js';
import {
  deleteResponses,
  list,
  listResponses,
  objectBody,
  one,
  paramsSchema,
  putResponses,
  readResponses,
} from '../schemas.js';

type Params = { channelId: string };
type GuildParams = { guildId: string };

const tags = ['channels'];
const params = paramsSchema('channelId');

export function channelsRoutes(app: FastifyInstance, ctx: RouteContext) {
  const read = async (id: string, reads = ctx.reads) => {
    const row = await reads.one('channels', id);
    if (!row) throw notFound('channel', id);
    return shapeChannel(row);
  };

  // Not paged: Discord caps a guild at 500 channels.
  app.get<{ Params: GuildParams }>(
    '/guilds/:guildId/channels',
    {
      schema: {
        tags,
        summary: "Every cached channel of a guild, by id (threads: /v1/guilds/:guildId/threads)",
        params: paramsSchema('guildId'),
        response: listResponses(list('Channel')),
      },
    },
    async (request) =>
      (await ctx.readsFor(request).guildChannels(snowflakeParam(request.params.guildId, 'params.guildId'))).map(shapeChannel),
  );

  app.get<{ Params: Params }>(
    '/channels/:channelId',
    { schema: { tags, summary: 'A cached channel (threads are at /v1/threads/:threadId)', params, response: readResponses(one('Channel')) } },
    async (request) => read(snowflakeParam(request.params.channelId, 'params.channelId'), ctx.readsFor(request)),
  );

  /*
   * A thread type (10, 11, 12) is rejected with 400 rather than stored as a thread: threads are their own
   * resource (/v1/threads/:id), and a PUT here that a GET here could not read back would be a trap. DM
   * `recipients` are stored in the channel row only (a PUT writes its own resource; only a member's `user`
   * also writes users).
   */
  app.put<{ Params: Params }>(
    '/channels/:channelId',
    {
      schema: {
        tags,
        summary: 'Upsert (merge) a channel',
        description: 'A thread type (10, 11, 12) is a 400: PUT threads at /v1/threads/:threadId.',
        params,
        body: objectBody('A Discord channel object (see the Channel schema)'),
        response: putResponses(one('Channel')),
      },
    },
    async (request) => {
      const id = snowflakeParam(request.params.channelId, 'params.channelId');
      const body = bodyObject(request.body, 'id', id);
      if (isThreadType(body.type)) {
        throw new HttpError(400, `body.type ${String(body.type)} is a thread type: PUT threads at /v1/threads/${id}`);
      }
      await ctx.writer.submit([upsert('channels', { ...pickColumns('channels', body, 'body'), id })]);
      return read(id);
    },
  );

  app.delete<{ Params: Params }>(
    '/channels/:channelId',
    { schema: { tags, summary: 'Delete a channel with its threads and the messages of both', params, response: deleteResponses } },
    async (request, reply) => {
      const id = snowflakeParam(request.params.channelId, 'params.channelId');
      await ctx.writer.submit([{ kind: 'deleteChannels', ids: [id] }]);
      return reply.code(204).send();
    },
  );
}
