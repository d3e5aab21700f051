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

/**
 * The request writes shards this instance holds no lease on (421, see db/leases.ts): nothing of it was
 * applied. `holders` names who holds each one, when the route looked it up.
 */
export class ShardNotHeldError extends Error {
  override name = 'ShardNotHeldError';
  constructor(
    readonly shards: readonly number[],
    readonly holders: readonly { shard: number; instance_id: string | null; url: string | null }[] = [],
  ) {
    super(describeNotHeld(shards, holders));
  }
}

function describeNotHeld(shards: readonly number[], holders: readonly { shard: number; instance_id: string | null; url: string | null }[]): string {
  const whose = (shard: number) => {
    const h = holders.find((x) => x.shard === shard);
    if (!h) return `shard ${shard}`;
    if (!h.instance_id) return `shard ${shard} (held by no instance now: a standby takes it over)`;
    return `shard ${shard} (held by ${h.url ?? `instance ${h.instance_id}, which advertises no URL`})`;
  };
  return `this instance holds no lease on ${shards.map(whose).join(', ')}: send its events to the instance holding it (GET /v1/shards)`;
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
  '57014', // query_canceled (statement_timeout, or cancelled by an operator)
  '55P03', // lock_not_available (lock_timeout)
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

/**
 * SQLSTATE classes that mean "try again later": 08 connection exception, 53 insufficient resources (disk
 * full, out of memory, too many connections), 58 system error (I/O).
 */
const RETRY_CLASSES = ['08', '53', '58'];

/** Whether an error means "the database cannot do it right now" (503, retry) rather than "this data is bad". */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  // 08P01 (protocol violation) is a bug of ours, not a passing condition: retrying would never end.
  if (typeof code === 'string' && code !== '08P01' && (CONNECTION_CODES.has(code) || RETRY_CLASSES.includes(code.slice(0, 2)))) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|database closed|PGlite is closed/i.test(
    err.message,
  );
}

/**
 * A deadlock or a serialization failure: another transaction (another instance writing the shared `users`
 * rows) got in the way. Nothing was applied; running the transaction again is the cure.
 */
export function isConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity constraint): the request's data is at fault. */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}
