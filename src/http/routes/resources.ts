/**
 * The resource routes of every cached table, from its descriptor (`db/tables.ts`): GET, PUT (merge) and
 * DELETE of one object, and its lists. What differs from table to table is in `rules.ts`.
 *
 * - PUT merges like events do and answers the stored object; a body value that repeats a path parameter
 *   must equal it (400 otherwise). A PUT writes its own row only (a member's `user` is the exception).
 * - GET of one object: 200, or 404 NOT_CACHED. DELETE: 204, also when absent (a channel, thread or guild
 *   takes what belongs to it).
 * - Lists: keyset paged (`limit` 1–1000, `after`, or `before` for newest-first lists), or whole.
 * - A table left out of CACHE_TABLES answers 404 TABLE_NOT_CACHED on every route.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Reads } from '../../cache/reads.js';
import { TABLE_NAMES, describe, type ListRoute, type TableName } from '../../db/tables.js';
import type { Row } from '../../discord/columns.js';
import type { DiscordObject } from '../../discord/shape.js';
import { setChangeId } from '../change-id.js';
import type { RouteContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { bodyObject, matchesPath } from '../params.js';
import {
  deleteResponses,
  list,
  listQuery,
  listResponses,
  objectBody,
  one,
  paramsSchema,
  putResponses,
  readResponses,
} from '../schemas.js';
import { RULES, defaultRules, type ResourceRules } from './rules.js';
import { explainNotHeld, requireLeases, resourceShards } from './shards.js';

type Params = Record<string, string>;
type Query = Record<string, string | number | undefined>;

const paramNames = (path: string) => [...path.matchAll(/:(\w+)/g)].map((m) => m[1]!);

/** 404 TABLE_NOT_CACHED for a table left out of the cache scope. */
export function requireCached(ctx: RouteContext, table: TableName) {
  if (!ctx.cached.has(table)) {
    throw new HttpError('TABLE_NOT_CACHED', `${table} is not cached here: CACHE_TABLES leaves it out`);
  }
}

function resource(app: FastifyInstance, ctx: RouteContext, table: TableName, rules: ResourceRules) {
  const d = describe(table);
  const { path, params: columnOf } = d.one;
  const names = paramNames(path);
  const params = paramsSchema(names);
  const tags = [d.tag];
  const all = { ...defaultRules(table), ...rules };

  /** The path as columns: `{ guild_id, user_id }`. */
  const keyOf = (p: Params): Row => Object.fromEntries(names.map((n) => [columnOf[n]!, p[n]]));
  /** The id a 404 names: the last path parameter (`member 42 is not cached`). */
  const idOf = (p: Params) => p[names[names.length - 1]!]!;

  const read = async (reads: Reads, p: Params): Promise<DiscordObject> => {
    const found = await all.read(reads, keyOf(p));
    if (!found) throw notFound(d.kind, idOf(p));
    return found;
  };

  app.get<{ Params: Params }>(
    path,
    { schema: { tags, summary: `A cached ${d.kind}`, params, response: readResponses(one(d.object)) } },
    async (request) => {
      requireCached(ctx, table);
      return read(ctx.readsFor(request), request.params);
    },
  );

  app.put<{ Params: Params }>(
    path,
    {
      schema: {
        tags,
        summary: `Upsert (merge) a ${d.kind}`,
        description: [`Values in the body that repeat the path must match it.`, rules.putDoc].filter(Boolean).join(' '),
        params,
        ...(d.emptyBody ? {} : { body: objectBody(`A Discord ${d.kind} object (see the ${d.object} schema)`) }),
        response: putResponses(one(d.object)),
      },
    },
    async (request, reply) => {
      requireCached(ctx, table);
      const key = keyOf(request.params);
      const body = d.emptyBody && request.body === undefined ? {} : bodyObject(request.body);
      for (const column of Object.values(columnOf)) matchesPath(body, column, String(key[column]));
      const changes = all.put(body, key);
      setChangeId(reply, (await leased(ctx, () => resourceShards(ctx, table, key, body), (shards) => ctx.writer.submit(changes, 1, shards))).changeId);
      return read(ctx.reads, request.params); // the primary: what was just stored
    },
  );

  app.delete<{ Params: Params }>(
    path,
    { schema: { tags, summary: rules.deleteDoc ?? `Delete a ${d.kind}`, params, response: deleteResponses } },
    async (request, reply) => {
      requireCached(ctx, table);
      const key = keyOf(request.params);
      const changes = await all.remove(ctx.reads, key);
      if (changes.length > 0) setChangeId(reply, (await leased(ctx, () => resourceShards(ctx, table, key, undefined), (shards) => ctx.writer.submit(changes, 1, shards))).changeId);
      return reply.code(204).send();
    },
  );

  for (const route of Object.values(d.lists)) listRoute(app, ctx, table, route, all);
}

function listRoute(app: FastifyInstance, ctx: RouteContext, table: TableName, route: ListRoute, rules: Required<ResourceRules>) {
  const d = describe(table);
  const names = paramNames(route.path);
  const bound = route.paged ? (route.order === 'asc' ? 'after' : 'before') : undefined;
  app.get<{ Params: Params; Querystring: Query }>(
    route.path,
    {
      schema: {
        tags: [d.tag],
        summary: route.summary,
        ...(names.length > 0 ? { params: paramsSchema(names) } : {}),
        querystring: listQuery(bound, route.filters),
        response: listResponses(list(d.object)),
      },
    },
    async (request: FastifyRequest<{ Params: Params; Querystring: Query }>) => {
      requireCached(ctx, table);
      const reads = ctx.readsFor(request);
      const filters: [string, string][] = names.map((n) => [route.params[n]!, request.params[n]!]);
      for (const f of route.filters ?? []) {
        const v = request.query[f];
        if (v !== undefined && v !== '') filters.push([f, String(v)]);
      }
      const after = bound ? request.query[bound] : undefined;
      const page = bound ? { limit: Number(request.query.limit ?? 100), bound: after === '' || after === undefined ? undefined : String(after) } : undefined;
      const rows = await reads.list(table, filters, route.key, route.order, page);
      return rules.shapeList(reads, rows);
    },
  );
}

/** A write of the shards `shardsOf` names: 421 unless this instance holds them (TOTAL_SHARDS), else `write`. */
async function leased<T>(ctx: RouteContext, shardsOf: () => Promise<number[]>, write: (shards: number[]) => Promise<T>): Promise<T> {
  try {
    const shards = await shardsOf();
    requireLeases(ctx, shards);
    return await write(shards);
  } catch (err) {
    throw await explainNotHeld(ctx, err);
  }
}

/** Every table's routes (those left out of the cache scope answer 404 TABLE_NOT_CACHED). */
export function resourceRoutes(app: FastifyInstance, ctx: RouteContext) {
  for (const table of TABLE_NAMES) resource(app, ctx, table, RULES[table] ?? {});
}
