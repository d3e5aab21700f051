/**
 * One subscriber of `GET /v1/changes`: the feed's commits written out as server-sent events.
 *
 * Events (each `data:` is one JSON line):
 * - `change` (`id:` the commit's id): `{ id, changes }`, the changes that pass the subscriber's filter (a
 *   commit none of whose changes pass is not sent; the next `heartbeat` carries the position past it);
 * - `reset` (`id:` the position): everything up to it must be read again (a new subscriber, one resuming
 *   outside the window, one that fell behind, a lost notification);
 * - `ready` (`id:` the position): sent once, after the reset or the commits missed since `Last-Event-ID`:
 *   from here on the stream is live. `heartbeat_ms` says how often heartbeats come;
 * - `heartbeat` (`id:` the position), every `heartbeat_ms`;
 * - `stats` (with `?stats=1`), once a second: the status page's figures (`http/status.ts`).
 *
 * A slow subscriber never slows the writer: once more than `maxBuffered` bytes wait in its socket, commits
 * are no longer written to it; when the socket has drained it gets a `reset` at the position then.
 */
import type { ServerResponse } from 'node:http';
import type { FeedEvent, FeedSink } from '../cache/feed.js';
import { guildOf, type FeedChange } from '../cache/feed-protocol.js';
import type { TableName } from '../db/tables.js';

export interface StreamFilter {
  tables?: ReadonlySet<TableName> | undefined;
  /** Changes of this guild, and those whose guild the change does not say. */
  guildId?: string | undefined;
}

export interface EventStreamOptions {
  maxBuffered: number;
  heartbeatMs: number;
  /** The feed's position now (for heartbeats and the reset after a drain). */
  position: () => number;
}

const passes = (c: FeedChange, f: StreamFilter) => {
  if (f.tables && !f.tables.has(c.table)) return false;
  if (f.guildId === undefined) return true;
  const g = guildOf(c);
  return g === undefined || g === f.guildId;
};

export class EventStream implements FeedSink {
  private behind = false;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly filtered: boolean;

  constructor(
    private readonly res: ServerResponse,
    private readonly filter: StreamFilter,
    private readonly options: EventStreamOptions,
  ) {
    this.filtered = filter.tables !== undefined || filter.guildId !== undefined;
    this.heartbeat = setInterval(() => {
      if (!this.behind) this.send('heartbeat', this.options.position(), JSON.stringify({ id: this.options.position() }));
    }, options.heartbeatMs);
    this.heartbeat.unref();
  }

  change(event: FeedEvent) {
    if (this.behind || this.closed) return;
    if (!this.filtered) return this.send('change', event.id, event.json);
    const changes = event.changes.filter((c) => passes(c, this.filter));
    if (changes.length > 0) this.send('change', event.id, JSON.stringify({ id: event.id, changes }));
  }

  reset(position: number, reason: string) {
    if (this.behind || this.closed) return; // the reset after the drain covers it
    this.send('reset', position, JSON.stringify({ id: position, reason }));
  }

  ready(position: number) {
    this.send('ready', position, JSON.stringify({ id: position, heartbeat_ms: this.options.heartbeatMs }));
  }

  stats(json: string) {
    if (!this.behind && !this.closed) this.write(`event: stats\ndata: ${json}\n\n`);
  }

  close() {
    this.dispose();
    this.res.end();
  }

  dispose() {
    this.closed = true;
    clearInterval(this.heartbeat);
  }

  private send(event: string, id: number, data: string) {
    this.write(`id: ${id}\nevent: ${event}\ndata: ${data}\n\n`);
  }

  private write(text: string) {
    if (this.closed) return;
    if (this.res.writableLength > this.options.maxBuffered) {
      this.behind = true;
      this.res.once('drain', () => {
        this.behind = false;
        const position = this.options.position();
        this.send('reset', position, JSON.stringify({ id: position, reason: 'the subscriber fell behind' }));
      });
      return;
    }
    this.res.write(text);
  }
}
