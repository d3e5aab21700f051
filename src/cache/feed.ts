/**
 * The change feed of one instance: the commits it heard of (`feed-source.ts`), kept in a bounded window for
 * subscribers that resume, and handed to every subscriber (`http/routes/changes.ts` writes them out).
 *
 * - `position`: the id of the last commit relayed (or, right after a start, the sequence's value then).
 * - A subscriber resuming after id `since` gets what it missed when `since` is inside the window (`floor ≤
 *   since ≤ position`: every commit after `floor` is in it); otherwise it is told to reset.
 * - A commit whose id is not above the one heard before (two writers committing at once: ids are taken in the
 *   transaction, before its commit) cannot be placed in order: every subscriber is reset. With the single
 *   writer the README asks for, ids arrive in order.
 * - While the source is down (`live` false) nobody is subscribed: `stop()` ends every stream, and the route
 *   answers 503 until `start()`.
 */
import type { FeedChange } from './feed-protocol.js';

/** One commit. Its JSON (the `change` event's data) is built once, for every subscriber without a filter. */
export class FeedEvent {
  private text: string | undefined;
  constructor(
    readonly id: number,
    readonly changes: readonly FeedChange[],
  ) {}
  get json(): string {
    return (this.text ??= JSON.stringify({ id: this.id, changes: this.changes }));
  }
}

/** A subscriber: the route's stream. */
export interface FeedSink {
  change(event: FeedEvent): void;
  /** Everything up to `position` must be read again. */
  reset(position: number, reason: string): void;
  /** The feed stopped: end the stream. */
  close(): void;
}

export interface FeedOptions {
  /** Commits kept for resuming subscribers (default 10,000)… */
  windowEvents?: number;
  /** …and changes in them at most (default 200,000). */
  windowChanges?: number;
}

export type Subscribed = { replay: FeedEvent[] } | { reset: number; reason: string };

export class Feed {
  live = false;
  position = 0;
  private floor = 0;
  private lastHeard = 0;
  private window: FeedEvent[] = [];
  private head = 0;
  private windowChanges = 0;
  private readonly sinks = new Set<FeedSink>();
  /** Commits and changes relayed since the start (for the status page's rates). */
  readonly totals = { commits: 0, changes: 0, resets: 0 };

  constructor(private readonly options: FeedOptions = {}) {}

  get subscribers(): number {
    return this.sinks.size;
  }

  /** The source is up; `floor`: the sequence's value when it started listening (earlier commits are unknown here). */
  start(floor: number) {
    this.clear(Math.max(floor, this.position));
    this.lastHeard = 0;
    this.live = true;
  }

  /** The source is down (or the service stops): every stream ends; subscribers reconnect later. */
  stop() {
    this.live = false;
    for (const sink of [...this.sinks]) sink.close();
    this.sinks.clear();
  }

  publish(id: number, changes: readonly FeedChange[]) {
    if (!this.live) return;
    if (id <= this.lastHeard) {
      this.reset(Math.max(this.position, this.lastHeard), `commit ${id} arrived after ${this.lastHeard}: two writers?`);
      return;
    }
    this.lastHeard = id;
    const event = new FeedEvent(id, changes);
    this.position = Math.max(this.position, id);
    this.totals.commits++;
    this.totals.changes += changes.length;
    this.window.push(event);
    this.windowChanges += changes.length;
    this.trim();
    for (const sink of this.sinks) sink.change(event);
  }

  /** Something was lost: every subscriber starts over at `position` (or later). */
  reset(position: number, reason: string) {
    this.totals.resets++;
    this.clear(Math.max(position, this.position));
    for (const sink of this.sinks) sink.reset(this.position, reason);
  }

  /**
   * Adds a subscriber (call only while `live`). With `since` inside the window it gets the commits after it;
   * otherwise it must reset at the position returned.
   */
  subscribe(sink: FeedSink, since: number | undefined): Subscribed {
    this.sinks.add(sink);
    if (since === undefined) return { reset: this.position, reason: 'new subscriber' };
    if (since < this.floor || since > this.position) {
      return { reset: this.position, reason: `${since} is outside the window (${this.floor} to ${this.position})` };
    }
    const replay: FeedEvent[] = [];
    for (let i = this.head; i < this.window.length; i++) if (this.window[i]!.id > since) replay.push(this.window[i]!);
    return { replay };
  }

  unsubscribe(sink: FeedSink) {
    this.sinks.delete(sink);
  }

  private clear(position: number) {
    this.window = [];
    this.head = 0;
    this.windowChanges = 0;
    this.position = position;
    this.floor = position;
  }

  private trim() {
    const maxEvents = this.options.windowEvents ?? 10_000;
    const maxChanges = this.options.windowChanges ?? 200_000;
    while (this.window.length - this.head > 1 && (this.window.length - this.head > maxEvents || this.windowChanges > maxChanges)) {
      const old = this.window[this.head++]!;
      this.windowChanges -= old.changes.length;
      this.floor = old.id;
    }
    // Compact now and then rather than shifting on every commit.
    if (this.head > 1_024 && this.head * 2 > this.window.length) {
      this.window = this.window.slice(this.head);
      this.head = 0;
    }
  }
}
