/**
 * `npm run bench:start`: start time and idle memory of the service run as `npm start` does (`tsx src/main.ts`,
 * TypeScript compiled by esbuild at every start) against production (`node dist/main.js`, built first), on
 * PostgreSQL and on the embedded PGlite database (an existing one: the first start also creates it).
 *
 * Start time: from spawn to the first 200 of GET /health. Idle RSS: the sum over the process tree (tsx's CLI
 * runs the service in a child node process), 3 s after /ready answered. BENCH_START_RUNS starts per variant
 * (default 5; medians printed). Every process is stopped with SIGTERM (SIGKILL after 15 s), scratch data removed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabase, databaseUrl, dropDatabase, migrateDatabase } from './db.js';
import { freePort } from './service.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.BENCH_START_RUNS ?? 5);

/** RSS (kB) of `pid` and all its descendants, from /proc. */
function treeRssKb(pid: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      total += Number(m?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

async function waitFor(url: string, child: ChildProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the service exited (${child.exitCode}) before answering ${url}`);
    if ((await fetch(url).then((r) => r.status, () => 0)) === 200) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no answer from ${url} within ${timeoutMs} ms`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

interface Sample {
  startMs: number;
  rssMb: number;
}

async function measure(command: string[], env: Record<string, string>): Promise<Sample> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(command[0]!, command.slice(1), {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', PORT: String(port), ...env },
    stdio: 'ignore',
  });
  try {
    await waitFor(`http://127.0.0.1:${port}/health`, child);
    const startMs = performance.now() - t0;
    await waitFor(`http://127.0.0.1:${port}/ready`, child);
    await new Promise((r) => setTimeout(r, 3000));
    return { startMs, rssMb: treeRssKb(child.pid!) / 1024 };
  } finally {
    await stop(child);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  console.log('building dist/ (npm run build) …');
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');

  const name = `dsc_bench_start_${process.pid}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'dsc-bench-start-'));
  await createDatabase(name);
  try {
    await migrateDatabase(databaseUrl(name), root);
    const variants = [
      ['tsx src/main.ts (npm start)', [path.join(root, 'node_modules', '.bin', 'tsx'), 'src/main.ts']],
      ['node dist/main.js (npm run start:prod)', [process.execPath, 'dist/main.js']],
    ] as const;
    const databases = [
      ['PostgreSQL', { DATABASE_URL: databaseUrl(name) }],
      ['embedded PGlite', { DATA_DIR: dataDir }],
    ] as const;
    // Creates the embedded database once, so that every measured start opens an existing one.
    await measure([process.execPath, 'dist/main.js'], { DATA_DIR: dataDir });

    const rows: string[] = [];
    for (const [dbLabel, env] of databases) {
      for (const [label, command] of variants) {
        const samples: Sample[] = [];
        for (let i = 0; i < RUNS; i++) samples.push(await measure([...command], env));
        const start = median(samples.map((s) => s.startMs));
        const rss = median(samples.map((s) => s.rssMb));
        rows.push(`| ${dbLabel} | ${label} | ${Math.round(start)} | ${Math.round(rss)} |`);
        console.log(rows.at(-1));
      }
    }
    console.log(`\nmedians of ${RUNS} starts each, ${os.cpus().length} CPUs, Node ${process.version}\n`);
    console.log('| database | command | start to first /health answer, ms | idle RSS of the process tree, MB |');
    console.log('|---|---|---:|---:|');
    for (const row of rows) console.log(row);
  } finally {
    await dropDatabase(name);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
