/**
 * The package as people install it: `npm pack` (prepack builds dist/), `npm install <tarball>` into an empty
 * project, then the installed `discord-state-cache` bin run with plain node: serve on the embedded default,
 * the status page, replay and stats against it, migrate a fresh PostgreSQL database. About a minute (build, install).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from '../helpers/cli.js';
import { createEmptyDatabase, type TestDatabase } from '../helpers/db.js';
import { freePort } from '../helpers/process.js';

const exec = promisify(execFile);
const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;

/** The environment without what `npm test` itself set (npm_config_*, npm_lifecycle_*, …). */
const cleanEnv = (extra: Record<string, string> = {}) => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_'))),
  ...extra,
});

describe('npm pack → npm install → npx discord-state-cache', () => {
  let tmp: string;
  let project: string;
  let database: TestDatabase;
  let packed: string[];

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'dsc-package-'));
    project = path.join(tmp, 'project');
    mkdirSync(project);
    database = await createEmptyDatabase();
    const pack = await exec('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: root, env: cleanEnv(), maxBuffer: 64 << 20 });
    const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    packed = info!.files.map((f) => f.path);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'an-empty-project', private: true }));
    await exec('npm', ['install', path.join(tmp, info!.filename), '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: project,
      env: cleanEnv(),
      maxBuffer: 64 << 20,
    });
  }, 300_000);

  afterAll(async () => {
    await database?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const npx = (args: string[], env: Record<string, string> = {}) =>
    exec('npx', ['discord-state-cache', ...args], { cwd: project, env: cleanEnv(env) });

  it('ships dist/ (built by prepack) and drizzle/, not the sources; installs without tsx or drizzle-kit', () => {
    for (const f of ['dist/cli/index.js', 'dist/main.js', 'dist/client/index.js', 'dist/client/index.d.ts', 'drizzle/meta/_journal.json', 'page/index.html', 'page/status.js', 'package.json']) {
      expect(packed).toContain(f);
    }
    expect(packed.filter((f) => f.endsWith('.sql')).length).toBeGreaterThan(0);
    expect(packed.filter((f) => /^(src|tests|bench|examples)\//.test(f))).toEqual([]);
    const installed = path.join(project, 'node_modules');
    expect(existsSync(path.join(installed, 'discord-state-cache', 'drizzle', 'meta', '_journal.json'))).toBe(true);
    expect(existsSync(path.join(installed, 'tsx'))).toBe(false);
    expect(existsSync(path.join(installed, 'drizzle-kit'))).toBe(false);
  });

  it('the package exports load with plain node', async () => {
    const { stdout } = await exec(
      process.execPath,
      ['--input-type=module', '-e', "const [a, c] = await Promise.all([import('discord-state-cache'), import('discord-state-cache/client')]); console.log(typeof a.buildApp, typeof c.CacheClient)"],
      { cwd: project, env: cleanEnv() },
    );
    expect(stdout.trim()).toBe('function function');
  });

  it('serve on the embedded database (DATA_DIR): /health, /ready, /docs/json, the status page; replay and stats against it; SIGTERM', async () => {
    const port = await freePort();
    const dataDir = path.join(tmp, 'data');
    const url = `http://127.0.0.1:${port}`;
    // Its own process group: npx does not pass signals on to the bin, the group gets them as from a terminal.
    const server = spawn('npx', ['discord-state-cache', 'serve'], {
      cwd: project,
      env: cleanEnv({ PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn' }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    server.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    server.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<void>((resolve) => server.on('close', () => resolve()));
    try {
      let health = 0;
      for (let i = 0; i < 1200 && health !== 200 && server.exitCode === null; i++) {
        health = await fetch(`${url}/health`).then((r) => r.status, () => 0);
        if (health !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(health, output).toBe(200);
      expect((await fetch(`${url}/ready`)).status).toBe(200);
      // docs.ts reads the version from the installed package.json.
      expect(((await (await fetch(`${url}/docs/json`)).json()) as { info: { version: string } }).info.version).toBe(version);
      expect(existsSync(path.join(dataDir, 'cache.lock'))).toBe(true);
      // The status page, from the package's page/ folder.
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<script src="status.js"');

      const events = path.join(tmp, 'events.ndjson');
      writeFileSync(
        events,
        JSON.stringify({
          payload: { op: 0, t: 'USER_UPDATE', s: 1, d: { id: '80351110224678912', username: 'nelly', discriminator: '0' } },
          shardId: 0,
        }) + '\n',
      );
      const replay = await npx(['replay', events, '--url', url]);
      expect(replay.stdout).toMatch(/^replayed 1 events from 1 lines/m);
      const stats = await npx(['stats', '--json'], { CACHE_URL: url });
      expect((JSON.parse(stats.stdout) as { tables: { users: number } }).tables.users).toBe(1);
    } finally {
      if (server.exitCode === null) process.kill(-server.pid!, 'SIGTERM');
      await exited;
    }
    // Stopped gracefully: the embedded database was closed and its lock released.
    expect(existsSync(path.join(dataDir, 'cache.lock')), output).toBe(false);
  });

  it('migrate a fresh PostgreSQL database, then up to date', async () => {
    const first = await npx(['migrate', '--database-url', database.url]);
    expect(first.stdout).toMatch(/^applied 0000_init$/m);
    const again = await npx(['migrate'], { DATABASE_URL: database.url });
    expect(again.stdout).toMatch(/^up to date/m);
  });
});
