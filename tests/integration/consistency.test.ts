/** `?consistency=` and `x-consistency` without a replica: validated on every GET, and harmless. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from '../../src/http/app.js';
import { makeApp } from '../helpers/app.js';
import { createPostgres } from '../helpers/db.js';
import { get, put } from '../helpers/http.js';

let pg: Awaited<ReturnType<typeof createPostgres>>;
let app: FastifyInstance;

beforeAll(async () => {
  pg = await createPostgres();
  app = await makeApp(pg.db);
});
afterAll(async () => {
  await app?.close();
  await pg?.close();
});

describe('consistency', () => {
  it('consistency=primary reads the only database there is', async () => {
    await put(app, '/v1/users/42', { username: 'nelly', discriminator: '0' });
    expect(await get(app, '/v1/users/42?consistency=primary')).toMatchObject({ status: 200, body: { username: 'nelly' } });
    const res = await app.inject({ method: 'GET', url: '/v1/guilds?consistency=primary&limit=5', headers: { 'x-consistency': 'primary' } });
    expect(res.statusCode).toBe(200);
  });

  it('another value is a 400 naming the parameter', async () => {
    const bad = await get(app, '/v1/guilds/1/channels?consistency=strong');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^querystring\.consistency must be equal to one of the allowed values/);
    const header = await app.inject({ method: 'GET', url: '/v1/users/42', headers: { 'x-consistency': 'replica' } });
    expect(header.statusCode).toBe(400);
    expect(header.json().message).toMatch(/^headers\.x-consistency must be equal to one of the allowed values/);
  });
});
