/** NDJSON input of `replay`: lines from plain or gzip files (told by their first bytes), bytes counted. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { openNdjson } from '../../src/cli/input.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'dsc-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, content: string | Buffer) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

async function readAll(p: string) {
  const input = openNdjson(p);
  const lines: string[] = [];
  for await (const line of input.lines()) lines.push(line);
  return { lines, input };
}

describe('openNdjson', () => {
  // A line longer than a read chunk (256 KiB), with multi-byte characters cut by the chunk boundaries.
  const long = JSON.stringify({ t: 'GUILD_CREATE', d: { name: 'é✓'.repeat(200_000) } });
  const text = '\uFEFF{"a":1}\r\n\n' + long + '\n{"b":"ü"}\n{"last":true}';
  const expected = ['{"a":1}', '', long, '{"b":"ü"}', '{"last":true}'];

  it('plain: every line in order (empty ones kept for numbering), without BOM, \\r or \\n; bytes read = size', async () => {
    const p = file('plain.ndjson', text);
    const { lines, input } = await readAll(p);
    expect(lines).toEqual(expected);
    expect(input.gzip).toBe(false);
    expect(input.totalBytes).toBe(Buffer.byteLength(text));
    expect(input.bytesRead).toBe(input.totalBytes);
  });

  it('gzip by its magic bytes whatever the name; progress counts compressed bytes', async () => {
    const gz = gzipSync(text);
    const p = file('looks-plain.ndjson', gz);
    const { lines, input } = await readAll(p);
    expect(lines).toEqual(expected);
    expect(input.gzip).toBe(true);
    expect(input.totalBytes).toBe(gz.length);
    expect(input.bytesRead).toBe(gz.length);
  });

  it('a corrupt gzip stream is an error; a missing file fails at once', async () => {
    const gz = gzipSync(text);
    await expect(readAll(file('cut.gz', gz.subarray(0, gz.length >> 1)))).rejects.toThrow(/unexpected end of file/);
    expect(() => openNdjson(path.join(dir, 'missing.ndjson'))).toThrow(/ENOENT/);
    expect(() => openNdjson(dir)).toThrow(/is a directory/);
  });

  it('close() ends the lines early, without an error', async () => {
    const input = openNdjson(file('many.ndjson', '{"n":1}\n'.repeat(100_000)));
    let n = 0;
    for await (const _ of input.lines()) {
      if (++n === 10) input.close();
    }
    expect(n).toBe(10);
  });

  it('empty file: no lines', async () => {
    const { lines, input } = await readAll(file('empty.ndjson', ''));
    expect(lines).toEqual([]);
    expect(input.gzip).toBe(false);
  });
});
