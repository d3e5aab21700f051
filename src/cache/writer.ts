/**
 * The single writer: every change (dispatches and PUT/DELETE) goes through it, in arrival order.
 *
 * Group commit: requests that arrive while a transaction runs wait in a bounded queue and are applied
 * together in the next transaction; each request is answered when the transaction holding it commits.
 * If a combined transaction fails, its requests are retried one by one, so a request the database refuses
 * fails alone and nothing of it is applied. A full queue or an unreachable database answers
 * `UnavailableError` (503): nothing accepted is ever dropped silently.
 */
import type { Database } from '../db/connect.js';
import { Batch } from './batch.js';
import { PRUNE_MESSAGES } from './statements.js';
import type { Change, Row } from './changes.js';
import { specs } from '../discord/columns.js';
import { RejectedDataError, UnavailableError, isDataError, isUnavailable } from './errors.js';

export interface WriterOptions {
  /** Events (or resource writes) that may wait before new requests get 503. */
  queueLimit: number;
  /** Messages kept per channel (0 = unlimited). */
  messageLimit: number;
  /** Changes merged into one transaction at most (a larger single request still runs alone). */
  maxBatchChanges?: number;
  /**
   * Transactions in flight at once (default: 2 on PostgreSQL, 1 on PGlite). A transaction starts beside
   * others only when all of its changes are by-key writes (no reads, cascades or set operations) and it
   * touches none of their rows; anything else waits for the others to finish.
   */
  concurrency?: number;
}

export interface CommitInfo {
  requests: number;
  events: number;
  changes: number;
  statements: number;
  rows: number;
  seconds: number;
}

export interface WriterHooks {
  onCommit?(info: CommitInfo): void;
}

interface Flight {
  /** The rows it writes (`table:key`), or undefined for a transaction that must run alone. */
  keys: Set<string> | undefined;
  done: Promise<void>;
}

/** Rows the jobs write, when every change is a by-key write; undefined otherwise. */
function blindKeys(jobs: Job[]): Set<string> | undefined {
  const keys = new Set<string>();
  for (const job of jobs) {
    for (const c of job.changes) {
      let row: Row;
      if (c.kind === 'upsert' || c.kind === 'update') row = c.row;
      else if (c.kind === 'delete') row = c.key;
      else if (c.kind === 'self') continue;
      else return undefined;
      const pk = specs[c.table].primaryKey;
      keys.add(pk.length === 1 ? `${c.table}:${String(row[pk[0]!])}` : `${c.table}:${pk.map((k) => String(row[k])).join(':')}`);
    }
  }
  return keys;
}

interface Job {
  changes: Change[];
  weight: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class Writer {
  private readonly queue: Job[] = [];
  private queuedWeight = 0;
  private running: Promise<void> | undefined;
  private closed = false;
  private botUserId: string | undefined;
  /** Messages inserted per channel since its last pruning. */
  private readonly sinceLastPrune = new Map<string, number>();
  /** Channels whose oldest messages are due for pruning. */
  private readonly duePrune = new Set<string>();
  private readonly flights = new Set<Flight>();
  private wake: (() => void) | undefined;

  constructor(
    private readonly db: Database,
    private readonly options: WriterOptions,
    private readonly hooks: WriterHooks = {},
  ) {}

  /** Events waiting for a transaction. */
  get depth(): number {
    return this.queuedWeight;
  }

  /**
   * Queues the changes of one request (`weight` = its number of events) and resolves once they are
   * committed. Rejects with `UnavailableError` when the queue is full or the database unreachable, and with
   * `RejectedDataError` when the database refuses this request's data.
   */
  submit(changes: Change[], weight = 1): Promise<void> {
    if (this.closed) return Promise.reject(new UnavailableError('the cache is shutting down', 5));
    if (this.queue.length > 0 && this.queuedWeight + weight > this.options.queueLimit) {
      return Promise.reject(new UnavailableError(`write queue full (${this.queuedWeight} events waiting)`, 1));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ changes, weight, resolve, reject });
      this.queuedWeight += weight;
      this.wake?.();
      this.kick();
    });
  }

  /** Starts draining unless a drain runs; a job queued while a drain is finishing starts the next one. */
  private kick() {
    if (this.running) return;
    this.running = (async () => {
      try {
        await this.drain();
      } finally {
        this.running = undefined;
        if (this.queue.length > 0) this.kick();
      }
    })();
  }

  /** Stops accepting and resolves when everything accepted is committed (or failed). */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await this.running;
  }

  /**
   * Message retention: once a channel got `messageLimit / 10` (at least 1) new messages since its last
   * pruning, it is due, and the oldest beyond `messageLimit` go at the next quiet moment of the writer (or
   * once 64 channels are due). A channel therefore holds a little more than the limit between prunings.
   * Retention is housekeeping, not part of the requests' atomicity: a failed pruning is retried later.
   */
  private countMessages(inserted: Map<string, number>) {
    const limit = this.options.messageLimit;
    if (limit <= 0) return;
    const every = Math.max(1, Math.floor(limit / 10));
    for (const [channel, n] of inserted) {
      const total = (this.sinceLastPrune.get(channel) ?? 0) + n;
      if (total >= every) {
        this.duePrune.add(channel);
        this.sinceLastPrune.delete(channel);
      } else {
        this.sinceLastPrune.set(channel, total);
      }
    }
  }

  private async prune() {
    const due = [...this.duePrune];
    this.duePrune.clear();
    try {
      await this.db.query(PRUNE_MESSAGES, [due, this.options.messageLimit]);
    } catch {
      const every = Math.max(1, Math.floor(this.options.messageLimit / 10));
      for (const channel of due) this.sinceLastPrune.set(channel, every - 1);
    }
  }

  private take(): Job[] {
    const max = this.options.maxBatchChanges ?? 50_000;
    const jobs: Job[] = [];
    let size = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (jobs.length > 0 && size + next.changes.length > max) break;
      this.queue.shift();
      this.queuedWeight -= next.weight;
      jobs.push(next);
      size += next.changes.length;
    }
    return jobs;
  }

  private get concurrency(): number {
    return this.options.concurrency ?? (this.db.kind === 'postgres' ? 2 : 1);
  }

  /** Whether a transaction writing `keys` may start now, beside the ones in flight. */
  private mayStart(keys: Set<string> | undefined): boolean {
    if (this.flights.size === 0) return true;
    if (!keys || this.flights.size >= this.concurrency) return false;
    for (const f of this.flights) {
      if (!f.keys) return false;
      const [small, large] = f.keys.size < keys.size ? [f.keys, keys] : [keys, f.keys];
      for (const k of small) if (large.has(k)) return false;
    }
    return true;
  }

  /** Resolves when a transaction in flight settles or a job arrives. */
  private next(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      for (const f of this.flights) void f.done.then(resolve);
    }).finally(() => (this.wake = undefined));
  }

  private async drain() {
    for (;;) {
      // Pruning deletes across channels: it runs alone, between transactions.
      if (this.duePrune.size > 0 && (this.flights.size === 0 || this.duePrune.size >= 64)) {
        while (this.flights.size > 0) await this.next();
        await this.prune();
        continue;
      }
      if (this.queue.length === 0) {
        if (this.flights.size === 0) return;
        await this.next();
        continue;
      }
      const jobs = this.take();
      const keys = this.concurrency > 1 ? blindKeys(jobs) : undefined;
      // Arrival order is kept: later jobs wait behind these, which wait for the rows they share.
      while (!this.mayStart(keys)) await Promise.race([...this.flights].map((f) => f.done));
      const flight: Flight = { keys, done: Promise.resolve() };
      flight.done = this.settle(jobs).finally(() => this.flights.delete(flight));
      this.flights.add(flight);
      if (!keys) await flight.done;
    }
  }

  /** Commits the jobs and answers each; never throws. */
  private async settle(jobs: Job[]) {
    try {
      await this.commit(jobs);
      for (const j of jobs) j.resolve();
    } catch (err) {
      if (jobs.length === 1 || isUnavailable(err)) {
        for (const j of jobs) j.reject(this.classify(err));
        return;
      }
      // One request's data broke the combined transaction: isolate it.
      for (const j of jobs) {
        try {
          await this.commit([j]);
          j.resolve();
        } catch (e) {
          j.reject(this.classify(e));
        }
      }
    }
  }

  private classify(err: unknown): unknown {
    if (isUnavailable(err)) return new UnavailableError('the database is unreachable; retry later', 2, { cause: err });
    if (isDataError(err)) return new RejectedDataError(`the database refused the data: ${(err as Error).message}`);
    return err;
  }

  private async commit(jobs: Job[]) {
    const started = performance.now();
    let changes = 0;
    let events = 0;
    let botUserId = this.botUserId;
    let inserted: Map<string, number> | undefined;
    const stats = await this.db.work(async (work) => {
      const batch = new Batch(work, { botUserId });
      for (const job of jobs) {
        events += job.weight;
        changes += job.changes.length;
        for (const change of job.changes) await batch.apply(change);
      }
      await batch.finish();
      botUserId = batch.botUserId;
      inserted = batch.messagesByChannel;
      return batch.stats;
    });
    this.botUserId = botUserId;
    if (inserted) this.countMessages(inserted);
    this.hooks.onCommit?.({
      requests: jobs.length,
      events,
      changes,
      statements: stats.statements,
      rows: stats.rows,
      seconds: (performance.now() - started) / 1000,
    });
  }
}
