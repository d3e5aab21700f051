/**
 * Exactly once for `{ payload, shardId }` forwards.
 *
 * Delivery from the event handler is at least once: a batch committed whose answer was lost is sent again.
 * Every dispatch of a gateway session carries an increasing sequence number `s`, so the service keeps, per
 * shard, the session (READY's `session_id`), the last `s` it applied and which of the `WINDOW` numbers below
 * it were applied, in `shard_sessions`, written in the same transaction as the events' changes. A forward whose
 * `s` was applied already (or is older than the window) is a duplicate: not applied, and answered as such.
 * READY starts a new session (its `s` is the first).
 *
 * Not sequenced: bare payloads (no shard), events without `s`, and Discordeno's `GUILD_LOADED_DD` (a
 * GUILD_CREATE it renames; idempotent, so always applied, never dropped as a duplicate).
 */
import type { Part } from './statements.js';

export interface ShardState {
  session: string | null;
  /** The highest sequence number applied. */
  last: number;
  /**
   * Which of the `WINDOW` sequence numbers below `last` were applied: bit i stands for `last - 1 - i`. Forwards
   * of one shard may arrive out of order (an event handler with several requests in flight), and some never
   * come (events it does not forward, like the ones the service does not track), so "not above the last" is
   * not enough: a number is a duplicate when it was applied, or is older than the window.
   */
  window: bigint;
  /** Events applied in this shard (since the cache has existed). */
  applied: number;
}

/** Sequence numbers below the last applied one that are remembered: how far forwards may be reordered. */
export const WINDOW = 4096;
const MASK = (1n << BigInt(WINDOW)) - 1n;

/**
 * The state after admitting `seq`, or undefined when `seq` is a duplicate. Pure. `session` (READY's) starts
 * a new session, unless it is the current one (a resent READY is a duplicate like any event).
 */
export function admit(current: ShardState | undefined, seq: number, session: string | undefined): ShardState | undefined {
  if (!current || (session !== undefined && session !== current.session)) {
    return { session: session ?? current?.session ?? null, last: seq, window: 0n, applied: (current?.applied ?? 0) + 1 };
  }
  if (seq > current.last) {
    // The old last is applied: it takes bit (shift - 1); the numbers in between take zeros.
    const shift = BigInt(seq - current.last);
    const window = shift > BigInt(WINDOW) ? 0n : ((current.window << shift) | (1n << (shift - 1n))) & MASK;
    return { session: current.session, last: seq, window, applied: current.applied + 1 };
  }
  const bit = current.last - 1 - seq;
  if (bit < 0 || bit >= WINDOW || (current.window >> BigInt(bit)) & 1n) return undefined;
  return { ...current, window: current.window | (1n << BigInt(bit)), applied: current.applied + 1 };
}

/** A batch's view of the shard states: the writer's (committed) ones plus its own changes, kept apart until commit. */
export class Sequences {
  private readonly changed = new Map<number, ShardState>();
  /** Duplicates seen in this batch, as `shardId:seq`, in order. */
  readonly duplicates: string[] = [];

  constructor(
    private readonly committed: Map<number, ShardState>,
    private readonly load: (shardId: number) => Promise<ShardState | undefined>,
  ) {}

  private async state(shardId: number): Promise<ShardState | undefined> {
    const own = this.changed.get(shardId) ?? this.committed.get(shardId);
    if (own) return own;
    const loaded = await this.load(shardId);
    if (loaded) this.committed.set(shardId, loaded);
    return loaded;
  }

  /** Whether the event `seq` of `shardId` is new (to apply), recording it as applied (see `admit`). */
  async admit(shardId: number, seq: number, session: string | undefined): Promise<boolean> {
    const next = admit(await this.state(shardId), seq, session);
    if (!next) {
      this.duplicates.push(`${shardId}:${seq}`);
      return false;
    }
    this.changed.set(shardId, next);
    return true;
  }

  /** The statement part that writes this batch's shard states, or undefined when nothing changed. */
  part(): Part | undefined {
    if (this.changed.size === 0) return undefined;
    const rows = [...this.changed];
    return {
      key: 'shard_sessions',
      rows: rows.length,
      params: () => [
        rows.map(([id]) => id),
        rows.map(([, s]) => s.session),
        rows.map(([, s]) => s.last),
        rows.map(([, s]) => s.window.toString(16)),
        rows.map(([, s]) => s.applied),
      ],
      sql: (o) =>
        `INSERT INTO shard_sessions (shard_id, session_id, last_sequence, applied_window, events_applied, last_event_at) ` +
        `SELECT unnest($${o + 1}::int[]), unnest($${o + 2}::text[]), unnest($${o + 3}::bigint[]), unnest($${o + 4}::text[]), ` +
        `unnest($${o + 5}::bigint[]), now() ` +
        `ON CONFLICT (shard_id) DO UPDATE SET session_id = excluded.session_id, last_sequence = excluded.last_sequence, ` +
        `applied_window = excluded.applied_window, events_applied = excluded.events_applied, last_event_at = now()`,
    };
  }

  /** After the commit: the batch's states become the committed ones. */
  commit() {
    for (const [id, s] of this.changed) this.committed.set(id, s);
  }
}

export const LOAD_SHARD = {
  name: 'dsc_load_shard',
  text: 'SELECT session_id, last_sequence, applied_window, events_applied FROM shard_sessions WHERE shard_id = $1',
};

export const LIST_SHARDS =
  `SELECT shard_id, session_id, last_sequence, to_json(last_event_at) #>> '{}' AS last_event_at, events_applied FROM shard_sessions ORDER BY shard_id`;
