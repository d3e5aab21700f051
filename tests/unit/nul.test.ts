import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stripNulEscapes } from '../../src/discord/nul.js';

/** The model: every NUL removed from every string (keys included) of a parsed value. */
function stripNul<T>(value: T): T {
  if (typeof value === 'string') return value.replaceAll('\0', '') as T;
  if (Array.isArray(value)) return value.map(stripNul) as T;
  if (value !== null && typeof value === 'object') {
    // fromEntries defines own properties: a "__proto__" key stays a key.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [stripNul(k), stripNul(v)])) as T;
  }
  return value;
}

const BS = '\\'; // one backslash character

/** String units that exercise the escape logic: NUL, backslashes, the letters of "u0000", quotes, other text. */
const tricky = fc.oneof(
  fc.constantFrom('\0', BS, 'u', '0', '"', 'U', '\u0001'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);

function hasNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\0');
  if (Array.isArray(v)) return v.some(hasNul);
  if (v !== null && typeof v === 'object') return Object.entries(v).some(([k, x]) => k.includes('\0') || hasNul(x));
  return false;
}

describe('stripNulEscapes', () => {
  it('removes a \\u0000 escape inside a string', () => {
    const json = JSON.stringify({ content: 'a\0b' });
    expect(json).toBe(`{"content":"a${BS}u0000b"}`);
    expect(stripNulEscapes(json)).toBe('{"content":"ab"}');
  });

  it('removes every escape, including consecutive ones and ones in keys', () => {
    const json = JSON.stringify({ 'k\0ey': '\0\0x\0', other: ['\0'] });
    expect(stripNulEscapes(json)).toBe('{"key":"x","other":[""]}');
  });

  it('leaves an escaped backslash followed by the text u0000 alone', () => {
    // The JSON string value is the six characters \u0000 (a backslash, then "u0000"): not a NUL.
    const json = `{"content":"${BS}${BS}u0000"}`;
    expect(JSON.parse(json)).toEqual({ content: `${BS}u0000` });
    expect(stripNulEscapes(json)).toBe(json);
    expect(JSON.parse(stripNulEscapes(json))).toEqual({ content: `${BS}u0000` });
  });

  it('removes the escape after an escaped backslash (three backslashes), keeping the backslash', () => {
    const json = `{"content":"${BS}${BS}${BS}u0000"}`;
    expect(JSON.parse(json)).toEqual({ content: `${BS}\0` });
    expect(stripNulEscapes(json)).toBe(`{"content":"${BS}${BS}"}`);
    expect(JSON.parse(stripNulEscapes(json))).toEqual({ content: BS });
  });

  it('treats runs of backslashes by parity', () => {
    expect(stripNulEscapes(`"${BS.repeat(4)}u0000"`)).toBe(`"${BS.repeat(4)}u0000"`);
    expect(stripNulEscapes(`"${BS.repeat(5)}u0000"`)).toBe(`"${BS.repeat(4)}"`);
  });

  it('leaves other escapes and the text u0000 without a backslash alone', () => {
    const json = `{"a":"u0000","b":"${BS}u0001","c":"${BS}u00000","d":"${BS}"${BS}u0000"}`;
    expect(stripNulEscapes(json)).toBe(`{"a":"u0000","b":"${BS}u0001","c":"0","d":"${BS}""}`);
    expect(JSON.parse(stripNulEscapes(json))).toEqual({ a: 'u0000', b: '\u0001', c: '0', d: '"' });
  });

  it('returns the very same string when there is nothing to strip', () => {
    const json = '{"id":"900000000000000008","content":"hello"}';
    expect(stripNulEscapes(json)).toBe(json);
  });

  it('always yields valid JSON equal to the input with NULs removed (strings)', () => {
    fc.assert(
      fc.property(fc.string({ unit: tricky }), (s) => {
        const parsed = JSON.parse(stripNulEscapes(JSON.stringify(s))) as string;
        expect(parsed).toBe(s.replaceAll('\0', ''));
        expect(parsed.includes('\0')).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('always yields valid JSON without NUL for arbitrary JSON values (keys included)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: tricky }), (v) => {
        const parsed: unknown = JSON.parse(stripNulEscapes(JSON.stringify(v)));
        expect(hasNul(parsed)).toBe(false);
        // JSON itself turns -0 into 0: compare with what JSON can carry.
        expect(parsed).toEqual(JSON.parse(JSON.stringify(stripNul(v))));
      }),
      { numRuns: 300 },
    );
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: tricky }), (v) => {
        const once = stripNulEscapes(JSON.stringify(v));
        expect(stripNulEscapes(once)).toBe(once);
      }),
    );
  });
});

describe('stripNul', () => {
  it('removes NUL from strings, array elements, object values and keys', () => {
    expect(stripNul('a\0b\0')).toBe('ab');
    expect(stripNul(['\0x', 1, null, true])).toEqual(['x', 1, null, true]);
    expect(stripNul({ 'k\0': { nested: ['v\0'] } })).toEqual({ k: { nested: ['v'] } });
  });

  it('keeps a "__proto__" key as an own key (JSON.parse makes it one) instead of setting the prototype', () => {
    const parsed = JSON.parse('{"__proto__":{"x":"a\\u0000"},"y":"b\\u0000"}') as Record<string, unknown>;
    const out = stripNul(parsed);
    expect(Object.keys(out)).toEqual(['__proto__', 'y']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"x":"a"},"y":"b"}');
  });

  it('keeps non-string scalars as they are', () => {
    expect(stripNul(42)).toBe(42);
    expect(stripNul(null)).toBe(null);
    expect(stripNul(false)).toBe(false);
    expect(stripNul(undefined)).toBe(undefined);
  });

  it('returns the same string instance when there is no NUL', () => {
    const s = 'no nul here';
    expect(stripNul(s)).toBe(s);
  });

  it('does not mutate its input', () => {
    const input = { a: ['x\0'], 'b\0': 'y' };
    const copy = structuredClone(input);
    stripNul(input);
    expect(input).toEqual(copy);
  });

  it('never leaves a NUL anywhere', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: tricky }), (v) => {
        const out = stripNul(v);
        expect(hasNul(out)).toBe(false);
        // Only NULs go: with none in the input, the output is equal.
        if (!hasNul(v)) expect(out).toEqual(v);
      }),
    );
  });
});
