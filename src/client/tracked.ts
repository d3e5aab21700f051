/**
 * Which gateway events the service tracks, learned from `GET /v1/events` once. An event it does not track
 * (INTERACTION_CREATE, TYPING_START, …, and every non-dispatch opcode) is neither stored nor waited for: the
 * client resolves its `dispatch()` at once and does not send it, so an interaction never queues behind a
 * startup storm of GUILD_CREATEs. Until the list is known, every event is sent (as the service would ignore
 * the untracked ones anyway); a failed look-up is tried again a few seconds later.
 */
import type { Transport } from './http.js';

const RETRY_MS = 5_000;

export class TrackedEvents {
  private names: ReadonlySet<string> | undefined;
  private loading: Promise<void> | undefined;
  private failedAt = 0;

  constructor(private readonly transport: Pick<Transport, 'send'>) {}

  /** Starts learning the list (once; again after a failure). */
  learn(): void {
    if (this.names || this.loading || Date.now() - this.failedAt < RETRY_MS) return;
    this.loading = (async () => {
      try {
        const answer = await this.transport.send('GET', '/v1/events');
        const tracked = (answer.body as { tracked?: unknown } | undefined)?.tracked;
        if (answer.status === 200 && Array.isArray(tracked)) this.names = new Set(tracked.map(String));
        else this.failedAt = Date.now();
      } catch {
        this.failedAt = Date.now();
      } finally {
        this.loading = undefined;
      }
    })();
  }

  /** Resolves once the list is known (or the look-up failed). */
  async ready(): Promise<void> {
    this.learn();
    await this.loading;
  }

  /** Whether the service tracks the event `name`; `undefined` while the list is not known. */
  tracks(name: string): boolean | undefined {
    return this.names?.has(name);
  }

  /** Whether `packet` is known to be untracked: a non-dispatch opcode, or an event name the service ignores. */
  skips(packet: unknown): boolean {
    this.learn();
    if (!this.names) return false;
    const payload = (packet as { payload?: unknown }).payload ?? packet;
    const { op, t } = payload as { op?: unknown; t?: unknown };
    if (op !== 0) return Number.isInteger(op);
    return typeof t === 'string' && !this.names.has(t);
  }
}
