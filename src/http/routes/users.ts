/** /v1/users/:userId — PUT (merge), GET, DELETE. */
import type { FastifyInstance } from 'fastify';
import { remove, upsert } from '../../cache/changes.js';
import { pickColumns } from '../../discord/columns.js';
import { shapeUser } from '../../discord/shape.js';
import type { RouteContext } from '../context.js';
import { notFound } from '../errors.js';
import { bodyObject, snowflakeParam } from '../params.js';

type Params = { userId: string };

export function usersRoutes(app: FastifyInstance, ctx: RouteContext) {
  const read = async (id: string) => {
    const row = await ctx.reads.one('users', id);
    if (!row) throw notFound('user', id);
    return shapeUser(row);
  };

  app.get<{ Params: Params }>('/v1/users/:userId', async (request) =>
    read(snowflakeParam(request.params.userId, 'params.userId')),
  );

  app.put<{ Params: Params }>('/v1/users/:userId', async (request) => {
    const id = snowflakeParam(request.params.userId, 'params.userId');
    const body = bodyObject(request.body, 'id', id);
    await ctx.writer.submit([upsert('users', { ...pickColumns('users', body, 'body'), id })]);
    return read(id);
  });

  app.delete<{ Params: Params }>('/v1/users/:userId', async (request, reply) => {
    const id = snowflakeParam(request.params.userId, 'params.userId');
    await ctx.writer.submit([remove('users', { id })]);
    return reply.code(204).send();
  });
}
