/**
 * NDJSON input of `replay`: a file or standard input, gzip-compressed or not (told by its first two bytes,
 * 1f 8b, whatever the file is called), read as lines. Counts the bytes read from the file itself (compressed
 * bytes for gzip), which against the file's size tells how far the replay is.
 */
import { createReadStream, fstatSync, statSync } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';

export interface NdjsonInput {
  /** The file's size in bytes (compressed for gzip), when known: a regular file, or one redirected to stdin. */
  readonly totalBytes: number | undefined;
  /** Bytes read from the file so far. */
  readonly bytesRead: number;
  /** Known once `lines()` has read the first bytes. */
  readonly gzip: boolean;
  /** Every line, empty ones included (so that their count is the line number), without `\n` or `\r\n`. */
  lines(): AsyncGenerator<string, void, undefined>;
  /** Stops reading: `lines()` ends. */
  close(): void;
}

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** Opens `file`, or standard input for `-`. Throws at once when the file cannot be read. */
export function openNdjson(file: string): NdjsonInput {
  let raw: Readable;
  let totalBytes: number | undefined;
  if (file === '-') {
    raw = process.stdin;
    const st = fstatSync(0);
    totalBytes = st.isFile() ? st.size : undefined;
  } else {
    const st = statSync(file);
    if (st.isDirectory()) throw new Error(`${file} is a directory`);
    totalBytes = st.isFile() ? st.size : undefined;
    raw = createReadStream(file, { highWaterMark: 256 * 1024 });
  }

  let bytesRead = 0;
  let gzip = false;
  let closed = false;

  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of raw as AsyncIterable<Buffer>) {
      bytesRead += chunk.length;
      yield chunk;
    }
  }

  /** The decoded bytes: the first chunks are looked at for the gzip magic, then passed on. */
  async function* decoded(): AsyncGenerator<Buffer> {
    const source = counted();
    const head: Buffer[] = [];
    let headBytes = 0;
    while (headBytes < GZIP_MAGIC.length) {
      const next = await source.next();
      if (next.done) break;
      head.push(next.value);
      headBytes += next.value.length;
    }
    const first = Buffer.concat(head);
    gzip = first.length >= 2 && first[0] === GZIP_MAGIC[0] && first[1] === GZIP_MAGIC[1];
    async function* all(): AsyncGenerator<Buffer> {
      if (first.length > 0) yield first;
      yield* source;
    }
    if (!gzip) return yield* all();
    // pipeline(): an error of the file (or a corrupt stream) ends the iteration below with that error.
    const gunzip = pipeline(Readable.from(all()), createGunzip(), () => {});
    yield* gunzip as AsyncIterable<Buffer>;
  }

  return {
    totalBytes,
    get bytesRead() {
      return bytesRead;
    },
    get gzip() {
      return gzip;
    },
    async *lines() {
      const decoder = new StringDecoder('utf8');
      let partial: string[] = [];
      let first = true;
      const finish = (line: string) => {
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (first) {
          first = false;
          if (line.startsWith('\uFEFF')) line = line.slice(1); // a byte order mark is not part of the JSON
        }
        return line;
      };
      try {
        for await (const chunk of decoded()) {
          if (closed) return;
          const text = decoder.write(chunk);
          let start = 0;
          for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
            const piece = text.slice(start, nl);
            const line = partial.length > 0 ? partial.join('') + piece : piece;
            partial = [];
            start = nl + 1;
            yield finish(line);
            if (closed) return;
          }
          if (start < text.length) partial.push(text.slice(start));
        }
      } catch (err) {
        if (closed) return; // close() cut the stream short: a premature close, as asked
        throw err;
      }
      const rest = partial.join('') + decoder.end();
      if (rest !== '') yield finish(rest);
    },
    close() {
      closed = true;
      raw.destroy();
    },
  };
}
