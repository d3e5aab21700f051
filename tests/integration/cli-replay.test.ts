/** `discord-state-cache replay` as a process: targets, input formats, progress, invalid lines, exit codes. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.js';
import { openPglite, openPostgres, type Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { makeApp } from '../helpers/app.js';
import { runCli, startCli } from '../helpers/cli.js';
import { createEmptyDatabase, createPostgres, type TestDatabase } from '../helpers/db.js';
import { freePort } from '../helpers/process.js';
import { truncateAll } from '../helpers/snapshot.js';

const GUILD = '81384788765712384';
const userId = (i: number) => String(80351110224678912n + BigInt(i));
/** The i-th member join: a raw gateway payload. */
const memberAdd = (i: number) => ({
  op: 0,
  t: 'GUILD_MEMBER_ADD',
  s: i,
  d: {
    guild_id: GUILD,
    user: { id: userId(i), username: `u${i}`, discriminator: '0' },
    roles: [],
    joined_at: '2024-01-01T00:00:00+00:00',
    deaf: false,
    mute: false,
    flags: 0,
  },
});
/** Rejected by the service (400): the user id is not a snowflake. */
const badMemberAdd = (i: number) => ({ ...memberAdd(i), d: { ...memberAdd(i).d, user: { id: 'nope', username: 'x' } } });
const lines = (items: unknown[]) => items.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join('\n') + '\n';

const memberIds = async (db: Database) =>
  (await db.query<{ user_id: string }>('select user_id::text from members order by user_id')).map((r) => r.user_id);

let dir: string;
let db: Database;
let app: FastifyInstance;
let url: string;
let closeDb: () => Promise<void>;
const TOKEN = 'sekret';

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'dsc-replay-'));
  const pgdb = await createPostgres();
  db = pgdb.db;
  closeDb = pgdb.close;
  app = await makeApp(db, { cacheToken: TOKEN });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app.close();
  await closeDb();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await truncateAll(db);
});

const file = (name: string, content: string | Buffer) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

describe('into a running service (--url)', () => {
  it('reads gzip from stdin (payloads and forwards, blank lines, CRLF), with plain progress lines while it waits', async () => {
    const first = Array.from({ length: 150 }, (_, i) => (i % 2 ? memberAdd(i) : { payload: memberAdd(i), shardId: 0 }));
    const second = Array.from({ length: 150 }, (_, i) => memberAdd(150 + i));
    const text = lines(first) + '\r\n' + lines(second).replaceAll('\n', '\r\n');
    const gz = gzipSync(text);
    const run = startCli(['replay', '-', '--url', url, '--progress-interval', '0.05'], { CACHE_TOKEN: TOKEN }, 'pipe');
    // Half of the gzip stream, then a pause: the first half's lines are committed and progress lines are printed.
    run.child.stdin!.write(gz.subarray(0, gz.length >> 1));
    const deadline = Date.now() + 30_000;
    while ((await memberIds(db)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    run.child.stdin!.end(gz.subarray(gz.length >> 1));
    const done = await run.done;

    expect(done.stderr).toMatch(/^replay: [\d,]+ events, [\d,]+ events\/s, elapsed \d+:\d\d$/m);
    expect(done.code, done.stderr).toBe(EXIT.ok);
    expect(done.stdout).toMatch(/^replayed 300 events from 301 lines into http:\/\/127\.0\.0\.1:\d+ in [\d.]+ s/m);
    expect(await memberIds(db)).toEqual(Array.from({ length: 300 }, (_, i) => userId(i)).sort());
  });

  it('stops at a line that is not JSON: nothing after it is sent (exit 3)', async () => {
    const input = file('not-json.ndjson', lines([...[0, 1, 2, 3, 4].map(memberAdd), '{"op": 0, "t": ', ...[5, 6, 7].map(memberAdd)]));
    const run = await runCli(['replay', input, '--url', url, '--token', TOKEN]);
    expect(run.code).toBe(EXIT.stoppedAtInvalidLine);
    expect(run.stderr).toContain('stopped at line 6: not JSON');
    expect(run.stderr).toContain('nothing after line 6 was sent');
    expect(await memberIds(db)).toEqual([0, 1, 2, 3, 4].map(userId));
  });

  it('stops at a line the service rejects, naming it and the field; says which later lines were already applied', async () => {
    const input = file('rejected.ndjson', lines([memberAdd(0), memberAdd(1), badMemberAdd(2), ...[3, 4, 5, 6, 7, 8, 9].map(memberAdd)]));
    const run = await runCli(['replay', input, '--url', url, '--token', TOKEN, '--no-progress']);
    expect(run.code).toBe(EXIT.stoppedAtInvalidLine);
    expect(run.stderr).toMatch(/stopped at line 3: rejected by the service \(400\): body\.d\.user\.id/);
    // Lines read before the answer came back were sent with it (one batch): the report says so, and is true.
    const sent = /lines 4–(\d+) had already been sent: they are applied$/m.exec(run.stderr);
    const last = sent ? Number(sent[1]) : 3;
    expect(run.stderr).toContain(`nothing after line ${last} was sent`);
    const expected = [0, 1, ...Array.from({ length: last - 3 }, (_, i) => 3 + i)].map(userId);
    expect(await memberIds(db)).toEqual(expected);
  });

  it('--skip-invalid: reports each invalid line and applies every other one (exit 4)', async () => {
    const input = file(
      'skip.ndjson',
      lines([memberAdd(0), 'garbage', memberAdd(1), memberAdd(2), badMemberAdd(3), memberAdd(4), '[1, 2]', memberAdd(5)]),
    );
    const run = await runCli(['replay', input, '--url', url, '--token', TOKEN, '--skip-invalid']);
    expect(run.code).toBe(EXIT.skippedInvalidLines);
    expect(run.stderr).toMatch(/^line 2 skipped: not JSON/m);
    expect(run.stderr).toMatch(/^line 5 skipped: rejected by the service \(400\)/m);
    expect(run.stderr).toMatch(/^line 7 skipped: not a gateway payload/m);
    expect(run.stdout).toMatch(/^replayed 5 events from 8 lines/m);
    expect(run.stdout).toMatch(/^skipped 3 invalid line\(s\): 2, 5, 7$/m);
    expect(await memberIds(db)).toEqual([0, 1, 2, 4, 5].map(userId));
  });

  it('fails (exit 1) on a wrong token, a service that does not answer, a missing file', async () => {
    const input = file('ok.ndjson', lines([memberAdd(0)]));
    const port = await freePort();
    const [wrongToken, nobody, missing] = await Promise.all([
      runCli(['replay', input, '--url', url, '--token', 'wrong']),
      runCli(['replay', input, '--url', `http://127.0.0.1:${port}`]),
      runCli(['replay', path.join(dir, 'nope.ndjson'), '--url', url]),
    ]);
    expect(wrongToken.code).toBe(EXIT.failure);
    expect(wrongToken.stderr).toContain('bearer token');
    expect(nobody.code).toBe(EXIT.failure);
    expect(nobody.stderr).toContain('is not ready');
    expect(missing.code).toBe(EXIT.failure);
    expect(missing.stderr).toContain('cannot read');
    expect(await memberIds(db)).toEqual([]);
  });

  it('Ctrl-C: stops reading, delivers what was sent, exits 130', async () => {
    const run = startCli(['replay', '-', '--url', url, '--token', TOKEN, '--no-progress'], {}, 'pipe');
    run.child.stdin!.write(lines(Array.from({ length: 50 }, (_, i) => memberAdd(i))));
    const deadline = Date.now() + 30_000;
    while ((await memberIds(db)).length < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    run.child.kill('SIGINT');
    const done = await run.done;
    expect(done.code).toBe(EXIT.interrupted);
    expect(done.stderr).toContain('interrupted after line 50');
    expect((await memberIds(db)).length).toBe(50);
  });
});

describe('into a database (the service built in the process)', () => {
  let empty: TestDatabase;
  beforeAll(async () => {
    empty = await createEmptyDatabase();
  });
  afterAll(async () => {
    await empty.drop();
  });

  it('--database-url: refuses pending migrations unless --migrate; gzip told by its bytes, not its name', async () => {
    const input = file('events.ndjson', gzipSync(lines(Array.from({ length: 20 }, (_, i) => memberAdd(i)))));
    const refused = await runCli(['replay', input, '--database-url', empty.url]);
    expect(refused.code).toBe(EXIT.failure);
    expect(refused.stderr).toContain('pending migration');

    const run = await runCli(['replay', input, '--database-url', empty.url, '--migrate']);
    expect(run.code, run.stderr).toBe(EXIT.ok);
    expect(run.stdout).toMatch(/^replayed 20 events from 20 lines into PostgreSQL/m);
    const target = await openPostgres({ url: empty.url });
    try {
      expect(await memberIds(target)).toEqual(Array.from({ length: 20 }, (_, i) => userId(i)).sort());
    } finally {
      await target.close();
    }
  });

  it('--data-dir: into the embedded database that `serve` would open', { timeout: 240_000 }, async () => {
    const dataDir = mkdtempSync(path.join(dir, 'data-'));
    const input = file('embedded.ndjson', lines([memberAdd(7), memberAdd(8)]));
    const run = await runCli(['replay', input, '--data-dir', dataDir]);
    expect(run.code, run.stderr).toBe(EXIT.ok);
    expect(run.stdout).toContain(`into the embedded database in ${dataDir}`);
    const embedded = await openPglite({ dataDir });
    try {
      expect(await memberIds(embedded)).toEqual([userId(7), userId(8)]);
    } finally {
      await embedded.close();
    }
  });
});
