/**
 * PostgreSQL `text` and `jsonb` reject the NUL character, which JSON allows (`\u0000`). Payloads are cleaned
 * as JSON text before parsing: every `\u0000` escape is removed (an escaped backslash before `u0000` is left
 * alone). Raw NUL bytes cannot appear inside JSON strings, so the escape is the only way in.
 */
const NUL_ESCAPE = /(\\+)u0000/gi;

export function stripNulEscapes(json: string): string {
  if (!json.includes('u0000') && !json.includes('U0000')) return json;
  return json.replace(NUL_ESCAPE, (match, slashes: string) =>
    slashes.length % 2 === 1 ? slashes.slice(0, -1) : match,
  );
}

/** Removes NUL characters from every string (keys included) of an already parsed value. */
export function stripNul<T>(value: T): T {
  if (typeof value === 'string') return (value.includes('\0') ? value.replaceAll('\0', '') : value) as T;
  if (Array.isArray(value)) return value.map(stripNul) as T;
  if (value !== null && typeof value === 'object') {
    // fromEntries defines own properties: a "__proto__" key stays a key (assignment would set the prototype).
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [stripNul(k), stripNul(v)])) as T;
  }
  return value;
}
