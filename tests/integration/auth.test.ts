/**
 * CACHE_TOKEN guards every /v1 route however its URL is spelled: the check hangs on the matched route (the
 * /v1 scope), not on the raw URL, which the router decodes (`/%761/stats` is routed to /v1/stats). Every
 * route of the OpenAPI document is tried with encoded and odd spellings, through `inject()` and over a real
 * socket (raw request line), without a token: never a 2xx, and nothing is written.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { makeApp } from '../helpers/app.js';
import { createPglite } from '../helpers/db.js';
import { snapshot } from '../helpers/snapshot.js';

const TOKEN = 'secret-token';
const ID = '81384788765712384';

let db: Database;
let app: FastifyInstance;
let base: string;
let routes: { method: string; path: string }[];

beforeAll(async () => {
  db = await createPglite();
  app = await makeApp(db, { cacheToken: TOKEN });
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, object> };
  routes = Object.entries(doc.paths)
    .filter(([p]) => p.startsWith('/v1/'))
    .flatMap(([p, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path: p.replace(/\{\w+\}/g, ID) })));
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

/** Spellings of one /v1 path that a router may decode, normalise or tolerate. */
function variants(path: string): string[] {
  const rest = path.slice('/v1'.length); // "/users/…"
  const encodedRest = rest.replace(/[a-z0-9]/g, (c, i) => (i % 3 === 0 ? `%${c.charCodeAt(0).toString(16)}` : c));
  return [
    path,
    `/%761${rest}`,
    `/v%31${rest}`,
    `/%76%31${rest}`,
    `/%56%31${rest}`,
    `/V1${rest}`,
    `//v1${rest}`,
    `/v1/${rest}`,
    `/v1${rest}/`,
    `/v1${encodedRest}`,
    `/./v1${rest}`,
    `/v1/.${rest}`,
    `/x/../v1${rest}`,
    `/v1${rest}?a=1`,
    `/v1${rest}#x`,
    `/v1%2F${rest.slice(1)}`,
    `/%2Fv1${rest}`,
    `/v1;a=b${rest}`,
    `/v1${rest};a=b`,
  ];
}

const bodyFor = (method: string, path: string) => {
  if (method === 'POST') return JSON.stringify({ op: 0, t: 'USER_UPDATE', s: 1, d: { id: ID, username: 'evil' } });
  if (method === 'PUT' && !path.includes('unavailable-guilds')) return JSON.stringify({ name: 'evil', username: 'evil' });
  return undefined;
};

function raw(method: string, path: string, body: string | undefined, token?: string): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path, // sent as is on the request line
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('the token guards every /v1 route, whatever the spelling', () => {
  test('the document lists the /v1 routes', () => {
    expect(routes.length).toBeGreaterThan(30);
  });

  test('inject(): no spelling of any route answers 2xx without the token, and nothing is written', async () => {
    const before = await snapshot(db);
    const leaks: string[] = [];
    for (const { method, path } of routes) {
      for (const url of variants(path)) {
        const body = bodyFor(method, path);
        const res = await app.inject({
          method: method as 'GET',
          url,
          ...(body !== undefined ? { payload: body, headers: { 'content-type': 'application/json' } } : {}),
        });
        if (res.statusCode < 300 || ![401, 404, 400].includes(res.statusCode)) leaks.push(`${method} ${url} → ${res.statusCode}`);
      }
    }
    expect(leaks).toEqual([]);
    expect(await snapshot(db)).toEqual(before);
  });

  test('a real socket: no spelling answers 2xx without the token (or with a wrong one)', async () => {
    const before = await snapshot(db);
    const leaks: string[] = [];
    for (const { method, path } of routes) {
      for (const url of variants(path).filter((u) => !u.includes('#'))) {
        const status = await raw(method, url, bodyFor(method, path), url.length % 2 === 0 ? 'wrong' : undefined);
        if (status < 300 || ![401, 404, 400].includes(status)) leaks.push(`${method} ${url} → ${status}`);
      }
    }
    expect(leaks).toEqual([]);
    expect(await snapshot(db)).toEqual(before);
  });

  test('the decoded spellings reach the route: with the token they are served', async () => {
    expect(await raw('GET', '/%761/stats', undefined, TOKEN)).toBe(200);
    expect(await raw('GET', '/v%31/stats', undefined, TOKEN)).toBe(200);
    expect(await raw('GET', '/%761/stats', undefined)).toBe(401);
    expect(await raw('PUT', `/v%31/users/${ID}`, JSON.stringify({ username: 'ok' }), TOKEN)).toBe(200);
    expect((await snapshot(db)).users).toHaveLength(1);
  });

  test('operations routes stay open', async () => {
    expect(await raw('GET', '/health', undefined)).toBe(200);
    expect(await raw('GET', '/docs/json', undefined)).toBe(200);
  });
});
