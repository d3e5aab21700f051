/**
 * The client's subscription to `GET /v1/changes` (server-sent events; Node 20 has no EventSource).
 * Reconnects with backoff and `Last-Event-ID`.
 *
 * It uses `node:http` rather than `fetch`: a fetch whose body is aborted leaves its pool a fresh idle
 * connection to the service (measured with Node 20's fetch), and a connection that never carried a request
 * holds up the service's graceful shutdown until its keep-alive timeout (72 s). A request of its own
 * (`agent: false`) closes for good. (The client's `fetch` option therefore does not apply to the feed.)
 *
 * The connection counts as down (`down`) from the moment it ends, fails, or stays silent for three
 * heartbeats (a connection cut without a reset), until the server's `ready` event on a new one.
 */
import http from 'node:http';
import https from 'node:https';
import type { ChangeEvent } from '../cache/feed-protocol.js';
import { backoffDelay, type Transport } from './http.js';

export interface FeedHandlers {
  change(event: ChangeEvent): void;
  /** Everything up to `position` must be read again. */
  reset(position: number): void;
  /** Live from `position` on (after the reset, or the commits missed). */
  ready(position: number): void;
  heartbeat(position: number): void;
  down(): void;
}

export const CHANGES_PATH = '/v1/changes';

export class FeedConnection {
  private lastId: number | undefined;
  private request: http.ClientRequest | undefined;
  private closed = false;
  private attempt = 0;

  constructor(
    private readonly transport: Transport,
    private readonly handlers: FeedHandlers,
  ) {}

  start() {
    void this.run();
  }

  close() {
    this.closed = true;
    this.request?.destroy();
  }

  private async run() {
    while (!this.closed && !this.transport.lifetime.signal.aborted) {
      await this.connect();
      if (this.closed) return;
      this.handlers.down();
      const delay = backoffDelay(++this.attempt, undefined, this.transport.options.retry);
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
    }
  }

  /** One connection, until it ends. */
  private connect(): Promise<void> {
    return new Promise((resolve) => {
      const url = new URL(this.transport.url(CHANGES_PATH));
      const headers: Record<string, string> = { ...this.transport.headers, accept: 'text/event-stream' };
      if (this.lastId !== undefined) headers['last-event-id'] = String(this.lastId);
      const request = (url.protocol === 'https:' ? https : http).request(url, { headers, agent: false, signal: this.transport.lifetime.signal }, (res) => {
        if (res.statusCode !== 200) return void request.destroy();
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            this.event(block, request);
          }
        });
        res.on('end', () => request.destroy());
      });
      this.request = request;
      // Silence (no answer, then no heartbeat) ends it: 30 s until the server says its heartbeat period.
      request.setTimeout(30_000, () => request.destroy());
      request.on('error', () => {});
      request.on('close', () => resolve());
      request.end();
      if (this.closed) request.destroy();
    });
  }

  private event(block: string, request: http.ClientRequest) {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data += data ? `\n${value}` : value;
      else if (field === 'id' && /^\d+$/.test(value)) this.lastId = Number(value);
    }
    if (data === '') return;
    const body = JSON.parse(data) as { id: number; heartbeat_ms?: number };
    switch (event) {
      case 'change':
        this.handlers.change(body as ChangeEvent);
        break;
      case 'reset':
        this.handlers.reset(body.id);
        break;
      case 'ready':
        this.attempt = 0;
        if (body.heartbeat_ms) request.setTimeout(3 * body.heartbeat_ms);
        this.handlers.ready(body.id);
        break;
      case 'heartbeat':
        this.handlers.heartbeat(body.id);
        break;
      default:
        break;
    }
  }
}
