/** Runs `discord-state-cache` (src/cli/index.ts through tsx) as a real process, as a user would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: Promise<CliRun>;
}

/** Starts the CLI with `args`; the environment is PATH plus `env` only (no CACHE_URL or DATABASE_URL leaks in). */
export function startCli(args: string[], env: Record<string, string> = {}, stdin: 'pipe' | 'ignore' = 'ignore'): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: [stdin, 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<CliRun>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

/** Runs the CLI to its end; `input` is written to its standard input. */
export async function runCli(args: string[], env: Record<string, string> = {}, input?: string | Buffer): Promise<CliRun> {
  const run = startCli(args, env, input === undefined ? 'ignore' : 'pipe');
  if (input !== undefined) run.child.stdin!.end(input);
  return run.done;
}
