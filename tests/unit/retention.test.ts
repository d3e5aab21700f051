/** Message retention's bookkeeping (src/cache/retention.ts): which channels are due for pruning, and when. */
import { describe, expect, it } from 'vitest';
import { PRUNE_MAX_PER_CHANNEL, Retention } from '../../src/cache/retention.js';

const counts = (entries: Record<string, number>) => new Map(Object.entries(entries));

describe('Retention', () => {
  it('a channel is due once it got limit / 4 new messages since its last pruning, counted across commits', () => {
    const r = new Retention(200); // due every 50
    r.counted(counts({ a: 30, b: 49 }));
    expect(r.pending).toBe(false);
    r.counted(counts({ a: 19 }));
    expect(r.pending).toBe(false); // a: 49
    r.counted(counts({ a: 1 }));
    expect(r.pending).toBe(true); // a: 50
    expect(r.take()).toEqual(['a']);
    expect(r.pending).toBe(false);
    expect(r.take()).toEqual([]);
  });

  it('counting starts over once a channel is due; other channels keep their counts', () => {
    const r = new Retention(8); // due every 2
    r.counted(counts({ a: 1, b: 1 }));
    r.counted(counts({ a: 1 }));
    expect(r.take()).toEqual(['a']);
    r.counted(counts({ a: 1 }));
    expect(r.pending).toBe(false); // a started over at 0
    r.counted(counts({ a: 5 }));
    expect(r.take()).toEqual(['a']);
    r.counted(counts({ a: 1 }));
    expect(r.pending).toBe(false); // what went beyond the threshold is not carried over
    r.counted(counts({ a: 1, b: 1 }));
    expect(r.take().sort()).toEqual(['a', 'b']);
  });

  it('a limit under 4 prunes after every message; limit 0 (keep all) never prunes', () => {
    for (const limit of [1, 2, 3]) {
      const r = new Retention(limit);
      r.counted(counts({ a: 1 }));
      expect(r.take(), `limit ${limit}`).toEqual(['a']);
    }
    const all = new Retention(0);
    all.counted(counts({ a: 1_000_000 }));
    expect(all.pending).toBe(false);
    expect(all.take()).toEqual([]);
  });

  it('a pruning that hit the per-channel cap leaves the channel due again; one under the cap does not', () => {
    const r = new Retention(4);
    r.pruned(counts({ a: PRUNE_MAX_PER_CHANNEL, b: PRUNE_MAX_PER_CHANNEL - 1, c: 0 }));
    expect(r.take()).toEqual(['a']);
    expect(r.pending).toBe(false);
  });

  it('a failed pruning makes its channels due with their next message, not before', () => {
    const r = new Retention(200);
    r.counted(counts({ a: 50, b: 50 }));
    const taken = r.take();
    expect(taken.sort()).toEqual(['a', 'b']);
    r.failed(taken);
    expect(r.pending).toBe(false);
    r.counted(counts({ a: 1 }));
    expect(r.take()).toEqual(['a']);
    r.counted(counts({ b: 1 }));
    expect(r.take()).toEqual(['b']);
  });
});
