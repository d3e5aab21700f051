/** A database outage answers 503 + Retry-After (never 500), and the service recovers by itself. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { ev, makeApp } from '../helpers/app.js';
import { createEmptyDatabase, type TestDatabase } from '../helpers/db.js';
import { OutageProxy } from '../helpers/proxy.js';

describe('database outage', () => {
  let test: TestDatabase;
  let db: Database;
  let app: FastifyInstance;
  const proxy = new OutageProxy();

  beforeAll(async () => {
    test = await createEmptyDatabase();
    await proxy.start();
    const url = new URL(test.url);
    url.host = `127.0.0.1:${proxy.port}`;
    db = await openPostgres({ url: url.toString(), migrate: true });
    app = await makeApp(db);
  });
  afterAll(async () => {
    await app.close();
    await db.close();
    await proxy.cut();
    await test.drop();
  });

  const user = { op: 0, t: 'USER_UPDATE', s: 1, d: { id: '42', username: 'before', discriminator: '0' } };

  it('answers 503 with Retry-After while the database is unreachable, then recovers', async () => {
    expect((await app.inject({ method: 'POST', url: '/v1/dispatch', payload: user })).statusCode).toBe(200);

    await proxy.cut();
    const write = await app.inject({ method: 'POST', url: '/v1/dispatch', payload: ev('USER_UPDATE', { id: '43', username: 'lost?' }) });
    expect(write.statusCode).toBe(503);
    expect(write.headers['retry-after']).toMatch(/^\d+$/);
    expect(write.json()).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    expect(app.cache.metrics.totals.unavailable).toBe(1);
    const read = await app.inject({ method: 'GET', url: '/v1/users/42' });
    expect(read.statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);

    await proxy.start(); // same port
    const retried = await app.inject({ method: 'POST', url: '/v1/dispatch', payload: ev('USER_UPDATE', { id: '43', username: 'kept' }) });
    expect(retried.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/users/43' })).json()).toMatchObject({ username: 'kept' });
    expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
  });
});
