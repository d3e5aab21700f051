/**
 * A subscriber of `GET /v1/changes` for tests: reads the real stream over HTTP and keeps its events.
 * `node:http` with a connection of its own, as the client does (an aborted fetch leaves an idle connection
 * behind that holds up the server's close for its keep-alive timeout).
 */
import http from 'node:http';

export interface SseEvent {
  event: string;
  id: number | undefined;
  data: any;
}

export class SseReader {
  readonly events: SseEvent[] = [];
  private waiters: (() => void)[] = [];
  ended = false;
  /** The body of a non-200 answer. */
  body = '';

  private constructor(
    readonly status: number,
    private readonly request: http.ClientRequest,
  ) {}

  /** Opens the stream; a non-200 answer resolves with `status` and `body` set and no events. */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    return new Promise((resolve, reject) => {
      const request = http.get(url, { headers, agent: false }, (res) => {
        const reader = new SseReader(res.statusCode ?? 0, request);
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          if (reader.status !== 200) return void (reader.body += chunk);
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            reader.parse(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
          reader.wake();
        });
        res.on('close', () => {
          reader.ended = true;
          reader.wake();
        });
        if (reader.status === 200) resolve(reader);
        else res.on('end', () => resolve(reader));
      });
      request.on('error', reject);
    });
  }

  private parse(block: string) {
    let event = 'message';
    let data = '';
    let id: number | undefined;
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':');
      const field = line.slice(0, colon);
      const value = line.slice(colon + 2);
      if (field === 'event') event = value;
      else if (field === 'data') data = value;
      else if (field === 'id') id = Number(value);
    }
    if (data) this.events.push({ event, id, data: JSON.parse(data) });
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** The first event (from `from` on) that `match` accepts; rejects after `timeoutMs` or when the stream ends. */
  async next(match: (e: SseEvent) => boolean, from = 0, timeoutMs = 10_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(match);
      if (found) return found;
      if (this.ended) throw new Error(`the stream ended without the event; got ${JSON.stringify(this.events.map((e) => e.event))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no such event within ${timeoutMs} ms; got ${JSON.stringify(this.events.map((e) => [e.event, e.id]))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The `change` event of commit `id`. */
  change(id: number, timeoutMs?: number) {
    return this.next((e) => e.event === 'change' && e.id === id, 0, timeoutMs);
  }

  /** Resolves when the server ends the stream. */
  async closed(timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('the stream did not end');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close() {
    this.request.destroy();
  }
}
