import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSnowflake, shardOf } from '../../src/discord/snowflake.js';

const MAX = 9223372036854775807n;

describe('isSnowflake', () => {
  it.each([
    '0',
    '1',
    '900000000000000008',
    '175928847299117063',
    '9223372036854775807', // 2^63 - 1, the largest bigint
    '0',
  ])('accepts the decimal string %s', (v) => {
    expect(isSnowflake(v)).toBe(true);
  });

  it.each([
    ['2^63', '9223372036854775808'],
    ['20 digits above 2^63', '10000000000000000000'],
    ['the largest 20-digit number', '99999999999999999999'],
    ['21 digits', '100000000000000000001'],
    ['a leading zero (not canonical: 0042 would be stored as 42)', '00000000000000000042'],
    ['a leading zero, 20 digits below 2^63', '09223372036854775807'],
    ['zeros', '00'],
    ['empty', ''],
    ['negative', '-1'],
    ['plus sign', '+1'],
    ['leading space', ' 1'],
    ['trailing newline', '1\n'],
    ['decimal point', '1.0'],
    ['exponent', '1e3'],
    ['hex', '0x10'],
    ['non-ASCII digits', '١٢٣'],
    ['letters', 'abc'],
  ])('rejects %s', (_label, v) => {
    expect(isSnowflake(v)).toBe(false);
  });

  it.each([
    ['a number', 900000000000000008],
    ['a small number', 1],
    ['a bigint', 900000000000000008n],
    ['null', null],
    ['undefined', undefined],
    ['an array', ['1']],
    ['an object', { id: '1' }],
    ['a boolean', true],
  ])('rejects %s (only strings are snowflakes)', (_label, v) => {
    expect(isSnowflake(v)).toBe(false);
  });

  it('accepts exactly the canonical digit strings of at most 20 digits whose value is below 2^63', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{1,20}$/), (s) => {
        expect(isSnowflake(s)).toBe(BigInt(s) <= MAX && BigInt(s).toString() === s);
      }),
    );
  });

  it('accepts every bigint in [0, 2^63) written in decimal', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX }), (n) => {
        expect(isSnowflake(n.toString())).toBe(true);
      }),
    );
  });

  it('rejects every bigint in [2^63, 10^20) written in decimal', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: MAX + 1n, max: 10n ** 20n - 1n }), (n) => {
        expect(isSnowflake(n.toString())).toBe(false);
      }),
    );
  });

  it('rejects any string holding a non-digit', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }).filter((s) => /\D/.test(s)), fc.string(), (a, bad, b) => {
        expect(isSnowflake(`${a}${bad}${b}`)).toBe(false);
      }),
    );
  });
});

describe('shardOf', () => {
  it("follows Discord's formula (guild_id >> 22) % num_shards", () => {
    // Discord's documented example id: its timestamp part is 41944705796.
    expect(shardOf('175928847299117063', 1)).toBe(0);
    expect(shardOf('175928847299117063', 16)).toBe(4);
    expect(shardOf('175928847299117063', 3)).toBe(41944705796 % 3);
    expect(shardOf('900000000000000008', 7)).toBe(Number((900000000000000008n >> 22n) % 7n));
  });

  it('puts every id below 2^22 on shard 0 (only the timestamp bits count)', () => {
    expect(shardOf('4194303', 5)).toBe(0);
    expect(shardOf('4194304', 5)).toBe(1);
    expect(shardOf('0', 2)).toBe(0);
  });

  it('works above 2^53 without precision loss', () => {
    // 2^62 + 2^22 - 1 rounds up to 2^62 + 2^22 as a double, which would move it to the next shard.
    const id = 2n ** 62n + 2n ** 22n - 1n;
    expect(Number(id)).toBe(2 ** 62 + 2 ** 22);
    expect(shardOf(id.toString(), 2)).toBe(0);
    expect(shardOf((id + 1n).toString(), 2)).toBe(1);
  });

  it('always returns an integer in [0, num_shards)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX }), fc.integer({ min: 1, max: 4096 }), (id, n) => {
        const shard = shardOf(id.toString(), n);
        expect(Number.isInteger(shard)).toBe(true);
        expect(shard).toBeGreaterThanOrEqual(0);
        expect(shard).toBeLessThan(n);
        expect(shard).toBe(Number((id >> 22n) % BigInt(n)));
      }),
    );
  });
});
