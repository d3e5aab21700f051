/** Small `app.inject()` wrappers for the resource-route tests. */
import type { FastifyInstance } from '../../src/http/app.js';

export interface Answer<T = any> {
  status: number;
  body: T;
}

/** Sends a request (a JSON body when `payload` is given) and returns status and parsed JSON (or undefined). */
export async function call<T = any>(
  app: FastifyInstance,
  method: 'GET' | 'PUT' | 'DELETE' | 'POST',
  url: string,
  payload?: unknown,
): Promise<Answer<T>> {
  const res = await app.inject({ method, url, ...(payload !== undefined ? { payload: payload as object } : {}) });
  return { status: res.statusCode, body: (res.body === '' ? undefined : res.json()) as T };
}

export const get = <T = any>(app: FastifyInstance, url: string) => call<T>(app, 'GET', url);
export const put = <T = any>(app: FastifyInstance, url: string, body?: unknown) => call<T>(app, 'PUT', url, body);
export const del = (app: FastifyInstance, url: string) => call(app, 'DELETE', url);
