/** The real Fastify app over a real database, for `app.inject()`. */
import { buildApp, type AppOptions, type FastifyInstance } from '../../src/http/app.js';
import type { Database } from '../../src/db/connect.js';

export async function makeApp(db: Database, options: Partial<AppOptions> = {}): Promise<FastifyInstance> {
  return buildApp({ db, logLevel: false, ...options });
}

/** POST /v1/dispatch with a gateway payload, a forward or an array; returns status and JSON. */
export async function dispatch(app: FastifyInstance, body: unknown) {
  const res = await app.inject({ method: 'POST', url: '/v1/dispatch', payload: body as object });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

/** A gateway dispatch envelope. */
export const ev = (t: string, d: unknown, s = 1) => ({ op: 0, t, s, d });
