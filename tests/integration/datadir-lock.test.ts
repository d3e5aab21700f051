/**
 * One process per DATA_DIR, also when two start together over a lock file left by a dead process (the
 * read-stale-pid, delete, write sequence let both in: 6 of 20 trials). Real processes, started at once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Contender {
  /** Resolves once the process is loaded and waiting for `go`. */
  ready: Promise<void>;
  /** Tells it to take the lock; resolves with what it says. */
  go(): Promise<string>;
  /** Lets it release the lock and exit. */
  done(): Promise<void>;
}

/** A process that takes the lock of `dir` when told to, says whether it got it, and holds it until told to end. */
function contender(dir: string): Contender {
  const script = `
    const { lockDataDir } = await import(${JSON.stringify(path.join(root, 'src/db/connect.ts'))});
    console.log('ready');
    process.stdin.once('data', async () => {
      try {
        await lockDataDir(${JSON.stringify(dir)});
        console.log('locked');
      } catch (err) {
        console.log('refused: ' + err.message);
      }
    });
    process.stdin.on('end', () => process.exit(0));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buffer = '';
  child.stdout!.on('data', (b: Buffer) => {
    buffer += b.toString();
    let i: number;
    while ((i = buffer.indexOf('\n')) >= 0) {
      lines.push(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
      waiters.splice(0).forEach((w) => w());
    }
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const line = (n: number) =>
    new Promise<string>((resolve, reject) => {
      const check = () => (lines.length > n ? resolve(lines[n]!) : waiters.push(check));
      void exited.then(() => (lines.length > n ? resolve(lines[n]!) : reject(new Error('the contender exited'))));
      check();
    });
  return {
    ready: line(0).then(() => undefined),
    go: () => {
      child.stdin!.write('go\n');
      return line(1);
    },
    done: () => {
      child.stdin!.end();
      return exited;
    },
  };
}

describe('DATA_DIR lock', () => {
  it('exactly one of two processes started together over a stale lock wins, in every trial', { timeout: 60_000 }, async () => {
    // A pid that is certainly dead: a process that already exited.
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const trials = Array.from({ length: 6 }, () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'dsc-lock-'));
      writeFileSync(path.join(dir, 'cache.lock'), String(dead));
      return dir;
    });
    const pairs = trials.map((dir) => [contender(dir), contender(dir)] as const);
    try {
      await Promise.all(pairs.flat().map((c) => c.ready));
      // Both of a pair are told at the same moment: they race for the stale lock.
      const outcomes = await Promise.all(pairs.map((pair) => Promise.all(pair.map((c) => c.go()))));
      for (const pair of outcomes) {
        expect(pair.filter((o) => o === 'locked')).toHaveLength(1);
        expect(pair.find((o) => o !== 'locked')).toMatch(/^refused: DATA_DIR .* is in use by another process/);
      }
    } finally {
      await Promise.all(pairs.flat().map((c) => c.done()));
      for (const dir of trials) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a lock is free again once its process has exited', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dsc-lock-'));
    try {
      for (let i = 0; i < 2; i++) {
        const c = contender(dir);
        await c.ready;
        expect(await c.go()).toBe('locked');
        await c.done();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
