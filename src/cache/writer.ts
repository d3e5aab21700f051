/**
 * The single writer: every change (dispatches and PUT/DELETE) goes through it, in arrival order.
 *
 * Group commit: requests that arrive while a transaction runs wait in a bounded queue and are applied
 * together in the next transaction; each request is answered when the transaction holding it commits.
 * If a combined transaction fails, it is split and retried (see `settle`), so a request the database refuses
 * fails alone and nothing of it is applied. A full queue or an unreachable database answers
 * `UnavailableError` (503): nothing accepted is ever dropped silently.
 *
 * With shard leases (TOTAL_SHARDS, db/leases.ts) the writer writes through the lease session, and a request
 * for a shard whose lease is not held when its transaction starts is refused (`ShardNotHeldError`, 421): the
 * route checked when it arrived, but the session (and every lease with it) may have been lost since. A
 * transaction that meets another instance's (a deadlock or serialization failure on the shared `users` rows)
 * is run again, a few times, before the requests get a 503.
 *
 * Change feed: what a transaction changed (the batch's `ChangeLog`) is published in it (`hooks.publisher`,
 * see feed-source.ts), and every request it holds resolves with its feed id. Messages pruned by retention
 * (housekeeping between transactions) are published with the next transaction, or alone when none follows.
 */
import type { Database } from '../db/connect.js';
import { Batch } from './batch.js';
import { PRUNE_MESSAGES } from './statements.js';
import { PRUNE_MAX_PER_CHANNEL, Retention } from './retention.js';
import type { Sequences, ShardState } from './sequence.js';
import type { TableName } from '../db/tables.js';
import { changeCount, type Change } from './changes.js';
import { RejectedDataError, ShardNotHeldError, UnavailableError, isConflict, isDataError, isUnavailable } from './errors.js';

import type { FeedChange } from './feed-protocol.js';
import { changeIdOf } from './feed-publish.js';
import type { Publisher } from './feed-source.js';

/**
 * Runs of a transaction that met a deadlock or serialization failure, in all, before its requests get a 503.
 * Each waits a few jittered milliseconds more than the last, so the two transactions do not meet again.
 */
const CONFLICT_ATTEMPTS = 5;

export interface WriterOptions {
  /** Events (or resource writes) that may wait before new requests get 503. */
  queueLimit: number;
  /** Messages kept per channel (0 = unlimited). */
  messageLimit: number;
  /** The tables written (CACHE_TABLES); default all. */
  cached?: ReadonlySet<TableName>;
  /** Changes merged into one transaction at most (a larger single request still runs alone). */
  maxBatchChanges?: number;
  /** Batch tuning (see batch.ts): rows from which writes are pipelined, and rows per statement. */
  pipelineRows?: number;
  chunkRows?: number;
  /** Skip GUILD_CREATE parts the cache holds already (snapshots.ts; default true). */
  skipUnchanged?: boolean;
  /** Shard leases: whether this instance holds the lease on a shard now (unset: it writes every shard). */
  holds?: (shard: number) => boolean;
}

/** What a request's commit did beyond applying it. */
export interface SubmitResult {
  /** Forwarded events skipped as duplicates (their shard had already applied their sequence number), as `shardId:seq`. */
  duplicates: string[];
  /** The commit's id in the change feed (none when it changed nothing, or without a feed). */
  changeId?: number;
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
  /** A transaction is run again after a deadlock or serialization failure. */
  onConflict?(): void;
  /** The change feed's publication (none: nothing is published). */
  publisher?: Publisher;
}


interface Job {
  changes: Change[];
  /** Changes it stands for (see `changeCount`). */
  size: number;
  weight: number;
  /** The shards it writes (leases: all must be held when its transaction starts). */
  shards: readonly number[];
  resolve: (result: SubmitResult) => void;
  /** Duplicates skipped in the attempt that committed, as `shardId:seq` (see sequence.ts). */
  duplicates: string[];
  reject: (err: unknown) => void;
}

export class Writer {
  private readonly queue: Job[] = [];
  private queuedWeight = 0;
  private running: Promise<void> | undefined;
  private closed = false;
  private botUserId: string | undefined;
  private readonly retention: Retention;
  /** Committed shard states (sequence.ts), loaded from the database on first use. */
  private readonly shards = new Map<number, ShardState>();
  /** Messages pruned and not yet published. */
  private pruned: FeedChange[] = [];

  constructor(
    private readonly db: Pick<Database, 'work' | 'query'>,
    private readonly options: WriterOptions,
    private readonly hooks: WriterHooks = {},
  ) {
    this.retention = new Retention(options.messageLimit);
  }

  /** Events waiting for a transaction. */
  get depth(): number {
    return this.queuedWeight;
  }

  /**
   * Queues the changes of one request (`weight` = its number of events) and resolves once they are
   * committed (with the commit's feed id, undefined when it changed nothing). Rejects with `UnavailableError` when the queue is full or the database unreachable, with
   * `RejectedDataError` when the database refuses this request's data, and with `ShardNotHeldError` when
   * the lease of one of `shards` (those it writes) is not held when its transaction starts.
   */
  submit(changes: Change[], weight = 1, shards: readonly number[] = []): Promise<SubmitResult> {
    if (this.closed) return Promise.reject(new UnavailableError('the cache is shutting down', 5));
    if (this.queue.length > 0 && this.queuedWeight + weight > this.options.queueLimit) {
      return Promise.reject(new UnavailableError(`write queue full (${this.queuedWeight} events waiting)`, 1));
    }
    return new Promise<SubmitResult>((resolve, reject) => {
      this.queue.push({ changes, size: changeCount(changes), weight, shards, resolve, reject, duplicates: [] });
      this.queuedWeight += weight;
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

  /**
   * A lease was (re)acquired: what the writer remembers of those shards (their sequence states) may be stale,
   * as another instance may have written them meanwhile. They are read again from the database.
   */
  forgetShards(shards: Iterable<number>) {
    for (const s of shards) this.shards.delete(s);
  }

  /** Stops accepting and resolves when everything accepted is committed (or failed). */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await this.running;
  }

  /** Retention (see retention.ts) is housekeeping, not part of the requests' atomicity: a failed pruning is retried later. */
  private async prune() {
    const due = this.retention.take();
    try {
      const deleted = await this.db.query<{ channel_id: string; id: string }>(PRUNE_MESSAGES, [due, this.retention.limit, PRUNE_MAX_PER_CHANNEL]);
      const perChannel = new Map<string, number>();
      for (const { channel_id, id } of deleted) {
        perChannel.set(channel_id, (perChannel.get(channel_id) ?? 0) + 1);
        if (this.hooks.publisher) this.pruned.push({ table: 'messages', op: 'delete', key: { id } });
      }
      this.retention.pruned(perChannel);
    } catch {
      this.retention.failed(due);
    }
  }

  private take(): Job[] {
    const max = this.options.maxBatchChanges ?? 50_000;
    const jobs: Job[] = [];
    let size = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (jobs.length > 0 && size + next.size > max) break;
      this.queue.shift();
      this.queuedWeight -= next.weight;
      jobs.push(next);
      size += next.size;
    }
    return jobs;
  }

  private async drain() {
    while (this.queue.length > 0 || this.retention.pending) {
      // Pruning is housekeeping between transactions, after the answers went out.
      if (this.retention.pending) await this.prune();
      if (this.queue.length > 0) await this.settle(this.take());
      else if (this.pruned.length > 0) await this.settle([]);
    }
  }

  /**
   * Commits the jobs and answers each; never throws. A failed group (the database refused one request's
   * data) is split in halves, each retried as a group: the requests beside a bad one still commit together,
   * k bad requests among n cost about 2k·log2(n) transactions instead of n, and the order is kept.
   */
  private async settle(given: Job[], attempt = 1): Promise<void> {
    const jobs = this.admit(given);
    if (jobs.length === 0 && given.length > 0) return; // every one refused (no job at all: pruned messages to publish)
    try {
      const changeId = await this.commit(jobs);
      for (const j of jobs) j.resolve(changeId === undefined ? { duplicates: j.duplicates } : { duplicates: j.duplicates, changeId });
    } catch (err) {
      if (isConflict(err) && attempt < CONFLICT_ATTEMPTS) {
        this.hooks.onConflict?.();
        await new Promise((r) => setTimeout(r, attempt * (5 + Math.random() * 20)));
        return this.settle(jobs, attempt + 1);
      }
      if (jobs.length <= 1 || isUnavailable(err)) {
        for (const j of jobs) j.reject(this.classify(err));
        return;
      }
      const half = Math.ceil(jobs.length / 2);
      await this.settle(jobs.slice(0, half));
      await this.settle(jobs.slice(half));
    }
  }

  /** The jobs whose shards are all held now; the others are refused (421). */
  private admit(jobs: Job[]): Job[] {
    const holds = this.options.holds;
    if (!holds) return jobs;
    return jobs.filter((j) => {
      const missing = j.shards.filter((s) => !holds(s));
      if (missing.length === 0) return true;
      j.reject(new ShardNotHeldError(missing));
      return false;
    });
  }

  private classify(err: unknown): unknown {
    if (isUnavailable(err)) return new UnavailableError('the database is unreachable; retry later', 2, { cause: err });
    if (isDataError(err)) return new RejectedDataError(`the database refused the data: ${(err as Error).message}`);
    return err;
  }

  /** Applies and commits the jobs in one transaction; returns its feed id. */
  private async commit(jobs: Job[]): Promise<number | undefined> {
    const started = performance.now();
    let changes = 0;
    let events = 0;
    let botUserId = this.botUserId;
    let inserted: Map<string, number> | undefined;
    let sequences: Sequences | undefined;
    const publisher = this.hooks.publisher;
    const pruned = this.pruned;
    let published: { id: number; changes: FeedChange[] } | undefined;
    const stats = await this.db.work(async (work) => {
      const batch = new Batch(work, {
        botUserId,
        cached: this.options.cached,
        pipelineRows: this.options.pipelineRows,
        chunkRows: this.options.chunkRows,
        shards: this.shards,
        skipUnchanged: this.options.skipUnchanged,
        orderShared: this.options.holds !== undefined,
      });
      sequences = batch.sequences;
      for (const job of jobs) {
        events += job.weight;
        changes += job.size;
        const before = batch.sequences.duplicates.length;
        await batch.prepare(job.changes);
        for (const change of job.changes) {
          const pending = batch.apply(change);
          if (pending) await pending;
        }
        job.duplicates = batch.sequences.duplicates.slice(before);
      }
      await batch.runDeferred(); // the retains' deletes belong in the feed too
      batch.log.add(pruned);
      const feed = publisher && !batch.log.empty ? batch.log.changes() : undefined;
      const answer = await batch.finish(feed && publisher?.part(feed));
      if (feed) published = { id: changeIdOf(answer), changes: feed };
      botUserId = batch.botUserId;
      inserted = batch.messagesByChannel;
      return batch.stats;
    });
    this.botUserId = botUserId;
    sequences?.commit();
    if (this.pruned === pruned) this.pruned = [];
    if (published) publisher?.committed(published.id, published.changes);
    if (inserted) this.retention.counted(inserted);
    this.hooks.onCommit?.({
      requests: jobs.length,
      events,
      changes,
      statements: stats.statements,
      rows: stats.rows,
      seconds: (performance.now() - started) / 1000,
    });
    return published?.id;
  }
}
