/** `discord-state-cache` serve, migrate, stats, help and usage errors, as processes (replay: cli-replay.test.ts). */
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { readJournal } from '../../src/db/connect.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from '../../src/http/app.js';
import { runCli, startCli } from '../helpers/cli.js';
import { createEmptyDatabase, createPostgres, type TestDatabase } from '../helpers/db.js';
import { ev, makeApp } from '../helpers/app.js';
import { freePort } from '../helpers/process.js';
import { EXIT } from '../../src/cli/exit-codes.js';

async function migrationsApplied(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query('select count(*) as n from drizzle.__drizzle_migrations')).rows[0].n);
  } finally {
    await client.end();
  }
}

describe('migrate', () => {
  let empty: TestDatabase;
  beforeAll(async () => {
    empty = await createEmptyDatabase();
  });
  afterAll(async () => {
    await empty.drop();
  });

  it('applies the pending migrations, names them, then says up to date', async () => {
    const first = await runCli(['migrate', '--database-url', empty.url]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(EXIT.ok);
    const tags = readJournal().map((e) => e.tag);
    for (const tag of tags) expect(first.stdout).toMatch(new RegExp(`^applied ${tag}$`, 'm'));
    expect(await migrationsApplied(empty.url)).toBe(tags.length);

    // DATABASE_URL is the default.
    const again = await runCli(['migrate'], { DATABASE_URL: empty.url });
    expect(again.code).toBe(EXIT.ok);
    expect(again.stdout).toMatch(new RegExp(`^up to date \\(last migration: ${tags.at(-1)}\\)$`, 'm'));
    expect(await migrationsApplied(empty.url)).toBe(tags.length);
  });

  it('without a database URL is a usage error; an unreachable database a failure', async () => {
    const port = await freePort();
    const [none, unreachable] = await Promise.all([
      runCli(['migrate']),
      runCli(['migrate', '--database-url', `postgres://postgres@127.0.0.1:${port}/x`]),
    ]);
    expect(none.code).toBe(EXIT.usage);
    expect(none.stderr).toContain('--database-url or DATABASE_URL');
    expect(unreachable.code).toBe(EXIT.failure);
    expect(unreachable.stderr).toContain('ECONNREFUSED');
  });
});

describe('serve', () => {
  let empty: TestDatabase;
  beforeAll(async () => {
    empty = await createEmptyDatabase();
  });
  afterAll(async () => {
    await empty.drop();
  });

  it('refuses a database with pending migrations, naming the command; serves once migrated; stops on SIGTERM', async () => {
    const port = String(await freePort());
    const refused = await runCli(['serve', '--database-url', empty.url, '--port', port]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('npx discord-state-cache migrate');

    expect((await runCli(['migrate', '--database-url', empty.url])).code).toBe(EXIT.ok);
    // Options override the environment: PORT here is not the one it listens on.
    const svc = startCli(['serve', '--database-url', empty.url, '--port', port], { PORT: '1', LOG_LEVEL: 'warn' });
    try {
      let ready = 0;
      for (let i = 0; i < 300 && ready !== 200 && svc.child.exitCode === null; i++) {
        ready = await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.status, () => 0);
        if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready, svc.stderr()).toBe(200);
    } finally {
      svc.child.kill('SIGTERM');
    }
    expect((await svc.done).code).toBe(0);
  });
});

describe('stats', () => {
  let close: () => Promise<void>;
  let app: FastifyInstance;
  let url: string;
  beforeAll(async () => {
    const pgdb = await createPostgres();
    app = await makeApp(pgdb.db, { cacheToken: 'sekret' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    close = async () => {
      await app.close();
      await pgdb.close();
    };
    const users = Array.from({ length: 1234 }, (_, i) => ({ id: String(80351110224678912n + BigInt(i)), username: `u${i}`, discriminator: '0' }));
    const members = users.map((user) => ({ user, roles: [], joined_at: '2024-01-01T00:00:00+00:00', deaf: false, mute: false, flags: 0 }));
    const res = await app.inject({
      method: 'POST',
      url: '/v1/dispatch',
      headers: { authorization: 'Bearer sekret' },
      payload: ev('GUILD_MEMBERS_CHUNK', { guild_id: '81384788765712384', members, chunk_index: 0, chunk_count: 1 }),
    });
    expect(res.statusCode).toBe(200);
  });
  afterAll(async () => {
    await close();
  });

  it('prints every table the service reports with its rows, and the ingest counters', async () => {
    const stats = (await app.inject({ url: '/v1/stats', headers: { authorization: 'Bearer sekret' } })).json() as {
      tables: Record<string, number>;
      ingest: Record<string, number>;
    };
    const run = await runCli(['stats', '--url', url], { CACHE_TOKEN: 'sekret' });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(EXIT.ok);
    const rows = new Map(
      run.stdout.split('\n').map((l): [string, string | undefined] => {
        const [k = '', v] = l.trim().split(/\s{2,}/);
        return [k, v];
      }),
    );
    expect(Object.keys(stats.tables).length).toBeGreaterThan(0);
    for (const [table, n] of Object.entries(stats.tables)) expect(rows.get(table), table).toBe(n.toLocaleString('en-US'));
    expect(rows.get('users')).toBe('1,234');
    const total = Object.values(stats.tables).reduce((a, b) => a + b, 0);
    expect(rows.get('total')).toBe(total.toLocaleString('en-US'));
    expect(rows.get('applied')).toBe(String(stats.ingest.applied));

    const json = await runCli(['stats', '--url', url, '--token', 'sekret', '--json']);
    expect(json.code).toBe(EXIT.ok);
    expect((JSON.parse(json.stdout) as { tables: unknown }).tables).toEqual(stats.tables);
  });

  it('fails with the reason when the token is wrong or nothing answers', async () => {
    const port = await freePort();
    const [wrong, nobody] = await Promise.all([
      runCli(['stats', '--url', url, '--token', 'wrong']),
      runCli(['stats', '--url', `http://127.0.0.1:${port}`]),
    ]);
    expect(wrong.code).toBe(EXIT.failure);
    expect(wrong.stderr).toContain('bearer token');
    expect(nobody.code).toBe(EXIT.failure);
    expect(nobody.stderr).toContain('could not be reached');
  });
});

describe('help and usage', () => {
  it('--help of the program lists the commands and exit codes; each command has its own', async () => {
    const commands = ['serve', 'migrate', 'replay', 'stats'];
    const [top, ...each] = await Promise.all([runCli(['--help']), ...commands.map((c) => runCli([c, '--help']))]);
    expect(top.code).toBe(0);
    for (const c of commands) expect(top.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    expect(top.stdout).toContain('Exit codes:');
    each.forEach((run, i) => {
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Usage: discord-state-cache ${commands[i]}`);
    });
  });

  it('a wrong command line exits 2 and says what is wrong', async () => {
    const [unknown, conflict, missing, badInterval] = await Promise.all([
      runCli(['frobnicate']),
      runCli(['replay', 'x.ndjson', '--url', 'http://127.0.0.1:1', '--database-url', 'postgres://x/y']),
      runCli(['replay']),
      runCli(['replay', 'x.ndjson', '--progress-interval', '0']),
    ]);
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    expect(conflict.code).toBe(EXIT.usage);
    expect(conflict.stderr).toContain('cannot be used with');
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toContain("missing required argument 'file'");
    expect(badInterval.code).toBe(EXIT.usage);
    expect(badInterval.stderr).toContain('greater than 0');
  });
});
