/** /v1/channels/:channelId/messages — PUT (merge), GET, DELETE, and the newest-first list. */
import type { FastifyInstance } from 'fastify';
import { remove, upsert } from '../../cache/changes.js';
import { objectAt, pickColumns, snowflakeAt, type Row } from '../../discord/columns.js';
import { shapeMessage } from '../../discord/shape.js';
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

type ChannelParams = { channelId: string };
type Params = { channelId: string; messageId: string };
type ListQuery = { limit?: number; before?: string };

const tags = ['messages'];
const params = paramsSchema('channelId', 'messageId');
/** Derived from `author.id`, never taken from the body. */
const DERIVED = new Set(['author_id']);

const keyOf = (p: Params) => ({
  channelId: snowflakeParam(p.channelId, 'params.channelId'),
  id: snowflakeParam(p.messageId, 'params.messageId'),
});

/**
 * The message row of a PUT. Only the message is written: its `author` is kept as the snapshot stored with it
 * (and `author_id`), mentioned users and the author's member are not upserted (dispatch events do that).
 */
export function messagePutRow(body: Record<string, unknown>, channelId: string, id: string): Row {
  matchesPath(body, 'channel_id', channelId);
  const row: Row = { ...pickColumns('messages', body, 'body', DERIVED), id, channel_id: channelId };
  if (body.author === null) row.author_id = null;
  else if (body.author !== undefined) row.author_id = snowflakeAt(objectAt(body.author, 'body.author').id, 'body.author.id');
  return row;
}

export function messagesRoutes(app: FastifyInstance, ctx: RouteContext) {
  /** The message, only if it belongs to the channel of the path. */
  const find = async (channelId: string, id: string, reads = ctx.reads) => {
    const row = await reads.one('messages', id);
    return row && String(row.channel_id) === channelId ? row : undefined;
  };

  const read = async (channelId: string, id: string, reads = ctx.reads) => {
    const row = await find(channelId, id, reads);
    if (!row) throw notFound('message', id);
    return shapeMessage(row);
  };

  app.get<{ Params: ChannelParams; Querystring: ListQuery }>(
    '/channels/:channelId/messages',
    {
      schema: {
        tags,
        summary: "A channel's (or thread's) cached messages, newest first",
        params: paramsSchema('channelId'),
        querystring: pageQuery('before'),
        response: listResponses(list('Message')),
      },
    },
    async (request) => {
      const channelId = snowflakeParam(request.params.channelId, 'params.channelId');
      return (await ctx.readsFor(request).messages(channelId, pageParam(request.query, 'before'))).map(shapeMessage);
    },
  );

  app.get<{ Params: Params }>(
    '/channels/:channelId/messages/:messageId',
    { schema: { tags, summary: 'A cached message of this channel', params, response: readResponses(one('Message')) } },
    async (request) => {
      const { channelId, id } = keyOf(request.params);
      return read(channelId, id, ctx.readsFor(request));
    },
  );

  app.put<{ Params: Params }>(
    '/channels/:channelId/messages/:messageId',
    {
      schema: {
        tags,
        summary: 'Upsert (merge) a message',
        description:
          'body.id and body.channel_id, when present, must match the path. Only the message is stored (its ' +
          '`author` as a snapshot); the per-channel message limit applies.',
        params,
        body: objectBody('A Discord message object (see the Message schema)'),
        response: putResponses(one('Message')),
      },
    },
    async (request) => {
      const { channelId, id } = keyOf(request.params);
      const body = bodyObject(request.body, 'id', id);
      await ctx.writer.submit([upsert('messages', messagePutRow(body, channelId, id))]);
      return read(channelId, id);
    },
  );

  // A message cached in another channel is left alone (as if absent): the path names both.
  app.delete<{ Params: Params }>(
    '/channels/:channelId/messages/:messageId',
    { schema: { tags, summary: 'Delete a message of this channel', params, response: deleteResponses } },
    async (request, reply) => {
      const { channelId, id } = keyOf(request.params);
      if (await find(channelId, id)) await ctx.writer.submit([remove('messages', { id })]);
      return reply.code(204).send();
    },
  );
}
