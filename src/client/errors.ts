/** The one error type of the client. */

/**
 * A request the cache answered with an error, or could not be reached.
 *
 * - `statusCode`: the HTTP status (400, 401, 404, 413, 503, …), or `0` when no HTTP answer came back
 *   (connection refused or reset, timeout, the client was closed); the original error is then in `cause`.
 * - `message`: the server's own message (`body[3].d.user.id must be a snowflake …`, `guild 1 is not cached`),
 *   or a description of the network failure.
 * - `error`: the server's reason phrase (`Bad Request`, …) when it sent one.
 * - `code`: the server's stable error code (`NOT_CACHED`, `INVALID_EVENT`, `UNAVAILABLE`, …; the README lists
 *   them): act on it, not on the message. Undefined without an answer.
 * - `index`, `field`: for `INVALID_EVENT`, the position of the refused event in the request and the path of
 *   the offending field (`body[3].d.user.id`).
 */
export class CacheError extends Error {
  override readonly name = 'CacheError';
  readonly code: string | undefined;
  readonly index: number | undefined;
  readonly field: string | undefined;

  constructor(
    message: string,
    readonly statusCode: number,
    readonly method: string,
    readonly path: string,
    readonly error?: string,
    options?: { cause?: unknown; code?: string | undefined; index?: number | undefined; field?: string | undefined },
  ) {
    super(message, options);
    this.code = options?.code;
    this.index = options?.index;
    this.field = options?.field;
  }

  /** Worth retrying as is: no answer, or 408/429/502/503/504. */
  get retryable(): boolean {
    return isRetryableStatus(this.statusCode);
  }
}

/** 0 (no answer), 408, 429, 502, 503, 504. */
export function isRetryableStatus(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status === 502 || status === 503 || status === 504;
}
