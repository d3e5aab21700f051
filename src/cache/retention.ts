/**
 * Message retention, as bookkeeping (pure: the writer runs the statement). The newest `limit` messages of a
 * channel are kept. Once a channel got `limit / 4` (at least 1) new messages since its last pruning it is
 * due, and the writer deletes the oldest beyond `limit`, at most `PRUNE_MAX_PER_CHANNEL` per channel and
 * pass, right after a commit. A channel therefore holds up to 25% more than the limit between prunings:
 * finding a channel's cut reads its `limit` newest messages, so pruning is kept to once per quarter.
 */

/** Messages one pruning deletes per channel at most: a channel far over the limit is pruned over several passes. */
export const PRUNE_MAX_PER_CHANNEL = 1_000;

export class Retention {
  /** Messages inserted per channel since its last pruning. */
  private readonly since = new Map<string, number>();
  /** Channels whose oldest messages are due for pruning. */
  private readonly due = new Set<string>();

  constructor(readonly limit: number) {}

  private get every() {
    return Math.max(1, Math.floor(this.limit / 4));
  }

  /** Channels are due (the writer prunes before its next transaction). */
  get pending(): boolean {
    return this.due.size > 0;
  }

  /** After a commit: the messages it inserted, per channel. */
  counted(inserted: ReadonlyMap<string, number>) {
    if (this.limit <= 0) return;
    for (const [channel, n] of inserted) {
      const total = (this.since.get(channel) ?? 0) + n;
      if (total >= this.every) {
        this.due.add(channel);
        this.since.delete(channel);
      } else {
        this.since.set(channel, total);
      }
    }
  }

  /** The channels to prune now (no longer due once taken). */
  take(): string[] {
    const channels = [...this.due];
    this.due.clear();
    return channels;
  }

  /** A pruning deleted this many messages per channel: one that hit the cap is still over the limit, due again. */
  pruned(deletedPerChannel: ReadonlyMap<string, number>) {
    for (const [channel, n] of deletedPerChannel) if (n >= PRUNE_MAX_PER_CHANNEL) this.due.add(channel);
  }

  /** A pruning failed (database down): the channels become due with the next message they get. */
  failed(channels: readonly string[]) {
    for (const channel of channels) this.since.set(channel, this.every - 1);
  }
}
