/**
 * A real streaming replica for tests: a PostgreSQL primary of the test's own (`initdb` in a scratch directory,
 * a free port on 127.0.0.1) and a physical standby of it (`pg_basebackup -R`, another free port), both
 * listening on 127.0.0.1 only, with their sockets in the scratch directory.
 *
 * PostgreSQL refuses to run as root: as root, every server command runs as the `postgres` OS user (the
 * scratch directory is handed to it, mode 0700); as anyone else, as that user. Built for speed, not safety
 * (`fsync=off`, small buffers): the pair starts in about two seconds and is thrown away.
 */
import { execFile, spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './process.js';

const run = promisify(execFile);
const SERVER_PROGRAMS = ['initdb', 'pg_ctl', 'pg_basebackup', 'postgres'];

const hasServer = (dir: string) => SERVER_PROGRAMS.every((p) => existsSync(path.join(dir, p)));

/**
 * The directory of PostgreSQL's server programs: the newest `/usr/lib/postgresql/<version>/bin` (Debian,
 * Ubuntu), else the directory on PATH that holds them all (Homebrew, other distributions), else undefined.
 */
export function serverBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+(\.\d+)?$/.test(v) && hasServer(path.join(root, v, 'bin')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return path.join(root, versions[0], 'bin');
  }
  return (process.env.PATH ?? '').split(path.delimiter).find((dir) => dir !== '' && hasServer(dir));
}

const isRoot = process.getuid?.() === 0;

/** The OS user the servers run as, and its ids (to hand it the scratch directory). */
function serverUser(): { uid: number; gid: number } | undefined {
  if (!isRoot) return undefined;
  const r = spawnSync('id', ['-u', 'postgres']);
  const g = spawnSync('id', ['-g', 'postgres']);
  if (r.status !== 0 || g.status !== 0) {
    throw new Error('running as root, and PostgreSQL refuses root: create a `postgres` OS user to run the test servers');
  }
  return { uid: Number(String(r.stdout).trim()), gid: Number(String(g.stdout).trim()) };
}

/** `file args` as the server user: through `runuser` (util-linux) or `su` when running as root. */
function asServerUser(file: string, args: string[]): [string, string[]] {
  if (!isRoot) return [file, args];
  if (existsSync('/usr/sbin/runuser') || existsSync('/sbin/runuser')) return ['runuser', ['-u', 'postgres', '--', file, ...args]];
  const quoted = [file, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
  return ['su', ['postgres', '-s', '/bin/sh', '-c', quoted]];
}

/** One PostgreSQL cluster in `dir`, on `port`. */
export class Cluster {
  running = false;

  constructor(
    readonly bin: string,
    readonly dir: string,
    public port: number,
    private readonly logFile: string,
  ) {}

  /** A `postgres://` URL of database `database` on this cluster. */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async exec(program: string, args: string[]): Promise<string> {
    const [file, argv] = asServerUser(path.join(this.bin, program), args);
    // cwd: the server user may not be allowed into the test's working directory.
    const { stdout, stderr } = await run(file, argv, { cwd: path.dirname(this.dir), encoding: 'utf8' });
    return stdout + stderr;
  }

  /** Starts the server and waits until it accepts connections. */
  async start(): Promise<void> {
    try {
      // -l: the server's output goes to the log, so pg_ctl's own pipes close when it returns.
      await this.exec('pg_ctl', ['-D', this.dir, '-l', this.logFile, '-w', '-t', '60', 'start']);
    } catch (err) {
      throw new Error(`PostgreSQL in ${this.dir} did not start: ${(err as Error).message}\n${this.logTail()}`);
    }
    this.running = true;
    live.add(this);
  }

  /** `fast`: disconnects clients and shuts down cleanly; `immediate`: like a crash (for the final cleanup). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!this.running) return;
    await this.exec('pg_ctl', ['-D', this.dir, '-m', mode, '-w', 'stop']);
    this.running = false;
    live.delete(this);
  }

  /** Appends settings to `postgresql.conf` (later lines win). */
  configure(settings: Record<string, string | number>): void {
    const lines = Object.entries(settings).map(([k, v]) => `${k} = ${typeof v === 'number' ? v : `'${v}'`}`);
    appendFileSync(path.join(this.dir, 'postgresql.conf'), `\n${lines.join('\n')}\n`);
  }

  logTail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '(no server log)';
    }
  }
}

/** Clusters still running: stopped even when the test process exits without its afterAll. */
const live = new Set<Cluster>();
process.once('exit', () => {
  for (const c of live) {
    const [file, argv] = asServerUser(path.join(c.bin, 'pg_ctl'), ['-D', c.dir, '-m', 'immediate', 'stop']);
    spawnSync(file, argv, { cwd: path.dirname(c.dir) });
  }
});

export interface ReplicaPair {
  primary: Cluster;
  replica: Cluster;
  /** Stops both servers and removes the scratch directory. */
  close(): Promise<void>;
}

/** Starts `cluster`, trying other free ports when the chosen one was taken in the meantime. */
async function startOnFreePort(cluster: Cluster): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    cluster.port = await freePort();
    cluster.configure({ port: cluster.port });
    try {
      return await cluster.start();
    } catch (err) {
      if (attempt === 3 || !/could not bind|address already in use/i.test((err as Error).message)) throw err;
    }
  }
}

/**
 * A primary and a streaming replica of it, both started. `bin` is `serverBinDir()`. Everything is stopped and
 * removed by `close()`, and also when starting fails half-way.
 */
export async function startReplicaPair(bin: string): Promise<ReplicaPair> {
  const user = serverUser();
  const base = mkdtempSync(path.join(os.tmpdir(), 'dsc-replica-'));
  if (user) chownSync(base, user.uid, user.gid); // mkdtemp made it 0700
  const primary = new Cluster(bin, path.join(base, 'primary'), 0, path.join(base, 'primary.log'));
  const replica = new Cluster(bin, path.join(base, 'replica'), 0, path.join(base, 'replica.log'));
  const close = async () => {
    for (const c of [replica, primary]) await c.stop('immediate').catch(() => {});
    rmSync(base, { recursive: true, force: true });
  };

  try {
    await primary.exec('initdb', ['-D', primary.dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    primary.configure({
      listen_addresses: '127.0.0.1',
      unix_socket_directories: base,
      wal_level: 'replica',
      max_wal_senders: 4,
      max_connections: 50,
      shared_buffers: '16MB',
      fsync: 'off',
      full_page_writes: 'off',
    });
    writeFileSync(
      path.join(primary.dir, 'pg_hba.conf'),
      ['local all all trust', 'host all all 127.0.0.1/32 trust', 'host replication all 127.0.0.1/32 trust', ''].join('\n'),
    );
    await startOnFreePort(primary);

    // -R: standby.signal and primary_conninfo; -c fast: no waiting for a spread checkpoint.
    await replica.exec('pg_basebackup', [
      ...['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres'],
      ...['-D', replica.dir, '-R', '-X', 'stream', '-c', 'fast', '--no-sync'],
    ]);
    await startOnFreePort(replica);
  } catch (err) {
    const logs = `primary log:\n${primary.logTail()}\nreplica log:\n${replica.logTail()}`;
    await close();
    throw new Error(`could not set up the primary and its replica: ${(err as Error).message}\n${logs}`);
  }
  return { primary, replica, close };
}
