/** Exactly once per shard (cache/sequence.ts): which sequence numbers are new, whatever the order they come in. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WINDOW, admit, type ShardState } from '../../src/cache/sequence.js';

/** Feeds `seqs` through `admit`; returns the numbers accepted, in order. */
function run(seqs: number[], start?: ShardState): { accepted: number[]; state: ShardState | undefined } {
  let state = start;
  const accepted: number[] = [];
  for (const s of seqs) {
    const next = admit(state, s, undefined);
    if (next) {
      accepted.push(s);
      state = next;
    }
  }
  return { accepted, state };
}

describe('admit', () => {
  it('in order: every number once; a replay of any of them is a duplicate', () => {
    const { accepted, state } = run([1, 2, 3, 4, 5]);
    expect(accepted).toEqual([1, 2, 3, 4, 5]);
    expect(state).toMatchObject({ last: 5, applied: 5 });
    for (const s of [1, 3, 5]) expect(admit(state, s, undefined)).toBeUndefined();
  });

  it('out of order and with gaps (events never forwarded): late numbers still apply once', () => {
    const { accepted } = run([1, 4, 2, 6, 4, 3, 2, 9, 5, 6, 7]);
    expect(accepted).toEqual([1, 4, 2, 6, 3, 9, 5, 7]);
  });

  it('a number older than the window is a duplicate', () => {
    const { state } = run([1, WINDOW + 10]);
    expect(admit(state, 5, undefined)).toBeUndefined();
    expect(admit(state, WINDOW + 9, undefined)).toBeDefined();
  });

  it('READY with a new session starts over; the same session is a duplicate like any event', () => {
    const { state } = run([1, 2, 3]);
    const ready = admit(state, 1, 'new');
    expect(ready).toMatchObject({ session: 'new', last: 1, applied: 4 });
    expect(admit(ready, 1, 'new')).toBeUndefined();
    expect(admit(ready, 2, undefined)).toMatchObject({ last: 2 });
  });

  it('property: any interleaving of a stream reordered by less than the window, with replays, applies each number exactly once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.nat(), { maxLength: 400 }),
        fc.array(fc.nat(), { maxLength: 50 }),
        (n, swaps, drops) => {
          const stream = Array.from({ length: n }, (_, i) => i + 1);
          // Local reordering (as several requests in flight do), well within the window.
          for (const x of swaps) {
            const i = x % n;
            const j = Math.min(n - 1, i + (x % 50));
            [stream[i], stream[j]] = [stream[j]!, stream[i]!];
          }
          const dropped = new Set(drops.map((d) => (d % n) + 1));
          const sent = stream.filter((s) => !dropped.has(s));
          // Each batch of 7 is sent again right after (answers lost).
          const withReplays = sent.flatMap((s, i) => (i % 7 === 6 ? [s, ...sent.slice(i - 6, i + 1)] : [s]));
          const { accepted } = run(withReplays);
          expect([...accepted].sort((a, b) => a - b)).toEqual([...sent].sort((a, b) => a - b));
        },
      ),
    );
  });
});
