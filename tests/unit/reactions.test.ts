import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ReactionOp } from '../../src/cache/changes.js';
import { applyReaction, emojiKey, type Reaction } from '../../src/cache/reactions.js';

const BOT = '10';
const THUMBS = { id: null, name: '👍' };
const CUSTOM = { id: '900', name: 'party', animated: false };

const add = (emoji: Record<string, unknown>, userId: string, burst = false): ReactionOp => ({ type: 'add', emoji, burst, userId });
const rm = (emoji: Record<string, unknown>, userId: string, burst = false): ReactionOp => ({
  type: 'remove',
  emoji,
  burst,
  userId,
});

const reaction = (emoji: Record<string, unknown>, normal: number, burst = 0, over: Partial<Reaction> = {}): Reaction => ({
  count: normal + burst,
  count_details: { burst, normal },
  me: false,
  me_burst: false,
  burst_colors: [],
  emoji,
  ...over,
});

describe('emojiKey', () => {
  it('identifies custom emojis by id and unicode emojis by name', () => {
    expect(emojiKey(CUSTOM)).toBe('id:900');
    expect(emojiKey({ id: '900', name: 'renamed' })).toBe('id:900');
    expect(emojiKey(THUMBS)).toBe('name:👍');
    expect(emojiKey({ name: '👍' })).toBe('name:👍');
  });
});

describe('applyReaction: add', () => {
  it('creates the first reaction with count 1', () => {
    for (const current of [null, undefined, []]) {
      expect(applyReaction(current, add(THUMBS, '200'), BOT)).toEqual([
        { count: 1, count_details: { burst: 0, normal: 1 }, me: false, me_burst: false, burst_colors: [], emoji: THUMBS },
      ]);
    }
  });

  it('increments an existing reaction of the same emoji, and appends a new emoji at the end', () => {
    let r = applyReaction([reaction(THUMBS, 2)], add(THUMBS, '200'), BOT);
    expect(r).toEqual([reaction(THUMBS, 3)]);
    r = applyReaction(r, add(CUSTOM, '200'), BOT);
    expect(r).toEqual([reaction(THUMBS, 3), reaction(CUSTOM, 1)]);
  });

  it('counts burst reactions apart', () => {
    expect(applyReaction([reaction(THUMBS, 2)], add(THUMBS, '200', true), BOT)).toEqual([reaction(THUMBS, 2, 1)]);
  });

  it('sets me for the bot user only, and me_burst for its burst reaction', () => {
    expect(applyReaction(null, add(THUMBS, BOT), BOT)[0]).toMatchObject({ me: true, me_burst: false });
    expect(applyReaction(null, add(THUMBS, BOT, true), BOT)[0]).toMatchObject({ me: false, me_burst: true });
    expect(applyReaction(null, add(THUMBS, '200'), BOT)[0]).toMatchObject({ me: false, me_burst: false });
  });

  it('never sets me when the bot user is unknown', () => {
    expect(applyReaction(null, add(THUMBS, BOT), undefined)[0]).toMatchObject({ me: false, me_burst: false });
  });

  it('keeps me set by an earlier reaction when someone else reacts', () => {
    expect(applyReaction([reaction(THUMBS, 1, 0, { me: true })], add(THUMBS, '200'), BOT)[0]).toMatchObject({
      count: 2,
      me: true,
    });
  });

  it('matches a custom emoji by id even if its name changed, keeping the cached emoji object', () => {
    const r = applyReaction([reaction(CUSTOM, 1)], add({ id: '900', name: 'renamed' }, '200'), BOT);
    expect(r).toEqual([reaction(CUSTOM, 2)]);
  });

  it('fills count_details for cached reactions that lack them (all normal)', () => {
    const legacy = { count: 4, me: false, me_burst: false, burst_colors: [], emoji: THUMBS } as unknown as Reaction;
    expect(applyReaction([legacy], add(THUMBS, '200', true), BOT)).toEqual([reaction(THUMBS, 4, 1)]);
  });

  it('keeps burst_colors', () => {
    const r = applyReaction([reaction(THUMBS, 0, 1, { burst_colors: ['#ff0000'] })], add(THUMBS, '200', true), BOT);
    expect(r[0]!.burst_colors).toEqual(['#ff0000']);
  });
});

describe('applyReaction: remove', () => {
  it('decrements the count of that kind', () => {
    expect(applyReaction([reaction(THUMBS, 2, 1)], rm(THUMBS, '200'), BOT)).toEqual([reaction(THUMBS, 1, 1)]);
    expect(applyReaction([reaction(THUMBS, 2, 1)], rm(THUMBS, '200', true), BOT)).toEqual([reaction(THUMBS, 2, 0)]);
  });

  it('removes the entry when its count reaches 0', () => {
    expect(applyReaction([reaction(THUMBS, 1), reaction(CUSTOM, 1)], rm(THUMBS, '200'), BOT)).toEqual([reaction(CUSTOM, 1)]);
    expect(applyReaction([reaction(THUMBS, 1)], rm(THUMBS, '200'), BOT)).toEqual([]);
  });

  it('removes an entry already at count 0 without going negative', () => {
    const zero = reaction(THUMBS, 0);
    expect(applyReaction([zero, reaction(CUSTOM, 1)], rm(THUMBS, '200'), BOT)).toEqual([reaction(CUSTOM, 1)]);
  });

  it('never makes a detail count negative, and keeps count = burst + normal', () => {
    // A burst removal when no burst was counted (missed events): nothing to take away.
    expect(applyReaction([reaction(THUMBS, 2)], rm(THUMBS, '200', true), BOT)).toEqual([reaction(THUMBS, 2)]);
  });

  it('clears me / me_burst when the bot removes its reaction', () => {
    const mine = reaction(THUMBS, 2, 1, { me: true, me_burst: true });
    expect(applyReaction([mine], rm(THUMBS, BOT), BOT)[0]).toMatchObject({ count: 2, me: false, me_burst: true });
    expect(applyReaction([mine], rm(THUMBS, BOT, true), BOT)[0]).toMatchObject({ count: 2, me: true, me_burst: false });
    expect(applyReaction([mine], rm(THUMBS, '200'), BOT)[0]).toMatchObject({ me: true, me_burst: true });
  });

  it('leaves the reactions alone when the emoji is not there', () => {
    expect(applyReaction([reaction(CUSTOM, 1)], rm(THUMBS, '200'), BOT)).toEqual([reaction(CUSTOM, 1)]);
    expect(applyReaction(null, rm(THUMBS, '200'), BOT)).toEqual([]);
  });
});

describe('applyReaction: removeAll / removeEmoji', () => {
  it('removeAll empties the list', () => {
    expect(applyReaction([reaction(THUMBS, 3), reaction(CUSTOM, 1)], { type: 'removeAll' }, BOT)).toEqual([]);
    expect(applyReaction(null, { type: 'removeAll' }, BOT)).toEqual([]);
  });

  it('removeEmoji drops that emoji only, whatever its count', () => {
    expect(
      applyReaction([reaction(THUMBS, 3, 2), reaction(CUSTOM, 1)], { type: 'removeEmoji', emoji: { id: '900', name: 'x' } }, BOT),
    ).toEqual([reaction(THUMBS, 3, 2)]);
    expect(applyReaction([reaction(THUMBS, 3), reaction(CUSTOM, 1)], { type: 'removeEmoji', emoji: { name: '👍' } }, BOT)).toEqual([
      reaction(CUSTOM, 1),
    ]);
  });

  it('removeEmoji of an absent emoji changes nothing', () => {
    expect(applyReaction([reaction(CUSTOM, 1)], { type: 'removeEmoji', emoji: THUMBS }, BOT)).toEqual([reaction(CUSTOM, 1)]);
  });
});

describe('applyReaction: purity', () => {
  it('does not mutate the current array or its reactions', () => {
    const current = [reaction(THUMBS, 1, 1, { me: true }), reaction(CUSTOM, 1)];
    const copy = structuredClone(current);
    applyReaction(current, add(THUMBS, BOT, true), BOT);
    applyReaction(current, rm(THUMBS, BOT), BOT);
    applyReaction(current, rm(CUSTOM, '200'), BOT);
    applyReaction(current, { type: 'removeEmoji', emoji: THUMBS }, BOT);
    expect(current).toEqual(copy);
  });
});

// ---- properties ----

const USERS = ['10', '200', '201', '202'];
const EMOJIS: Record<string, unknown>[] = [THUMBS, { id: null, name: '🎉' }, CUSTOM, { id: '901', name: 'other' }];
const emojiArb = fc.constantFrom(...EMOJIS);
const userArb = fc.constantFrom(...USERS);

/** Reactions as Discord would cache them: counts ≥ 1, details adding up, one entry per emoji. */
const reactionsArb = fc
  .uniqueArray(
    fc.record({
      emoji: emojiArb,
      normal: fc.nat({ max: 5 }),
      burst: fc.nat({ max: 5 }),
      me: fc.boolean(),
      me_burst: fc.boolean(),
    }),
    { selector: (r) => emojiKey(r.emoji), maxLength: 4 },
  )
  .map((rs) =>
    rs
      .filter((r) => r.normal + r.burst > 0)
      .map((r) => reaction(r.emoji, r.normal, r.burst, { me: r.me, me_burst: r.me_burst })),
  );

const counts = (rs: Reaction[]) =>
  rs.map((r) => ({ key: emojiKey(r.emoji), count: r.count, burst: r.count_details.burst, normal: r.count_details.normal }));

describe('applyReaction: properties', () => {
  it('add then remove of the same reaction restores the counts', () => {
    fc.assert(
      fc.property(reactionsArb, emojiArb, userArb, fc.boolean(), (current, emoji, userId, burst) => {
        const after = applyReaction(applyReaction(current, add(emoji, userId, burst), BOT), rm(emoji, userId, burst), BOT);
        expect(counts(after)).toEqual(counts(current));
      }),
    );
  });

  it("add then remove by someone else than the bot restores the reactions exactly", () => {
    fc.assert(
      fc.property(reactionsArb, emojiArb, fc.constantFrom('200', '201'), fc.boolean(), (current, emoji, userId, burst) => {
        const after = applyReaction(applyReaction(current, add(emoji, userId, burst), BOT), rm(emoji, userId, burst), BOT);
        expect(after).toEqual(current);
      }),
    );
  });

  it('every entry keeps count ≥ 1 and emojis stay unique, whatever the ops', () => {
    const opArb: fc.Arbitrary<ReactionOp> = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(emojiArb, userArb, fc.boolean()).map(([e, u, b]) => add(e, u, b)) },
      { weight: 3, arbitrary: fc.tuple(emojiArb, userArb, fc.boolean()).map(([e, u, b]) => rm(e, u, b)) },
      { weight: 1, arbitrary: emojiArb.map((emoji): ReactionOp => ({ type: 'removeEmoji', emoji })) },
      { weight: 1, arbitrary: fc.constant<ReactionOp>({ type: 'removeAll' }) },
    );
    fc.assert(
      fc.property(reactionsArb, fc.array(opArb, { maxLength: 30 }), (current, ops) => {
        const result = ops.reduce<Reaction[]>((rs, op) => applyReaction(rs, op, BOT), current);
        for (const r of result) {
          expect(r.count).toBeGreaterThanOrEqual(1);
          expect(r.count_details.burst).toBeGreaterThanOrEqual(0);
          expect(r.count_details.normal).toBeGreaterThanOrEqual(0);
        }
        const keys = result.map((r) => emojiKey(r.emoji));
        expect(new Set(keys).size).toBe(keys.length);
      }),
    );
  });

  it('matches a model of who reacted with what, for consistent event sequences', () => {
    // Each step toggles one (emoji, user, burst) reaction, or clears an emoji / everything, as Discord would.
    const stepArb = fc.oneof(
      { weight: 8, arbitrary: fc.tuple(fc.nat({ max: EMOJIS.length - 1 }), userArb, fc.boolean()).map(([e, u, b]) => ({ t: 'toggle' as const, e, u, b })) },
      { weight: 1, arbitrary: fc.nat({ max: EMOJIS.length - 1 }).map((e) => ({ t: 'clearEmoji' as const, e })) },
      { weight: 1, arbitrary: fc.constant({ t: 'clearAll' as const }) },
    );
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
        // model: emoji index → set of "user:burst", in first-reaction order
        const model = new Map<number, Set<string>>();
        let actual: Reaction[] = [];
        for (const s of steps) {
          if (s.t === 'clearAll') {
            model.clear();
            actual = applyReaction(actual, { type: 'removeAll' }, BOT);
          } else if (s.t === 'clearEmoji') {
            model.delete(s.e);
            actual = applyReaction(actual, { type: 'removeEmoji', emoji: EMOJIS[s.e]! }, BOT);
          } else {
            const who = `${s.u}:${s.b}`;
            const set = model.get(s.e) ?? new Set<string>();
            if (set.has(who)) {
              set.delete(who);
              if (set.size === 0) model.delete(s.e);
              actual = applyReaction(actual, rm(EMOJIS[s.e]!, s.u, s.b), BOT);
            } else {
              set.add(who);
              model.set(s.e, set);
              actual = applyReaction(actual, add(EMOJIS[s.e]!, s.u, s.b), BOT);
            }
          }
        }
        const expected = [...model].map(([e, set]) => {
          const burst = [...set].filter((w) => w.endsWith(':true')).length;
          return {
            count: set.size,
            count_details: { burst, normal: set.size - burst },
            me: set.has(`${BOT}:false`),
            me_burst: set.has(`${BOT}:true`),
            burst_colors: [],
            emoji: EMOJIS[e],
          };
        });
        expect(actual).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('applyReaction: total over whatever is stored', () => {
  const add: ReactionOp = { type: 'add', emoji: { id: null, name: '👍' }, burst: false, userId: '1' };
  it.each([[[null]], ['x'], [{ a: 1 }], [[{ emoji: null }]], [[{ emoji: { name: '👍' }, count: 'x' }]], [5], [[['nested']]]])(
    'adds onto stored %j without throwing',
    (stored) => {
      const out = applyReaction(stored, add);
      expect(out.find((x) => x.emoji.name === '👍')?.count).toBeGreaterThanOrEqual(1);
    },
  );
  it('never throws for any stored JSON and any op', () => {
    const ops: ReactionOp[] = [
      add,
      { type: 'remove', emoji: { id: null, name: '👍' }, burst: true, userId: '1' },
      { type: 'removeEmoji', emoji: { id: '5', name: 'x' } },
      { type: 'removeAll' },
    ];
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(...ops), (stored, op) => {
        const out = applyReaction(stored, op, '1');
        expect(out.every((x) => x.count >= 0 && typeof x.emoji === 'object')).toBe(true);
      }),
    );
  });
});
