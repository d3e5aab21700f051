/** The bench side of bench/feed-child.ts: another bot process, forked with IPC (killed on exit whatever happens). */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface FeedChildMessage {
  kind: string;
  [key: string]: unknown;
}

export class FeedChild {
  private readonly listeners = new Set<(m: FeedChildMessage) => void>();
  private readonly exited: Promise<void>;

  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: FeedChildMessage) => {
      for (const l of this.listeners) l(m);
    });
    this.exited = new Promise((resolve) => child.on('exit', () => resolve()));
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    void this.exited.then(() => process.removeListener('exit', kill));
  }

  static async start(): Promise<FeedChild> {
    const child = fork(path.join(ROOT, 'bench/feed-child.ts'), [], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const c = new FeedChild(child);
    await c.next('started', 60_000);
    return c;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(message: object) {
    this.child.send(message);
  }

  on(kind: string, handler: (m: FeedChildMessage) => void): () => void {
    const l = (m: FeedChildMessage) => {
      if (m.kind === kind) handler(m);
    };
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** The next message of `kind` (an `error` message rejects). */
  next(kind: string, timeoutMs = 30_000): Promise<FeedChildMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`the feed child sent no ${kind} within ${timeoutMs} ms`)), timeoutMs);
      const l = (m: FeedChildMessage) => {
        if (m.kind === kind) done(undefined, m);
        else if (m.kind === 'error') done(new Error(`feed child: ${String(m.message)}`));
      };
      const done = (err?: Error, m?: FeedChildMessage) => {
        clearTimeout(timer);
        this.listeners.delete(l);
        if (err) reject(err);
        else resolve(m!);
      };
      this.listeners.add(l);
    });
  }

  /** Asks the child to stop; resolves with its `stopped` message (or undefined if it died). */
  async stop(): Promise<FeedChildMessage | undefined> {
    if (this.child.exitCode !== null) return undefined;
    const stopped = this.next('stopped', 15_000).catch(() => undefined);
    this.send({ kind: 'stop' });
    const m = await stopped;
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 5_000).unref())]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    return m;
  }
}
