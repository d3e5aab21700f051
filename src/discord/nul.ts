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
