/**
 * Vacuum of the churning tables when nothing else does it.
 *
 * Retention deletes messages all the time and presences are rewritten all the time. PostgreSQL's autovacuum
 * cleans up after that (the migration `0001_autovacuum_churning_tables` makes it act early on these two),
 * but a server may run with `autovacuum = off`, and the embedded PGlite has no autovacuum worker at all.
 * Without vacuum the dead rows pile up: a 5-minute soak fell from 10k to 2.7k events/s (messages: 11k live
 * rows, 250k dead; a manual VACUUM brought it back to 15k). So, when autovacuum is not running, the service
 * runs `VACUUM (ANALYZE)` on those tables itself, every `intervalMs` while writes happen. VACUUM does not
 * block writes (it takes a SHARE UPDATE EXCLUSIVE lock); on PostgreSQL it runs on a pool connection beside the
 * writer's.
 */
import type { Database } from '../db/connect.js';

export const CHURNING_TABLES = ['messages', 'presences'] as const;

export interface VacuumHooks {
  onVacuum?(info: { seconds: number }): void;
  onError?(err: unknown): void;
}

export class Vacuum {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Writes were committed since the last vacuum. */
  private dirty = false;
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly intervalMs: number,
    private readonly hooks: VacuumHooks = {},
  ) {}

  /** Whether the database vacuums by itself: PostgreSQL with `autovacuum` and `track_counts` on. */
  static async autovacuumRuns(db: Database): Promise<boolean> {
    if (db.kind === 'pglite') return false; // single-user mode: no autovacuum worker
    const [row] = await db.query<{ on: boolean }>(
      `SELECT current_setting('autovacuum') = 'on' AND current_setting('track_counts') = 'on' AS on`,
    );
    return row?.on === true;
  }

  /** Starts vacuuming every `intervalMs` unless the database does it itself (or the interval is 0). */
  async start(): Promise<boolean> {
    if (this.intervalMs <= 0 || (await Vacuum.autovacuumRuns(this.db))) return false;
    if (this.stopped) return false;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
    return true;
  }

  /** Called after each commit. */
  written = () => {
    this.dirty = true;
  };

  private tick() {
    if (!this.dirty || this.running) return;
    this.dirty = false;
    this.running = this.run().finally(() => (this.running = undefined));
  }

  private async run() {
    const started = performance.now();
    try {
      await this.db.query(`VACUUM (ANALYZE) ${CHURNING_TABLES.map((t) => `"${t}"`).join(', ')}`);
      this.hooks.onVacuum?.({ seconds: (performance.now() - started) / 1000 });
    } catch (err) {
      this.dirty = true; // try again at the next tick (the database may be down)
      this.hooks.onError?.(err);
    }
  }

  async stop() {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
