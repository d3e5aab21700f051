/**
 * The client's `record` option: a tee of every dispatched packet into an NDJSON file (one line per packet, in
 * `dispatch()` call order, appended), which `discord-state-cache replay FILE` sends into a fresh cache.
 */
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { toJson } from './http.js';

export class Recorder {
  private readonly out: WriteStream;
  private error: Error | undefined;
  private ended: Promise<void> | undefined;

  constructor(readonly path: string) {
    // Opened synchronously so that a wrong path fails `new CacheClient(...)` at once, not the first dispatch.
    const fd = openSync(path, 'a');
    this.out = createWriteStream(path, { fd });
    // A write error (disk full) must not crash the bot: it is kept and reported by `end()`.
    this.out.on('error', (err) => (this.error ??= err));
  }

  /**
   * Appends one packet. Serialised here a second time (the dispatcher keeps its own string): recording is a
   * capture mode, and this keeps the dispatcher unaware of it.
   */
  write(packet: unknown) {
    if (this.ended || this.error) return;
    let line: string;
    try {
      line = toJson(packet);
    } catch {
      return; // the dispatcher rejects what cannot be serialised, so it is not a dispatched packet either
    }
    this.out.write(`${line}\n`);
  }

  /** Writes out what is buffered and closes the file; rejects when a write failed. */
  end(): Promise<void> {
    this.ended ??= new Promise<void>((resolve) => this.out.end(resolve)).then(() => {
      if (this.error) throw new Error(`recording to ${this.path} failed: ${this.error.message}`, { cause: this.error });
    });
    return this.ended;
  }
}
