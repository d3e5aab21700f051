/** The client's HTTP layer: one request over `fetch`, answers decoded, backoff with jitter. No dependencies. */
import { CacheError, isRetryableStatus } from './errors.js';

export interface RetryPolicy {
  /** First backoff step (ms); doubles on every attempt. */
  baseDelayMs: number;
  /** Largest backoff step (ms). */
  maxDelayMs: number;
  /** A `Retry-After` longer than this (ms) is cut to it. */
  maxRetryAfterMs: number;
}

export interface RetryInfo {
  /** `dispatch` (a batch of events) or `request` (one resource call). */
  kind: 'dispatch' | 'request';
  method: string;
  path: string;
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  error: CacheError;
  /** Events in the batch (dispatch only). */
  events?: number;
}

export interface TransportOptions {
  url: string;
  token?: string | undefined;
  headers?: Record<string, string> | undefined;
  fetch: typeof fetch;
  timeoutMs: number;
  retry: RetryPolicy;
  onRetry?: ((info: RetryInfo) => void) | undefined;
}

export interface Answer {
  status: number;
  body: unknown;
  /** From `Retry-After` (seconds or an HTTP date), in ms. */
  retryAfterMs: number | undefined;
  /** From `x-change-id`: the change feed id of the commit that applied a write. */
  changeId?: number | undefined;
}

export type Query = Record<string, string | number | bigint | undefined>;

/** `JSON.stringify` that writes bigints (Discordeno ids, permissions) as decimal strings, Discord's shape. */
export function toJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof TypeError) || !/BigInt/i.test(err.message)) throw err;
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  }
}

export function parseRetryAfter(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Exponential backoff with jitter: step = min(maxDelay, base * 2^(attempt-1)), waiting between half the step
 * and the whole step. A `Retry-After` is honoured (at least that long, plus up to 10 % jitter, capped).
 */
export function backoffDelay(attempt: number, retryAfterMs: number | undefined, policy: RetryPolicy): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const jittered = step / 2 + (Math.random() * step) / 2;
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(policy.maxRetryAfterMs, retryAfterMs * (1 + Math.random() * 0.1)));
}

/** Resolves after `ms`, or rejects when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The error an answer stands for (the server's `message` and `error` when it sent Fastify's error shape). */
export function answerError(answer: Answer, method: string, path: string): CacheError {
  const body = answer.body as { message?: unknown; error?: unknown; code?: unknown; index?: unknown; path?: unknown } | string | undefined;
  let message = `${method} ${path} answered ${answer.status}`;
  let reason: string | undefined;
  const details: { code?: string; index?: number; field?: string } = {};
  if (body && typeof body === 'object') {
    if (typeof body.message === 'string') message = body.message;
    if (typeof body.error === 'string') reason = body.error;
    if (typeof body.code === 'string') details.code = body.code;
    if (typeof body.index === 'number') details.index = body.index;
    if (typeof body.path === 'string') details.field = body.path;
  } else if (typeof body === 'string' && body !== '') {
    message = body.slice(0, 500);
  }
  return new CacheError(message, answer.status, method, path, reason, details);
}

export class Transport {
  private readonly base: string;
  /** Sent with every request (the token, the caller's extra headers). */
  readonly headers: Record<string, string>;

  constructor(
    readonly options: TransportOptions,
    /** Aborted by `destroy()`: stops requests in flight and retry waits (shared by the transports of one client). */
    readonly lifetime = new AbortController(),
  ) {
    this.base = options.url.replace(/\/+$/, '');
    this.headers = { accept: 'application/json', ...options.headers };
    if (options.token) this.headers.authorization = `Bearer ${options.token}`;
  }

  /**
   * One HTTP exchange. Resolves with any HTTP answer (also 4xx/5xx); rejects with a `CacheError` of status 0
   * when no answer came back (refused, reset, timeout, client destroyed).
   */
  /** The URL of `path` (below the base URL) with `query`. */
  url(path: string, query?: Query): string {
    let url = this.base + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
      const qs = params.toString();
      if (qs) url += `?${qs}`;
    }
    return url;
  }

  async send(method: string, path: string, body?: string, query?: Query): Promise<Answer> {
    const url = this.url(path, query);
    const headers = body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' };
    const signal = AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(this.options.timeoutMs)]);
    let res: Response;
    let text: string;
    try {
      res = await this.options.fetch(url, { method, headers, body, signal });
      text = await res.text();
    } catch (err) {
      throw new CacheError(describeNetworkError(err, method, path, this.lifetime.signal.aborted), 0, method, path, undefined, {
        cause: err,
      });
    }
    let parsed: unknown = text;
    if (text !== '' && (res.headers.get('content-type') ?? '').includes('json')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    } else if (text === '') {
      parsed = undefined;
    }
    const changeId = Number(res.headers.get('x-change-id') ?? Number.NaN);
    return {
      status: res.status,
      body: parsed,
      retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
      ...(Number.isSafeInteger(changeId) && changeId > 0 ? { changeId } : {}),
    };
  }

  /**
   * A resource call: retried on no answer and 408/429/502/503/504 up to `attempts` times in all; returns the
   * last answer (which may be an error status: the caller decides what a 404 means).
   */
  async request(method: string, path: string, attempts: number, body?: string, query?: Query): Promise<Answer> {
    for (let attempt = 1; ; attempt++) {
      let answer: Answer | undefined;
      let error: CacheError;
      try {
        answer = await this.send(method, path, body, query);
        if (!isRetryableStatus(answer.status)) return answer;
        error = answerError(answer, method, path);
      } catch (err) {
        if (!(err instanceof CacheError) || this.lifetime.signal.aborted) throw err;
        error = err;
      }
      if (attempt >= attempts) {
        if (answer) return answer;
        throw error;
      }
      const delayMs = backoffDelay(attempt, answer?.retryAfterMs, this.options.retry);
      this.options.onRetry?.({ kind: 'request', method, path, attempt, delayMs, error });
      await sleep(delayMs, this.lifetime.signal);
    }
  }
}

function describeNetworkError(err: unknown, method: string, path: string, destroyed: boolean): string {
  if (destroyed) return `${method} ${path}: the client was destroyed`;
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `${method} ${path}: no answer within the timeout`;
  const detail = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
  return `${method} ${path}: the cache could not be reached (${detail})`;
}
