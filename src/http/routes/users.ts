/** /v1/users/:userId — PUT (merge), GET, DELETE. */
import type { FastifyInstance } from 'fastify';
import { remove, upsert } from '../../cache/changes.js';
import { pickColumns } from '../../discord/columns.js';
import { shapeUser } from '../../discord/shape.js';
import type { RouteContext } from '../context.js';
import { notFound } from '../errors.js';
import { bodyObject, snowflakeParam } from '../params.js';
import { deleteResponses, objectBody, one, paramsSchema, putResponses, readResponses } from '../schemas.js';

type Params = { userId: string };

const tags = ['users'];
const params = paramsSchema('userId');

export function usersRoutes(app: FastifyInstance, ctx: RouteContext) {
  const read = async (id: string, reads = ctx.reads) => {
    const row = await reads.one('users', id);
    if (!row) throw notFound('user', id);
    return shapeUser(row);
  };

  app.get<{ Params: Params }>(
    '/users/:userId',
    { schema: { tags, summary: 'A cached user', params, response: readResponses(one('User')) } },
    async (request) => read(snowflakeParam(request.params.userId, 'params.userId'), ctx.readsFor(request)),
  );

  app.put<{ Params: Params }>(
    '/users/:userId',
    {
      schema: {
        tags,
        summary: 'Upsert (merge) a user',
        params,
        body: objectBody('A Discord user object (see the User schema)'),
        response: putResponses(one('User')),
      },
    },
    async (request) => {
      const id = snowflakeParam(request.params.userId, 'params.userId');
      const body = bodyObject(request.body, 'id', id);
      await ctx.writer.submit([upsert('users', { ...pickColumns('users', body, 'body'), id })]);
      return read(id);
    },
  );

  app.delete<{ Params: Params }>(
    '/users/:userId',
    { schema: { tags, summary: 'Delete a user (its members and presences stay)', params, response: deleteResponses } },
    async (request, reply) => {
      const id = snowflakeParam(request.params.userId, 'params.userId');
      await ctx.writer.submit([remove('users', { id })]);
      return reply.code(204).send();
    },
  );
}
