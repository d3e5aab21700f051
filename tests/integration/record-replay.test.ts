/**
 * The client's `record` option and the round trip it exists for: traffic recorded while it is sent live,
 * replayed by `discord-state-cache replay` into an empty database, ends in the same state (every table).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventGen, guildCreate } from '../../bench/payloads.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { CacheClient, CacheError, type DispatchPacket } from '../../src/client/index.js';
import { openPostgres } from '../../src/db/connect.js';
import type { AppOptions, FastifyInstance } from '../../src/http/app.js';
import { makeApp } from '../helpers/app.js';
import { root, runCli } from '../helpers/cli.js';
import { createEmptyDatabase, createPostgres, type TestDatabase } from '../helpers/db.js';
import { snapshot } from '../helpers/snapshot.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'dsc-record-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A live service over a fresh PostgreSQL database, on an ephemeral loopback port. */
async function liveService(options: Partial<AppOptions> = {}) {
  const pgdb = await createPostgres();
  const app: FastifyInstance = await makeApp(pgdb.db, options);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    db: pgdb.db,
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    async close() {
      await app.close();
      await pgdb.close();
    },
  };
}

const readLines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);

/** Replays `file` into an empty database with the CLI and returns that database's snapshot. */
async function replayIntoEmpty(file: string, extra: string[] = [], env: Record<string, string> = {}) {
  const target: TestDatabase = await createEmptyDatabase();
  try {
    const run = await runCli(['replay', file, '--database-url', target.url, '--migrate', ...(extra.some((a) => a.startsWith('--progress')) ? [] : ['--no-progress']), ...extra], env);
    const db = await openPostgres({ url: target.url });
    try {
      return { run, state: await snapshot(db) };
    } finally {
      await db.close();
    }
  } finally {
    await target.drop();
  }
}

describe('record → replay round trip', () => {
  it('through examples/event-handler.ts (RECORD_FILE): the replayed cache equals the live one', async () => {
    const live = await liveService();
    try {
      const file = path.join(dir, 'example.ndjson');
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/event-handler.ts'], {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', CACHE_URL: live.url, RECORD_FILE: file },
        timeout: 60_000,
      });
      expect(stdout).toContain('dry run done');
      // The gateway worker's forwards, as the example received them, in order.
      const recorded = readLines(file) as { payload: { t: string }; shardId: number }[];
      expect(recorded.map((r) => [r.payload.t, r.shardId])).toEqual([
        ['GUILD_CREATE', 0],
        ['MESSAGE_CREATE', 0],
      ]);

      const liveState = await snapshot(live.db);
      expect(liveState.messages).toHaveLength(1);
      const { run, state } = await replayIntoEmpty(file);
      expect(run.code, run.stderr).toBe(EXIT.ok);
      expect(state).toEqual(liveState);
    } finally {
      await live.close();
    }
  });

  it('through the client: every dispatched packet in call order, a rejected one included; replay skips it; same state', async () => {
    const live = await liveService();
    const file = path.join(dir, 'client.ndjson');
    try {
      const guilds = Array.from({ length: 4 }, (_, g) =>
        guildCreate({ guild: g, channels: 5, roles: 5, memberUsers: Array.from({ length: 50 }, (_, i) => g * 50 + i), seed: g }),
      );
      const gen = new EventGen({ seed: 7, messageSeqStart: 0, space: { guilds: 4, users: 200, channelsPerGuild: 5, rolesPerGuild: 5 } });
      const packets: DispatchPacket[] = [...guilds.map((payload) => ({ payload, shardId: 0 })), ...gen.take(1500)] as never;
      const bad = 700;
      packets.splice(bad, 0, { op: 0, t: 'GUILD_MEMBER_ADD', s: 1, d: { guild_id: 'x', user: { id: '1' } } } as never);

      const client = new CacheClient({ url: live.url, record: file });
      const outcomes = await Promise.allSettled(packets.map((p) => client.dispatch(p)));
      await client.close();
      expect(outcomes.filter((o) => o.status === 'rejected').map((o) => (o.reason as CacheError).statusCode)).toEqual([400]);
      expect(outcomes[bad]!.status).toBe('rejected');
      // Not taken after close(), so not recorded either.
      await expect(client.dispatch(packets[0]!)).rejects.toThrow('closed');

      expect(readLines(file)).toEqual(JSON.parse(JSON.stringify(packets)));

      const liveState = await snapshot(live.db);
      expect(liveState.members?.length).toBeGreaterThan(0);
      expect(liveState.messages?.length).toBeGreaterThan(0);
      const { run, state } = await replayIntoEmpty(file, ['--skip-invalid']);
      expect(run.code, run.stderr).toBe(EXIT.skippedInvalidLines);
      expect(run.stdout).toContain(`skipped 1 invalid line(s): ${bad + 1}`);
      expect(state).toEqual(liveState);
    } finally {
      await live.close();
    }
  });

  it('100,000 events recorded live, replayed from a gzip file with progress lines: the same state, every table', { timeout: 240_000 }, async () => {
    // MESSAGE_LIMIT=0 on both sides: pruning happens at transaction boundaries, which differ between the runs.
    const live = await liveService({ messageLimit: 0 });
    const file = path.join(dir, 'big.ndjson');
    try {
      const space = { guilds: 20, users: 4_000, channelsPerGuild: 10, rolesPerGuild: 5 };
      const guilds = Array.from({ length: space.guilds }, (_, g) =>
        guildCreate({ guild: g, channels: space.channelsPerGuild, roles: space.rolesPerGuild, memberUsers: Array.from({ length: 200 }, (_, i) => g * 200 + i), seed: g }),
      );
      const gen = new EventGen({ seed: 100, messageSeqStart: 0, space });
      const packets = [...guilds.map((payload, g) => ({ payload, shardId: g % 4 })), ...gen.take(100_000 - guilds.length)] as DispatchPacket[];

      const client = new CacheClient({ url: live.url, record: file });
      await Promise.all(packets.map((p) => client.dispatch(p)));
      await client.close();
      const liveState = await snapshot(live.db);
      expect(liveState.messages!.length).toBeGreaterThan(30_000);
      expect(liveState.presences!.length).toBeGreaterThan(1_000);

      const gz = path.join(dir, 'big.ndjson.gz');
      writeFileSync(gz, gzipSync(readFileSync(file)));
      const { run, state } = await replayIntoEmpty(gz, ['--progress-interval', '0.5'], { MESSAGE_LIMIT: '0' });
      expect(run.code, run.stderr).toBe(EXIT.ok);
      expect(run.stdout).toMatch(/replayed 100,000 events from 100,000 lines into PostgreSQL/);
      // Not a terminal: plain lines with events/s, at least one before the end.
      expect(run.stderr).toMatch(/replay: [\d,]+ events, \d+%, [\d,]+ events\/s/);
      expect(state).toEqual(liveState);
    } finally {
      await live.close();
    }
  });

  it('a record path that cannot be opened fails the constructor, not a later dispatch', () => {
    expect(() => new CacheClient({ url: 'http://127.0.0.1:1', record: path.join(dir, 'no', 'such', 'dir.ndjson') })).toThrow(
      /ENOENT/,
    );
  });
});
