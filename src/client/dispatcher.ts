/**
 * Batched, ordered, retried delivery of gateway dispatches to `POST /v1/dispatch`.
 *
 * - Every `dispatch()` is serialised at once (later changes to the packet do not matter) and numbered.
 * - Events go out in call order, as JSON arrays of at most `batchSize` events (and about `maxBatchBytes`),
 *   when `batchSize` are buffered or `batchDelayMs` after the first one, with at most one request in flight:
 *   the service applies the events of an array in order and requests in arrival order, so the cache sees
 *   the events in call order.
 * - No answer (refused, reset, timeout) and 408/429/502/503/504 are retried forever with exponential backoff
 *   and jitter, honouring `Retry-After`: an event is never dropped because the service restarts.
 * - A 400 (the request is atomic: nothing of it was applied) isolates the offending event: the events before
 *   it and after it are sent again without it, and only its `dispatch()` rejects (with the server's message).
 *   A 413 splits the batch; a single event over the server's body limit rejects. Any other answer (401, …)
 *   rejects the batch's callers.
 * - At most `maxQueued` events are buffered or in flight; beyond that `dispatch()` calls wait, in order, for
 *   room (they hold only their serialised packet).
 * - Events settle in call order, so `flush()` only has to wait for the number of the last event dispatched.
 *
 * Delivery is at least once: when the service commits a batch but the answer is lost (it was killed right
 * after the commit, or the answer timed out), the batch is sent again. Every cached state is a merge by key,
 * so that changes nothing, except counters that events increment (reaction counts, a thread's
 * `message_count`), which may then count the replayed events twice.
 */
import { CacheError } from './errors.js';
import { answerError, backoffDelay, sleep, toJson, type Answer, type Transport } from './http.js';

export const DISPATCH_PATH = '/v1/dispatch';

export interface DispatcherOptions {
  batchSize: number;
  batchDelayMs: number;
  maxQueued: number;
  maxBatchBytes: number;
  /** Told the change feed id of each committed batch (`x-change-id`), before its events resolve. */
  onCommitted?: ((changeId: number | undefined) => void) | undefined;
}

export interface DispatchStats {
  /** `dispatch()` calls waiting for room in the buffer. */
  waiting: number;
  /** Events buffered, not yet sent. */
  buffered: number;
  /** Events in the request in flight (including its retries). */
  inFlight: number;
  /** POST /v1/dispatch requests sent (retries included). */
  requests: number;
  /** Retries after no answer or a retryable status. */
  retries: number;
  /** Events committed. */
  committed: number;
  /** Events rejected (their `dispatch()` rejected). */
  rejected: number;
}

interface Entry {
  seq: number;
  json: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class Dispatcher {
  private readonly waiting: Entry[] = [];
  private readonly buffer: Entry[] = [];
  private inFlight = 0;
  private sending = false;
  private timer: NodeJS.Timeout | undefined;
  /** Set when the batch timer fired: send what is buffered. */
  private due = false;
  /** `flush()` asked for every event up to this number to be sent without waiting for the timer. */
  private urgentUpTo = 0;
  private nextSeq = 1;
  /** Every event numbered up to this one is settled (committed or rejected). */
  private settledSeq = 0;
  private readonly flushWaiters: { seq: number; resolve: () => void }[] = [];
  private closed = false;
  private readonly counters = { requests: 0, retries: 0, committed: 0, rejected: 0 };

  constructor(
    private readonly transport: Transport,
    private readonly options: DispatcherOptions,
  ) {
    if (!(options.batchSize >= 1)) throw new RangeError('dispatch batchSize must be at least 1');
    if (!(options.maxQueued >= options.batchSize)) throw new RangeError('dispatch maxQueued must be at least batchSize');
  }

  get stats(): DispatchStats {
    return { waiting: this.waiting.length, buffered: this.buffer.length, inFlight: this.inFlight, ...this.counters };
  }

  dispatch(packet: unknown): Promise<void> {
    if (this.closed) return Promise.reject(new CacheError('the client is closed', 0, 'POST', DISPATCH_PATH));
    let json: string;
    try {
      json = packetJson(packet);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      const entry: Entry = { seq: this.nextSeq++, json, resolve, reject };
      if (this.waiting.length === 0 && this.admitted < this.options.maxQueued) this.buffer.push(entry);
      else this.waiting.push(entry);
      this.kick();
    });
  }

  /** Resolves when every event dispatched before the call is settled (committed, or rejected to its caller). */
  flush(): Promise<void> {
    const target = this.nextSeq - 1;
    if (this.settledSeq >= target) return Promise.resolve();
    this.urgentUpTo = Math.max(this.urgentUpTo, target);
    const done = new Promise<void>((resolve) => this.flushWaiters.push({ seq: target, resolve }));
    this.kick();
    return done;
  }

  /** Refuses new events; `flush()` still delivers the rest. */
  stopAccepting() {
    this.closed = true;
  }

  /** Rejects everything not yet committed with `reason` and stops the timer (requests in flight are aborted by the transport). */
  abandon(reason: CacheError) {
    this.closed = true;
    this.clearTimer();
    const rest = [...this.buffer.splice(0), ...this.waiting.splice(0)];
    this.settle(rest, reason, false);
  }

  private get admitted(): number {
    return this.buffer.length + this.inFlight;
  }

  private clearTimer() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private admitWaiting() {
    while (this.waiting.length > 0 && this.admitted < this.options.maxQueued) this.buffer.push(this.waiting.shift()!);
  }

  /** Starts sending when a batch is full, the timer fired or a flush waits; otherwise arms the timer. */
  private kick() {
    if (this.sending || this.buffer.length === 0) return;
    const head = this.buffer[0]!.seq;
    if (this.due || this.buffer.length >= this.options.batchSize || this.urgentUpTo >= head) {
      this.clearTimer();
      void this.run();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.due = true;
      this.kick();
    }, this.options.batchDelayMs);
  }

  private async run() {
    this.sending = true;
    try {
      // Events that arrived while a batch was in flight have waited long enough: send them right away.
      while (this.buffer.length > 0) {
        this.due = false;
        const batch = this.take();
        this.inFlight += batch.length;
        await this.deliver(batch);
        this.admitWaiting();
      }
    } finally {
      this.sending = false;
      this.due = false;
    }
  }

  private take(): Entry[] {
    const batch: Entry[] = [];
    let bytes = 2;
    while (this.buffer.length > 0 && batch.length < this.options.batchSize) {
      const next = this.buffer[0]!;
      if (batch.length > 0 && bytes + next.json.length + 1 > this.options.maxBatchBytes) break;
      batch.push(this.buffer.shift()!);
      bytes += next.json.length + 1;
    }
    return batch;
  }

  /** Sends `entries` (in order) until each is committed or rejected; never throws. */
  private async deliver(entries: Entry[]): Promise<void> {
    const body = `[${entries.map((e) => e.json).join(',')}]`;
    for (let attempt = 1; ; attempt++) {
      if (this.transport.lifetime.signal.aborted) return this.settle(entries, destroyedError());
      let answer: Answer | undefined;
      let error: CacheError;
      try {
        this.counters.requests++;
        answer = await this.transport.send('POST', DISPATCH_PATH, body);
        if (answer.status >= 200 && answer.status < 300) {
          this.options.onCommitted?.(answer.changeId);
          return this.settle(entries);
        }
        error = answerError(answer, 'POST', DISPATCH_PATH);
      } catch (err) {
        if (this.transport.lifetime.signal.aborted) return this.settle(entries, destroyedError(err));
        error = err instanceof CacheError ? err : new CacheError(String(err), 0, 'POST', DISPATCH_PATH, undefined, { cause: err });
      }

      if (error.retryable) {
        const delayMs = backoffDelay(attempt, answer?.retryAfterMs, this.transport.options.retry);
        this.counters.retries++;
        this.transport.options.onRetry?.({
          kind: 'dispatch',
          method: 'POST',
          path: DISPATCH_PATH,
          attempt,
          delayMs,
          error,
          events: entries.length,
        });
        try {
          await sleep(delayMs, this.transport.lifetime.signal);
        } catch (err) {
          return this.settle(entries, destroyedError(err));
        }
        continue;
      }

      const status = error.statusCode;
      if (entries.length > 1 && status === 400) {
        // Atomic: nothing was applied. INVALID_EVENT names the event (`index`): reject it alone.
        const i = error.code === 'INVALID_EVENT' && error.index !== undefined ? error.index : -1;
        if (i >= 0 && i < entries.length) {
          const own = new CacheError(error.message.replace(/^body\[\d+\]/, 'body'), status, 'POST', DISPATCH_PATH, error.error, {
            code: error.code,
            index: 0,
            field: error.field?.replace(/^body\[\d+\]/, 'body'),
          });
          if (i > 0) await this.deliver(entries.slice(0, i));
          this.settle([entries[i]!], own);
          if (i + 1 < entries.length) await this.deliver(entries.slice(i + 1));
          return;
        }
      }
      if (entries.length > 1 && (status === 400 || status === 413 || status >= 500)) {
        // No index (or too large, or a server error): halve until the culprit stands alone.
        const half = Math.ceil(entries.length / 2);
        await this.deliver(entries.slice(0, half));
        await this.deliver(entries.slice(half));
        return;
      }
      return this.settle(entries, error);
    }
  }

  /** Settles entries in order (all dispatched in order, so `settledSeq` only grows) and wakes flushes. */
  private settle(entries: Entry[], error?: unknown, inFlight = true) {
    for (const e of entries) {
      if (error === undefined) {
        this.counters.committed++;
        e.resolve();
      } else {
        this.counters.rejected++;
        e.reject(error);
      }
      if (e.seq > this.settledSeq) this.settledSeq = e.seq;
    }
    if (inFlight) {
      this.inFlight -= entries.length;
      this.admitWaiting();
    }
    while (this.flushWaiters.length > 0) {
      const i = this.flushWaiters.findIndex((w) => w.seq <= this.settledSeq);
      if (i < 0) break;
      this.flushWaiters.splice(i, 1)[0]!.resolve();
    }
  }
}

/** The JSON of one packet given to `dispatch()` (throws a TypeError for anything but one object). */
export function packetJson(packet: unknown): string {
  if (typeof packet !== 'object' || packet === null || Array.isArray(packet)) {
    throw new TypeError('dispatch() takes one gateway payload or one { payload, shardId } object');
  }
  return toJson(packet);
}

function destroyedError(cause?: unknown): CacheError {
  return new CacheError('the client was destroyed before the event was committed', 0, 'POST', DISPATCH_PATH, undefined, { cause });
}
