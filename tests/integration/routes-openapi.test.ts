/** GET /docs/json: the OpenAPI document lists every route, with schemas and the bearer scheme (PGlite). */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { makeApp } from '../helpers/app.js';
import { createPglite } from '../helpers/db.js';

const ROUTES: Record<string, string[]> = {
  '/': ['get'],
  '/status.js': ['get'],
  '/status.css': ['get'],
  '/v1/changes': ['get'],
  '/health': ['get'],
  '/ready': ['get'],
  '/metrics': ['get'],
  '/v1/stats': ['get'],
  '/v1/dispatch': ['post'],
  '/v1/shards': ['get'],
  '/v1/events': ['get'],
  '/v1/users/{userId}': ['get', 'put', 'delete'],
  '/v1/guilds': ['get'],
  '/v1/guilds/{guildId}': ['get', 'put', 'delete'],
  '/v1/guilds/{guildId}/members': ['get'],
  '/v1/guilds/{guildId}/members/{userId}': ['get', 'put', 'delete'],
  '/v1/guilds/{guildId}/members/{userId}/permissions': ['get'],
  '/v1/guilds/{guildId}/presences': ['get'],
  '/v1/guilds/{guildId}/presences/{userId}': ['get', 'put', 'delete'],
  '/v1/guilds/{guildId}/channels': ['get'],
  '/v1/guilds/{guildId}/threads': ['get'],
  '/v1/channels/{channelId}': ['get', 'put', 'delete'],
  '/v1/threads/{threadId}': ['get', 'put', 'delete'],
  '/v1/channels/{channelId}/messages': ['get'],
  '/v1/channels/{channelId}/messages/{messageId}': ['get', 'put', 'delete'],
  '/v1/unavailable-guilds': ['get'],
  '/v1/unavailable-guilds/{guildId}': ['get', 'put', 'delete'],
  '/v1/guilds/{guildId}/voice-states': ['get'],
  '/v1/guilds/{guildId}/voice-states/{userId}': ['get', 'put', 'delete'],
  '/v1/channels/{channelId}/voice-states': ['get'],
};

let db: Database;
let app: FastifyInstance;
let doc: any;

beforeAll(async () => {
  db = await createPglite();
  app = await makeApp(db, { cacheToken: 'secret' });
  const res = await app.inject({ method: 'GET', url: '/docs/json' });
  expect(res.statusCode).toBe(200); // no token needed
  doc = res.json();
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

describe('OpenAPI document', () => {
  test('is OpenAPI 3 with a bearer security scheme required by default', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
  });

  test("declares every operation's tag (the UI's groups, voice states included)", () => {
    const declared = new Set((doc.tags as { name: string }[]).map((t) => t.name));
    const used = new Set(Object.values(doc.paths).flatMap((ops) => Object.values(ops as Record<string, { tags?: string[] }>).flatMap((op) => op.tags ?? [])));
    expect(used).toContain('voice states');
    expect([...used].filter((t) => !declared.has(t))).toEqual([]);
  });

  test('lists every route (and nothing else)', () => {
    const listed = Object.fromEntries(Object.entries(doc.paths).map(([p, ops]) => [p, Object.keys(ops as object).sort()]));
    const expected = Object.fromEntries(Object.entries(ROUTES).map(([p, ms]) => [p, [...ms].sort()]));
    expect(listed).toEqual(expected);
  });

  test('operations need no token', () => {
    for (const p of ['/health', '/ready', '/metrics']) expect(doc.paths[p].get.security).toEqual([]);
  });

  test('routes carry params, querystrings and response schemas', () => {
    const guild = doc.paths['/v1/guilds/{guildId}'].get;
    expect(guild.parameters).toEqual([
      expect.objectContaining({ in: 'query', name: 'consistency', required: false, schema: { type: 'string', enum: ['primary'] } }),
      expect.objectContaining({ in: 'path', name: 'guildId', required: true, schema: expect.objectContaining({ format: 'snowflake' }) }),
      expect.objectContaining({ in: 'header', name: 'x-consistency', required: false, schema: { type: 'string', enum: ['primary'] } }),
    ]);
    expect(guild.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Guild' });
    expect(guild.responses['404']).toBeDefined();

    const list = doc.paths['/v1/channels/{channelId}/messages'].get;
    const names = list.parameters.map((p: { in: string; name: string }) => `${p.in}:${p.name}`).sort();
    expect(names).toEqual(['header:x-consistency', 'path:channelId', 'query:before', 'query:consistency', 'query:limit']);
    const limit = list.parameters.find((p: { name: string }) => p.name === 'limit');
    expect(limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000, default: 100 });

    const perms = doc.paths['/v1/guilds/{guildId}/members/{userId}/permissions'].get;
    expect(perms.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['channel_id', 'consistency']));
    // Only reads choose their database: writes always go to the primary.
    const put = doc.paths['/v1/guilds/{guildId}'].put;
    expect(put.parameters.map((p: { name: string }) => p.name)).toEqual(['guildId']);
    expect(perms.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Permissions' });
  });

  test('Discord object schemas come from the tables and stay open', () => {
    const { Guild, Member, Message, User } = doc.components.schemas;
    expect(Guild.additionalProperties).toBe(true);
    expect(Guild.properties).toMatchObject({ id: { type: 'string' }, name: { type: 'string' }, member_count: { type: 'integer' } });
    expect(Member.properties.roles).toMatchObject({ type: 'array' });
    expect(Member.properties.user).toEqual({ $ref: '#/components/schemas/User' });
    expect(Member.properties.guild_id).toBeUndefined();
    expect(Message.properties.author_id).toBeUndefined();
    expect(User.properties.updated_at).toBeUndefined();
  });

  test('/docs serves the UI; /v1 still needs the token', async () => {
    const ui = await app.inject({ method: 'GET', url: '/docs' });
    expect(ui.statusCode).toBeLessThan(400);
    expect((await app.inject({ method: 'GET', url: '/v1/guilds' })).statusCode).toBe(401);
    const ok = await app.inject({ method: 'GET', url: '/v1/guilds', headers: { authorization: 'Bearer secret' } });
    expect(ok.statusCode).toBe(200);
  });
});
