/**
 * The figures of the status page (`GET /`), sent once a second as `stats` events to the streams of
 * `/v1/changes?stats=1`: sampled only while such a stream is open, once for all of them.
 *
 * - `ingest`: this instance's counters (what it applied: on an instance that takes no writes, zero) and the
 *   writer's queue depth; `events_per_second` over the last interval.
 * - `commit`: this instance's transactions in the last interval, mean and p99 commit time (the p99 is the
 *   upper bound of its bucket of `dsc_commit_duration_seconds`).
 * - `feed`: what this instance relays, which is every instance's commits.
 * - `rows`: rows per table, counted on the primary. Counting reads whole tables, so it runs at most once a
 *   second and no more often than every ten times its own duration (`rows_at` says when).
 */
import type { RouteContext } from './context.js';
import { TABLE_NAMES, type TableName } from '../db/tables.js';

type Listener = (json: string) => void;

interface CommitHistogram {
  buckets: [number, number][];
  sum: number;
  count: number;
}

export class StatusSampler {
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  private previous: { at: number; applied: number; commits: number; changes: number; histogram: CommitHistogram } | undefined;
  private rows: Partial<Record<TableName, number>> | undefined;
  private rowsAt: string | undefined;
  private nextCount = 0;
  private counting = false;

  constructor(
    private readonly ctx: Pick<RouteContext, 'metrics' | 'writer' | 'feed' | 'reads' | 'cached'>,
    private readonly intervalMs = 1_000,
  ) {}

  /** Adds a listener (starting the sampling); returns its removal. */
  add(listener: Listener): () => void {
    this.listeners.add(listener);
    if (!this.timer) {
      this.timer = setInterval(() => void this.sample(), this.intervalMs);
      this.timer.unref();
      void this.sample();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  stop() {
    clearInterval(this.timer);
    this.timer = undefined;
    this.previous = undefined;
  }

  private async histogram(): Promise<CommitHistogram> {
    const h: CommitHistogram = { buckets: [], sum: 0, count: 0 };
    for (const v of (await this.ctx.metrics.commitSeconds.get()).values) {
      if (v.metricName?.endsWith('_bucket')) h.buckets.push([v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), v.value]);
      else if (v.metricName?.endsWith('_sum')) h.sum = v.value;
      else if (v.metricName?.endsWith('_count')) h.count = v.value;
    }
    return h;
  }

  /** Rows per table, when due and not already being counted (see the module comment). */
  private countRows() {
    if (this.counting || Date.now() < this.nextCount) return;
    this.counting = true;
    const started = Date.now();
    this.ctx.reads
      .counts(TABLE_NAMES.filter((t) => this.ctx.cached.has(t)))
      .then((rows) => {
        this.rows = rows;
        this.rowsAt = new Date().toISOString();
      })
      .catch(() => {})
      .finally(() => {
        this.counting = false;
        this.nextCount = Date.now() + Math.max(this.intervalMs, 10 * (Date.now() - started));
      });
  }

  private async sample() {
    this.countRows();
    const now = performance.now();
    const { metrics, writer, feed } = this.ctx;
    const histogram = await this.histogram();
    const current = { at: now, applied: metrics.totals.applied, commits: feed.totals.commits, changes: feed.totals.changes, histogram };
    const before = this.previous;
    this.previous = current;
    const seconds = before ? (now - before.at) / 1000 : 0;
    const rate = (a: number, b: number | undefined) => (before && seconds > 0 ? (a - (b ?? 0)) / seconds : null);
    const commits = before ? histogram.count - before.histogram.count : 0;
    let p99: number | null = null;
    if (before && commits > 0) {
      const target = 0.99 * commits;
      for (const [i, [le, n]] of histogram.buckets.entries()) {
        if (n - (before.histogram.buckets[i]?.[1] ?? 0) >= target) {
          p99 = le === Infinity ? null : le * 1000;
          break;
        }
      }
    }
    const json = JSON.stringify({
      time: new Date().toISOString(),
      ingest: { ...metrics.totals, queue_depth: writer.depth, events_per_second: rate(current.applied, before?.applied) },
      commit: {
        count: commits,
        mean_ms: before && commits > 0 ? ((histogram.sum - before.histogram.sum) / commits) * 1000 : null,
        p99_ms: p99,
      },
      feed: {
        live: feed.live,
        position: feed.position,
        subscribers: feed.subscribers,
        resets: feed.totals.resets,
        commits_per_second: rate(current.commits, before?.commits),
        changes_per_second: rate(current.changes, before?.changes),
      },
      rows: this.rows ?? null,
      rows_at: this.rowsAt ?? null,
    });
    for (const listener of this.listeners) listener(json);
  }
}
