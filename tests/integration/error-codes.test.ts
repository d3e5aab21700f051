/**
 * Every error code of src/http/errors.ts, each from a real request to the real app on PostgreSQL: status and
 * `code` (plus `index` and `path` for INVALID_EVENT, `path` for INVALID_BODY), the error shape, and the
 * OpenAPI document's Error schema listing the codes. A code added to ERROR_CODES without a request here fails
 * the last test.
 */
import { gzipSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/connect.js';
import { TABLE_NAMES } from '../../src/db/tables.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { ERROR_CODES, type ErrorCode } from '../../src/http/errors.js';
import { ev, makeApp } from '../helpers/app.js';
import { createEmptyDatabase, createPostgres, type TestDatabase } from '../helpers/db.js';
import { OutageProxy } from '../helpers/proxy.js';

const G = '81384788765712384';
const U1 = '80351110224678912';
const user = (id: string, extra: Record<string, unknown> = {}) => ({ id, username: `user${id.slice(-3)}`, discriminator: '0', ...extra });

describe('error codes (PostgreSQL)', () => {
  let pg: Awaited<ReturnType<typeof createPostgres>>;
  let db: Database;
  let app: FastifyInstance;
  const seen = new Set<ErrorCode>();

  /** Checks the error shape of `res` and its code; returns the body. */
  function expectError(res: LightMyRequestResponse, code: ErrorCode): Record<string, unknown> {
    const body = res.json() as Record<string, unknown>;
    const status = ERROR_CODES[code][0];
    expect({ status: res.statusCode, code: body.code }).toEqual({ status, code });
    expect(body).toMatchObject({ statusCode: status, error: expect.any(String), message: expect.any(String) });
    seen.add(code);
    return body;
  }

  beforeAll(async () => {
    pg = await createPostgres();
    db = pg.db;
    app = await makeApp(db, { bodyLimit: 4096, cachedTables: TABLE_NAMES.filter((t) => t !== 'presences') });
  });
  afterAll(async () => {
    await app.close();
    await pg.close();
  });

  it('INVALID_EVENT: the position of the refused event and the path of its field', async () => {
    const many = await app.inject({ method: 'POST', url: '/v1/dispatch', payload: [ev('USER_UPDATE', user(U1)), ev('USER_UPDATE', user('x'))] });
    expect(expectError(many, 'INVALID_EVENT')).toMatchObject({ index: 1, path: 'body[1].d.id' });
    const forward = await app.inject({
      method: 'POST',
      url: '/v1/dispatch',
      payload: [ev('USER_UPDATE', user(U1)), ev('USER_UPDATE', user(U1)), { payload: ev('GUILD_MEMBER_ADD', { guild_id: G, user: user(U1), roles: 'admin' }), shardId: 0 }],
    });
    expect(expectError(forward, 'INVALID_EVENT')).toMatchObject({ index: 2, path: 'body[2].payload.d.roles' });
    const single = await app.inject({ method: 'POST', url: '/v1/dispatch', payload: ev('GUILD_DELETE', { id: 5 }) });
    expect(expectError(single, 'INVALID_EVENT')).toMatchObject({ index: 0, path: 'body.d.id' });
    expect(await db.query('SELECT 1 FROM users')).toEqual([]); // nothing of a refused request is applied
  });

  it('INVALID_BODY: a PUT body that is not an object, or with a bad field (`path` names it)', async () => {
    const field = await app.inject({ method: 'PUT', url: `/v1/users/${U1}`, payload: { username: 5 } });
    expect(expectError(field, 'INVALID_BODY')).toMatchObject({ path: 'body.username' });
    const nested = await app.inject({ method: 'PUT', url: `/v1/guilds/${G}/members/${U1}`, payload: { user: { id: U1, username: 'u', bot: 'no' } } });
    expect(expectError(nested, 'INVALID_BODY')).toMatchObject({ path: 'body.user.bot' });
    const notObject = await app.inject({ method: 'PUT', url: `/v1/users/${U1}`, payload: [1, 2] });
    expectError(notObject, 'INVALID_BODY');
  });

  it('INVALID_JSON: a body that is not JSON', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/dispatch', headers: { 'content-type': 'application/json' }, payload: '{"op": 0,' });
    expectError(res, 'INVALID_JSON');
  });

  it('INVALID_PARAM: a path parameter, a query parameter', async () => {
    expectError(await app.inject({ method: 'GET', url: '/v1/users/12ab' }), 'INVALID_PARAM');
    expect(expectError(await app.inject({ method: 'GET', url: '/v1/guilds?limit=0' }), 'INVALID_PARAM').message).toContain('limit');
  });

  it('REFUSED_BY_DATABASE: data the database refuses (here a CHECK constraint of the operator\'s), nothing applied', async () => {
    await db.query(`ALTER TABLE users ADD CONSTRAINT no_reserved_names CHECK (username <> 'reserved')`);
    try {
      const res = await app.inject({ method: 'POST', url: '/v1/dispatch', payload: [ev('USER_UPDATE', user('42')), ev('USER_UPDATE', user(U1, { username: 'reserved' }))] });
      expect(expectError(res, 'REFUSED_BY_DATABASE').message).toContain('no_reserved_names');
      expect(await db.query('SELECT 1 FROM users')).toEqual([]);
    } finally {
      await db.query('ALTER TABLE users DROP CONSTRAINT no_reserved_names');
    }
  });

  it('UNAUTHORIZED: no token, or a wrong one, when CACHE_TOKEN is set', async () => {
    const locked = await makeApp(db, { cacheToken: 'secret' });
    try {
      expectError(await locked.inject({ method: 'GET', url: '/v1/stats' }), 'UNAUTHORIZED');
      expectError(await locked.inject({ method: 'GET', url: '/v1/stats', headers: { authorization: 'Bearer wrong' } }), 'UNAUTHORIZED');
      expect((await locked.inject({ method: 'GET', url: '/v1/stats', headers: { authorization: 'Bearer secret' } })).statusCode).toBe(200);
    } finally {
      await locked.close();
    }
  });

  it('NOT_CACHED: an object that is not cached (GET, and the permissions of an unknown member)', async () => {
    expect(expectError(await app.inject({ method: 'GET', url: `/v1/users/${U1}` }), 'NOT_CACHED').message).toBe(`user ${U1} is not cached`);
    expectError(await app.inject({ method: 'GET', url: `/v1/guilds/${G}/members/${U1}/permissions` }), 'NOT_CACHED');
  });

  it('TABLE_NOT_CACHED: a table left out of CACHE_TABLES', async () => {
    const body = expectError(await app.inject({ method: 'GET', url: `/v1/guilds/${G}/presences` }), 'TABLE_NOT_CACHED');
    expect(body.message).toBe('presences is not cached here: CACHE_TABLES leaves it out');
  });

  it('ROUTE_NOT_FOUND: no such route (or method)', async () => {
    expectError(await app.inject({ method: 'GET', url: '/v1/nothing-here' }), 'ROUTE_NOT_FOUND');
    expectError(await app.inject({ method: 'POST', url: `/v1/users/${U1}` }), 'ROUTE_NOT_FOUND');
  });

  it('BODY_TOO_LARGE: over BODY_LIMIT, also once decoded', async () => {
    const big = JSON.stringify(ev('USER_UPDATE', user(U1, { bio: 'x'.repeat(5000) })));
    expectError(await app.inject({ method: 'POST', url: '/v1/dispatch', headers: { 'content-type': 'application/json' }, payload: big }), 'BODY_TOO_LARGE');
    const zipped = gzipSync(big);
    expect(zipped.length).toBeLessThan(4096);
    const res = await app.inject({ method: 'POST', url: '/v1/dispatch', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: zipped });
    expectError(res, 'BODY_TOO_LARGE');
  });

  it('UNSUPPORTED_MEDIA_TYPE: not application/json, or an unknown content-encoding', async () => {
    expectError(await app.inject({ method: 'POST', url: '/v1/dispatch', headers: { 'content-type': 'text/plain' }, payload: '{}' }), 'UNSUPPORTED_MEDIA_TYPE');
    const res = await app.inject({ method: 'POST', url: '/v1/dispatch', headers: { 'content-type': 'application/json', 'content-encoding': 'zstd' }, payload: '{}' });
    expectError(res, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('INTERNAL: a bug (here the schema changed under the service): a generic message, never the details', async () => {
    await db.query('ALTER TABLE unavailable_guilds RENAME COLUMN updated_at TO changed_at');
    try {
      const body = expectError(await app.inject({ method: 'GET', url: `/v1/unavailable-guilds/${G}` }), 'INTERNAL');
      expect(body.message).toBe('internal error');
    } finally {
      await db.query('ALTER TABLE unavailable_guilds RENAME COLUMN changed_at TO updated_at');
    }
  });

  describe('UNAVAILABLE', () => {
    let test: TestDatabase;
    let down: Database;
    let outage: FastifyInstance;
    const proxy = new OutageProxy();
    beforeAll(async () => {
      test = await createEmptyDatabase();
      await proxy.start();
      const url = new URL(test.url);
      url.host = `127.0.0.1:${proxy.port}`;
      down = await openPostgres({ url: url.toString(), migrate: true });
      outage = await makeApp(down);
    });
    afterAll(async () => {
      await outage.close();
      await down.close();
      await proxy.cut();
      await test.drop();
    });

    it('the database is unreachable: reads and writes answer 503 with Retry-After', async () => {
      await proxy.cut();
      const read = await outage.inject({ method: 'GET', url: `/v1/users/${U1}` });
      expectError(read, 'UNAVAILABLE');
      expect(read.headers['retry-after']).toMatch(/^\d+$/);
      const write = await outage.inject({ method: 'POST', url: '/v1/dispatch', payload: ev('USER_UPDATE', user(U1)) });
      expectError(write, 'UNAVAILABLE');
      expect(write.headers['retry-after']).toMatch(/^\d+$/);
    });
  });

  it('SHARD_NOT_HELD: a dispatch for a shard this instance does not hold (TOTAL_SHARDS set)', async () => {
    const sharded = await makeApp(db, { shardLeases: { url: pg.test.url, totalShards: 2, shards: [0], advertiseUrl: 'http://w0.test' } });
    try {
      // The guild's shard: (G >> 22) % 2; send it to the other one.
      const other = Number((BigInt(G) >> 22n) % 2n) === 0 ? '81384788769906688' : G;
      const res = await sharded.inject({ method: 'POST', url: '/v1/dispatch', payload: ev('GUILD_UPDATE', { id: other, name: 'x' }) });
      expectError(res, 'SHARD_NOT_HELD');
    } finally {
      await sharded.close();
    }
  });

  it('every code of ERROR_CODES was answered by a request above', () => {
    expect([...seen].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it("the OpenAPI document's Error schema lists every code with its status", async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as {
      components: { schemas: Record<string, { properties: Record<string, { enum?: string[]; description?: string }>; required: string[] }> };
    };
    const error = doc.components.schemas.Error!;
    expect(error.properties.code!.enum).toEqual(Object.keys(ERROR_CODES));
    for (const [code, [status]] of Object.entries(ERROR_CODES)) expect(error.properties.code!.description).toContain(`\`${code}\` (${status})`);
    expect(Object.keys(error.properties)).toEqual(expect.arrayContaining(['statusCode', 'error', 'code', 'message', 'index', 'path']));
    expect(error.required).toEqual(['statusCode', 'error', 'code', 'message']);
  });
});
