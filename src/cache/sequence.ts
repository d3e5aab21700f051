/**
 * Exactly once for `{ payload, shardId }` forwards.
 *
 * Delivery from the event handler is at least once: a batch committed whose answer was lost is sent again.
 * Every dispatch of a gateway session carries an increasing sequence number `s`, so the service keeps, per
 * shard, the session (READY's `session_id`) and the last `s` it applied, in `shard_sessions`, written in the
 * same transaction as the events' changes. A forward whose `s` is not above its shard's last applied one is a
 * duplicate: not applied, and answered as such. READY starts a new session (its `s` is the first).
 *
 * Not sequenced: bare payloads (no shard), events without `s`, and Discordeno's `GUILD_LOADED_DD` (a
 * GUILD_CREATE it renames; idempotent, so always applied, never dropped as a duplicate).
 */
import type { Part } from './statements.js';

export interface ShardState {
  session: string | null;
  last: number;
  /** Events applied in this shard (since the cache has existed). */
  applied: number;
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

  /**
   * Whether the event `seq` of `shardId` is new (to apply), recording it as applied. `session` (READY's)
   * starts a new session, unless it is the current one (a resent READY is a duplicate like any event).
   */
  async admit(shardId: number, seq: number, session: string | undefined): Promise<boolean> {
    const current = await this.state(shardId);
    const sameSession = session === undefined || session === current?.session;
    if (current && sameSession && seq <= current.last) {
      this.duplicates.push(`${shardId}:${seq}`);
      return false;
    }
    this.changed.set(shardId, {
      session: session ?? current?.session ?? null,
      last: seq,
      applied: (current?.applied ?? 0) + 1,
    });
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
        rows.map(([, s]) => s.applied),
      ],
      sql: (o) =>
        `INSERT INTO shard_sessions (shard_id, session_id, last_sequence, events_applied, last_event_at) ` +
        `SELECT unnest($${o + 1}::int[]), unnest($${o + 2}::text[]), unnest($${o + 3}::bigint[]), unnest($${o + 4}::bigint[]), now() ` +
        `ON CONFLICT (shard_id) DO UPDATE SET session_id = excluded.session_id, last_sequence = excluded.last_sequence, ` +
        `events_applied = excluded.events_applied, last_event_at = now()`,
    };
  }

  /** After the commit: the batch's states become the committed ones. */
  commit() {
    for (const [id, s] of this.changed) this.committed.set(id, s);
  }
}

export const LOAD_SHARD = {
  name: 'dsc_load_shard',
  text: 'SELECT session_id, last_sequence, events_applied FROM shard_sessions WHERE shard_id = $1',
};

export const LIST_SHARDS =
  `SELECT shard_id, session_id, last_sequence, to_json(last_event_at) #>> '{}' AS last_event_at, events_applied FROM shard_sessions ORDER BY shard_id`;
