/**
 * `discord-state-cache replay FILE|-`: recorded gateway traffic (NDJSON of gateway payloads or
 * `{ payload, shardId }` forwards, gzip or not) sent through the typed client, in file order, to a running
 * service, or into a database through the service built in this process on an ephemeral loopback port: both
 * targets take the same path (the client, HTTP, the writer), so a replay ends in the state the live events
 * would have left.
 */
import { CacheClient, CacheError, type DispatchPacket } from '../client/index.js';
import { loadConfig } from '../config.js';
import { buildApp } from '../http/app.js';
import { openDatabase } from '../server.js';
import { CliError, EXIT } from './exit-codes.js';
import { openNdjson, type NdjsonInput } from './input.js';
import { Progress, type ProgressMode } from './progress.js';

/**
 * Events sent and not yet committed, at most: the client's own bound (`maxQueued`), so the file is read no
 * faster than the service commits and a replay holds at most this many serialised events in memory.
 */
const WINDOW = 10_000;

/**
 * The in-process service's body limit. A file holds whatever the gateway sent, a GUILD_CREATE of a large guild
 * included (52 MB for 100,000 members), and there is no other client to protect the process from.
 */
const IN_PROCESS_BODY_LIMIT = 1024 ** 3;

export interface InvalidLine {
  line: number;
  reason: string;
}

export interface ReplayOptions {
  skipInvalid: boolean;
  progress: Progress;
  /** Aborted: stop reading, deliver what was sent. */
  signal: AbortSignal;
  window?: number;
}

export interface ReplayResult {
  /** Lines read. */
  lines: number;
  /** Events committed. */
  events: number;
  /** Invalid lines (skipped, or the one that stopped the replay and any already sent after it), by line. */
  invalid: InvalidLine[];
  /** The last line handed to the client. */
  lastSent: number;
  interrupted: boolean;
}

function parseLine(text: string): { packet: DispatchPacket } | { reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { reason: `not JSON (${(err as Error).message})` };
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? { packet: value as DispatchPacket }
    : { reason: 'not a gateway payload nor a { payload, shardId } object' };
}

/** Sends every line of `input` through `client`, in order; returns once everything sent is settled. */
export async function replay(client: CacheClient, input: NdjsonInput, options: ReplayOptions): Promise<ReplayResult> {
  const window = options.window ?? WINDOW;
  let lines = 0;
  let lastSent = 0;
  let events = 0;
  let outstanding = 0;
  // Characters of the lines read and of those settled: with the bytes read from the file they give the share
  // done, so the bar does not reach 100% while the last window of events is still being committed.
  let charsRead = 0;
  let charsDone = 0;
  const invalid: InvalidLine[] = [];
  let fatal: unknown;
  let waiter: { below: number; resolve: () => void } | undefined;

  const waitBelow = (n: number) =>
    outstanding < n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { below: n, resolve }));
  const refuse = (line: number, reason: string) => {
    invalid.push({ line, reason });
    // Without --skip-invalid the summary names the line that stopped the replay.
    if (options.skipInvalid) options.progress.note(`line ${line} skipped: ${reason}`);
  };
  const stop = () => fatal !== undefined || options.signal.aborted || (!options.skipInvalid && invalid.length > 0);

  const onAbort = () => input.close();
  options.signal.addEventListener('abort', onAbort, { once: true });
  options.progress.start(() => ({
    events,
    fraction: input.totalBytes ? (input.bytesRead / input.totalBytes) * (charsRead > 0 ? charsDone / charsRead : 0) : undefined,
  }));
  try {
    for await (const text of input.lines()) {
      const line = ++lines;
      const size = text.length + 1;
      charsRead += size;
      if (text.trim() === '') {
        charsDone += size;
        continue;
      }
      const parsed = parseLine(text);
      if ('reason' in parsed) {
        charsDone += size;
        refuse(line, parsed.reason);
      } else {
        outstanding++;
        lastSent = line;
        client
          .dispatch(parsed.packet)
          .then(
            () => void events++,
            (err: unknown) => {
              // 400: the service names what is wrong with the event; 413: the event alone is over BODY_LIMIT.
              if (err instanceof CacheError && (err.statusCode === 400 || err.statusCode === 413)) {
                refuse(line, `rejected by the service (${err.statusCode}): ${err.message}`);
              } else {
                fatal ??= err;
              }
            },
          )
          .finally(() => {
            charsDone += size;
            outstanding--;
            if (waiter && outstanding < waiter.below) {
              const w = waiter;
              waiter = undefined;
              w.resolve();
            }
          });
        if (outstanding >= window) await waitBelow(window);
      }
      if (stop()) break;
    }
  } catch (err) {
    throw new CliError(`reading ${input.gzip ? 'the gzip input' : 'the input'} failed: ${(err as Error).message}`);
  } finally {
    void client.flush(); // sends the last partial batch now
    await waitBelow(1);
    options.progress.stop();
    options.signal.removeEventListener('abort', onAbort);
  }
  if (fatal !== undefined) throw fatal;
  invalid.sort((a, b) => a.line - b.line);
  return { lines, events, invalid, lastSent, interrupted: options.signal.aborted };
}

export interface ReplayCommandOptions {
  /** The running service (used unless `databaseUrl` or `dataDir` is given). */
  url: string;
  token: string | undefined;
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  migrate: boolean;
  skipInvalid: boolean;
  /** false: no progress output (`--no-progress`). */
  progress: boolean;
  /** Seconds between plain progress lines. */
  progressInterval: number;
}

interface Target {
  url: string;
  token: string | undefined;
  /** For the summary: where the events went. */
  description: string;
  close(): Promise<void>;
}

/** The running service at `--url`, or the service built here over `--database-url` / `--data-dir`. */
async function openTarget(options: ReplayCommandOptions, env: NodeJS.ProcessEnv): Promise<Target> {
  if (options.databaseUrl === undefined && options.dataDir === undefined) {
    return { url: options.url, token: options.token, description: options.url, close: async () => {} };
  }
  // The service's own settings (MESSAGE_LIMIT, DELETE_OFFLINE_PRESENCES, …) from the environment, so that the
  // state equals what the service would have made; what only concerns listening is fixed here.
  const config = loadConfig({
    ...env,
    HOST: '127.0.0.1',
    PORT: '0',
    CACHE_TOKEN: '',
    DATABASE_URL: options.databaseUrl ?? '',
    ...(options.dataDir !== undefined ? { DATA_DIR: options.dataDir } : {}),
    MIGRATE_ON_START: options.migrate ? 'true' : 'false',
  });
  const db = await openDatabase(config);
  try {
    const app = await buildApp({
      db,
      logLevel: 'error',
      bodyLimit: IN_PROCESS_BODY_LIMIT,
      messageLimit: config.messageLimit,
      queueLimit: config.queueLimit,
      deleteOfflinePresences: config.deleteOfflinePresences,
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return {
      url,
      token: undefined,
      description: db.kind === 'pglite' ? `the embedded database in ${config.dataDir}` : 'PostgreSQL',
      async close() {
        await app.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}

const count = (n: number) => n.toLocaleString('en-US');

function listLines(invalid: InvalidLine[], max = 20): string {
  const shown = invalid.slice(0, max).map((i) => count(i.line));
  return invalid.length > max ? `${shown.join(', ')} and ${count(invalid.length - max)} more` : shown.join(', ');
}

/** The command: returns the exit code (see exit-codes.ts). */
export async function replayCommand(file: string, options: ReplayCommandOptions, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let input: NdjsonInput;
  try {
    input = openNdjson(file);
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const mode: ProgressMode = !options.progress ? 'none' : process.stderr.isTTY ? 'bar' : 'lines';
  const progress = new Progress({ mode, label: 'replay', intervalMs: options.progressInterval * 1000, out: process.stderr });

  let target: Target;
  try {
    target = await openTarget(options, env);
  } catch (err) {
    input.close();
    throw err;
  }
  const client = new CacheClient({
    url: target.url,
    token: target.token,
    onRetry: ({ attempt, delayMs, error, events }) =>
      progress.note(
        `the service did not take ${events ?? 1} event(s) (${error.statusCode || 'no answer'}: ${error.message}); ` +
          `retry #${attempt} in ${Math.round(delayMs)} ms`,
      ),
  });

  const interruption = new AbortController();
  const onSigint = () => {
    if (interruption.signal.aborted) process.exit(EXIT.interrupted);
    progress.note('interrupted: delivering the events already sent (Ctrl-C again to quit at once)');
    interruption.abort();
  };
  process.on('SIGINT', onSigint);

  let result: ReplayResult;
  const started = performance.now();
  try {
    if (!(await client.ready())) {
      throw new CliError(`the service at ${target.url} is not ready (no answer, or /ready answered 503)`);
    }
    result = await replay(client, input, { skipInvalid: options.skipInvalid, progress, signal: interruption.signal });
  } finally {
    process.off('SIGINT', onSigint);
    input.close();
    await client.close({ timeoutMs: 10_000 });
    await target.close();
  }
  const seconds = (performance.now() - started) / 1000;

  const rate = seconds > 0 ? Math.round(result.events / seconds) : 0;
  console.log(
    `replayed ${count(result.events)} events from ${count(result.lines)} lines into ${target.description} ` +
      `in ${seconds.toFixed(1)} s (${count(rate)} events/s)`,
  );
  const [first, ...others] = result.invalid;
  if (!options.skipInvalid && first) {
    const report = [`stopped at line ${count(first.line)}: ${first.reason}`];
    if (result.lastSent > first.line) {
      const except = others.some((o) => o.line <= result.lastSent) ? ', except the invalid ones below' : '';
      report.push(`lines ${count(first.line + 1)}–${count(result.lastSent)} had already been sent: they are applied${except}`);
    }
    report.push(`nothing after line ${count(Math.max(first.line, result.lastSent))} was sent`);
    for (const o of others.slice(0, 20)) report.push(`line ${count(o.line)}: ${o.reason}`);
    if (others.length > 20) report.push(`and ${count(others.length - 20)} more invalid lines`);
    report.push('fix the line, or run again with --skip-invalid');
    console.error(report.join('\n  '));
    return EXIT.stoppedAtInvalidLine;
  }
  if (result.interrupted) {
    console.error(`interrupted after line ${count(result.lines)}: nothing after line ${count(result.lastSent)} was sent`);
    return EXIT.interrupted;
  }
  if (result.invalid.length > 0) {
    console.log(`skipped ${count(result.invalid.length)} invalid line(s): ${listLines(result.invalid)}`);
    return EXIT.skippedInvalidLines;
  }
  return EXIT.ok;
}
