/** Pure role editing (cache/roles.ts): order kept, and total over whatever is stored in `guilds.roles`. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { putRole, removeRole } from '../../src/cache/roles.js';

const r = (id: string, name = id) => ({ id, name, permissions: '0' });

describe('putRole', () => {
  it('replaces the role in place, or appends it', () => {
    expect(putRole([r('1'), r('2'), r('3')], r('2', 'new'))).toEqual([r('1'), r('2', 'new'), r('3')]);
    expect(putRole([r('1')], r('2'))).toEqual([r('1'), r('2')]);
    expect(putRole([], r('2'))).toEqual([r('2')]);
  });
  it('keeps one role per id (a duplicate stored earlier goes)', () => {
    expect(putRole([r('1'), r('2', 'a'), r('3'), r('2', 'b')], r('2', 'new'))).toEqual([r('1'), r('2', 'new'), r('3')]);
  });
  it.each([[null], ['x'], [5], [{}], [[null, 'x', 5, r('1')]]])('is total over stored %j', (stored) => {
    const out = putRole(stored, r('2'));
    expect(out.at(-1)).toEqual(r('2'));
    expect(out.every((x) => typeof x === 'object' && x !== null)).toBe(true);
  });
});

describe('removeRole', () => {
  it('removes every role with the id', () => {
    expect(removeRole([r('1'), r('2'), r('2')], '2')).toEqual([r('1')]);
  });
  it('never throws, whatever is stored', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (stored) => {
        expect(Array.isArray(removeRole(stored, '1'))).toBe(true);
        expect(putRole(stored, r('1')).filter((x) => x.id === '1')).toEqual([r('1')]);
      }),
    );
  });
});
