/** Errors the writer reports to its callers, mapped to HTTP answers by the app. */

/** The database cannot be reached, or the write queue is full: retry later (503 + Retry-After). */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
  constructor(
    message: string,
    public readonly retryAfterSeconds = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The database refused the data of one request (400): nothing of that request was applied. */
export class RejectedDataError extends Error {
  override name = 'RejectedDataError';
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

/** Whether an error means "the database is not reachable right now" rather than "this data is bad". */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|database closed|PGlite is closed/i.test(
    err.message,
  );
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity constraint): the request's data is at fault. */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}
