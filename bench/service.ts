/** The service under test as a child process, and a keep-alive HTTP client for it (127.0.0.1 only). */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface HttpResponse {
  status: number;
  body: string;
}

export class HttpClient {
  private readonly agent: http.Agent;

  constructor(
    readonly port: number,
    maxSockets = 64,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request(method: string, path: string, body?: string | Buffer, timeoutMs = 60_000): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {};
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = http.request({ host: '127.0.0.1', port: this.port, method, path, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** POSTs to /v1/dispatch and checks the answer: 200 with `applied` = `expectApplied`. */
  async dispatch(body: string | Buffer, expectApplied: number, timeoutMs = 60_000): Promise<void> {
    const res = await this.request('POST', '/v1/dispatch', body, timeoutMs);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.body.slice(0, 300)}`);
    const answer = JSON.parse(res.body) as { applied?: number; ignored?: number };
    if (answer.applied !== expectApplied) {
      throw new Error(`expected applied=${expectApplied}, got ${res.body.slice(0, 200)}`);
    }
  }

  close() {
    this.agent.destroy();
  }
}

/** Counters scraped from /metrics. */
export interface ServiceMetrics {
  statements: number;
  transactions: number;
  batchEvents: number;
  commitSeconds: number;
}

function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

export async function scrapeMetrics(client: HttpClient): Promise<ServiceMetrics> {
  const res = await client.request('GET', '/metrics', undefined, 30_000);
  if (res.status !== 200) throw new Error(`GET /metrics: HTTP ${res.status}`);
  return {
    statements: metricValue(res.body, 'dsc_statements_total'),
    transactions: metricValue(res.body, 'dsc_batch_events_count'),
    batchEvents: metricValue(res.body, 'dsc_batch_events_sum'),
    commitSeconds: metricValue(res.body, 'dsc_commit_duration_seconds_sum'),
  };
}

export function metricsDelta(a: ServiceMetrics, b: ServiceMetrics): ServiceMetrics {
  return {
    statements: b.statements - a.statements,
    transactions: b.transactions - a.transactions,
    batchEvents: b.batchEvents - a.batchEvents,
    commitSeconds: b.commitSeconds - a.commitSeconds,
  };
}

export interface ServiceOptions {
  root: string;
  databaseUrl: string;
  port: number;
  /** Extra node flags for the child (e.g. --cpu-prof). */
  nodeFlags?: string[];
  /** Modules imported after tsx, before the script (paths relative to root). */
  preload?: string[];
  /** The program, relative to root: the service by default; (5) also starts bench/noop-server.ts. */
  script?: string;
  env?: Record<string, string>;
}

/** `node --import tsx src/main.ts` (or `script`) with the benchmark's environment. */
export class ServiceProcess {
  private readonly child: ChildProcess;
  private readonly output: string[] = [];
  exitCode: number | null | undefined;
  exitSignal: NodeJS.Signals | null = null;
  private readonly exited: Promise<void>;

  constructor(readonly options: ServiceOptions) {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      MIGRATE_ON_START: 'true',
      HOST: '127.0.0.1',
      PORT: String(options.port),
      LOG_LEVEL: 'warn',
      QUEUE_LIMIT: '1000000',
      BODY_LIMIT: '256mb',
      MESSAGE_LIMIT: '200',
      CACHE_TOKEN: '',
      DELETE_OFFLINE_PRESENCES: 'false',
      ...options.env,
    };
    this.child = spawn(process.execPath, [
      ...(options.nodeFlags ?? []),
      '--import',
      'tsx',
      ...(options.preload ?? []).flatMap((p) => ['--import', p]),
      options.script ?? 'src/main.ts',
    ], {
      cwd: options.root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output.push(chunk.toString('utf8'));
      if (this.output.length > 200) this.output.splice(0, this.output.length - 200);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        this.exitSignal = signal;
        resolve();
      });
      this.child.on('error', (err) => {
        this.output.push(`spawn error: ${err.message}\n`);
        this.exitCode = -2;
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** How the child ended, for error messages. */
  get exitDescription(): string {
    return this.exitSignal ? `killed by ${this.exitSignal}` : `code ${String(this.exitCode)}`;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** The last lines the child wrote (stdout and stderr). */
  recentOutput(maxChars = 4000): string {
    const all = this.output.join('');
    return all.length > maxChars ? all.slice(-maxChars) : all;
  }

  async waitReady(client: HttpClient, timeoutMs: number): Promise<number> {
    const started = performance.now();
    while (performance.now() - started < timeoutMs) {
      if (!this.running) throw new Error(`the service exited (${this.exitDescription}) before ready:\n${this.recentOutput()}`);
      try {
        const res = await client.request('GET', '/ready', undefined, 2_000);
        if (res.status === 200) return (performance.now() - started) / 1000;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the service was not ready within ${timeoutMs} ms:\n${this.recentOutput()}`);
  }

  /** SIGTERM (the service drains and exits), then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([this.exited.then(() => 'exited' as const), timer])) === 'timeout' && this.running) {
      this.child.kill('SIGKILL');
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 5_000).unref())]);
    }
  }

  /** SIGKILL, and resolves once it has exited (failover measurements). */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Synchronous last resort (process exit handlers). */
  killNow() {
    if (this.running) this.child.kill('SIGKILL');
  }
}
