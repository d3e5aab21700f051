/**
 * What every workload shares: the scratch databases, the service child and its HTTP client, the naive and Redis
 * baselines, and the helpers that measure a run (CPU of each process, the service's writer counters). Every
 * resource is registered as it is opened and released by `cleanup()`, whatever happens (error, Ctrl-C, the
 * watchdog).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CFG, errMsg, log } from './config.js';
import { createDatabase, databaseUrl, describeMachine, dropDatabase, migrateDatabase, postgresPids, type Machine } from './db.js';
import { f1 } from './format.js';
import { cpuDelta, cpuSnapshot, type CpuUsage, type LoadResult } from './load.js';
import { NaiveCache } from './naive.js';
import { summarizeProfiles } from './profile.js';
import { RedisCache } from './redis.js';
import { HttpClient, ServiceProcess, freePort, metricsDelta, scrapeMetrics, type ServiceMetrics } from './service.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// ---- resources, released by cleanup() whatever happens ----

const resources: {
  dbs: string[];
  service?: ServiceProcess;
  /** Other children (the do-nothing route of (5)). */
  children: ServiceProcess[];
  clients: HttpClient[];
  naive?: NaiveCache;
  redis?: RedisCache;
  profDir?: string;
  /** Other things a workload opened (a replica pair): released after the children are stopped. */
  extra: (() => Promise<void>)[];
} = { dbs: [], children: [], clients: [], extra: [] };

let cleaning: Promise<void> | undefined;
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of resources.clients) c.close();
    for (const child of [...resources.children, ...(resources.service ? [resources.service] : [])]) {
      log(`stopping pid ${String(child.pid)} (${child.options.script ?? 'the service'})`);
      await child.stop().catch((e: unknown) => log(`stopping pid ${String(child.pid)}: ${errMsg(e)}`));
    }
    for (const release of resources.extra) await release().catch((e: unknown) => log(`cleanup: ${errMsg(e)}`));
    if (resources.naive) await resources.naive.close().catch(() => {});
    if (resources.redis) await resources.redis.close().catch((e: unknown) => log(`closing Redis: ${errMsg(e)}`));
    for (const db of resources.dbs) {
      try {
        await dropDatabase(db);
        log(`dropped database ${db}`);
      } catch (err) {
        log(`could not drop database ${db}: ${errMsg(err)}`);
      }
    }
  })();
  return cleaning;
}

/** Kills the children on exit, cleans up on SIGINT/SIGTERM, and aborts (with cleanup) past `CFG.watchdogMs`. */
export function installGuards() {
  process.on('exit', () => {
    resources.service?.killNow();
    for (const c of resources.children) c.killNow();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      log(`${sig}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  setTimeout(() => {
    log(`the run exceeded ${CFG.watchdogMs / 60_000} minutes: aborting`);
    void cleanup().finally(() => process.exit(1));
  }, CFG.watchdogMs).unref();
}

/** The service's CPU profile summary (BENCH_CPU_PROF=1), once the service has exited; removes the files unless kept. */
export function profileSummary(): string | undefined {
  if (!resources.profDir) return undefined;
  const summary = summarizeProfiles(resources.profDir);
  if (!CFG.keepProfile) rmSync(resources.profDir, { recursive: true, force: true });
  return summary;
}

/** The last output of the service, when it was started. */
export const serviceOutput = (maxChars = 3000) => resources.service?.recentOutput(maxChars) ?? '';

// ---- measuring ----

export interface Measured {
  load?: LoadResult;
  cpu?: CpuUsage;
  metrics?: ServiceMetrics;
  /** Naive statements run. */
  statements?: number;
  /** Redis commands sent (and pipelines: one per request). */
  redisCommands?: number;
  failure?: string;
}

export const eventsPerSecond = (m: Measured | undefined) => (m?.load && m.load.errors === 0 && !m.failure ? m.load.events / m.load.seconds : Number.NaN);

/** A raw measurement as a `Measured`: any failed request fails the workload. */
export function asMeasured(r: { value?: LoadResult; cpu?: CpuUsage; metrics?: ServiceMetrics; statements?: number; redisCommands?: number; failure?: string }): Measured {
  const m: Measured = {};
  if (r.value) m.load = r.value;
  if (r.cpu) m.cpu = r.cpu;
  if (r.metrics) m.metrics = r.metrics;
  if (r.statements !== undefined) m.statements = r.statements;
  if (r.redisCommands !== undefined) m.redisCommands = r.redisCommands;
  if (r.failure) m.failure = r.failure;
  else if (r.value && r.value.errors > 0) m.failure = `${r.value.errors} of ${r.value.done} requests failed`;
  return m;
}

export interface Timed<T> {
  value?: T;
  cpu?: CpuUsage;
  failure?: string;
}

export interface Harness {
  machine: Machine;
  cores: number;
  svcUrl: string;
  /** Absent when no selected workload runs the naive baseline. */
  naiveUrl?: string;
  naive?: NaiveCache;
  /** Absent when Redis could not be used: `redisMissing` says why. */
  redis?: RedisCache;
  redisMissing?: string;
  port: number;
  service: ServiceProcess;
  client: HttpClient;
  readySeconds: number;
  assertAlive(): void;
  /** Another keep-alive client of the service (closed by cleanup). */
  httpClient(port: number, maxSockets: number): HttpClient;
  /**
   * A child program like the service (bench/noop-server.ts; the service itself when `script` is undefined),
   * ready; on the service's database unless `databaseUrl`; stopped by cleanup or `stopChild`.
   */
  startChild(script: string | undefined, options?: { databaseUrl?: string; env?: Record<string, string> }): Promise<{ child: ServiceProcess; client: HttpClient }>;
  /** Stops a child: SIGTERM (it drains), or SIGKILL. */
  stopChild(child: ServiceProcess, signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** A scratch database of a workload's own (migrated by the service that opens it; dropped by cleanup). */
  scratchDatabase(label: string): Promise<{ name: string; url: string }>;
  /** Something to release at cleanup, after the children are stopped. */
  onCleanup(release: () => Promise<void>): void;
  /** CPU (the process `pid` counted as the service) around `run`; a throw is recorded as the failure. */
  measure<T>(pid: number | undefined, run: () => Promise<T>): Promise<Timed<T>>;
  /** `measure` of the service, with its writer counters; checks it is alive before and after. */
  measureService<T>(run: () => Promise<T>): Promise<Timed<T> & { metrics?: ServiceMetrics }>;
  measureNaive<T>(run: () => Promise<T>): Promise<Timed<T> & { statements: number }>;
  measureRedis<T>(run: () => Promise<T>): Promise<Timed<T> & { redisCommands: number }>;
}

export async function setUp(options: { naive: boolean; redis: boolean }): Promise<Harness> {
  const machine = await describeMachine();
  const tag = `${process.pid}_${Date.now().toString(36)}`;
  const svcDb = `bench_svc_${tag}`;
  const naiveDb = options.naive ? `bench_naive_${tag}` : undefined;
  for (const db of [svcDb, ...(naiveDb ? [naiveDb] : [])]) {
    await createDatabase(db);
    resources.dbs.push(db);
  }
  log(`created databases ${resources.dbs.join(' and ')}`);
  const svcUrl = databaseUrl(svcDb);
  const naiveUrl = naiveDb ? databaseUrl(naiveDb) : undefined;
  if (naiveUrl) await migrateDatabase(naiveUrl, ROOT);

  const port = await freePort();
  const nodeFlags: string[] = [];
  if (CFG.cpuProf) {
    resources.profDir = mkdtempSync(path.join(os.tmpdir(), 'bench-cpu-prof-'));
    nodeFlags.push('--cpu-prof', '--cpu-prof-dir', resources.profDir);
  }
  const preload = CFG.childTrace ? ['./bench/child-trace.ts'] : [];
  const service = new ServiceProcess({
    root: ROOT,
    databaseUrl: svcUrl,
    port,
    nodeFlags,
    preload,
    env: { MESSAGE_LIMIT: String(CFG.messageLimit), LOG_LEVEL: CFG.serviceLogLevel },
  });
  resources.service = service;
  const client = new HttpClient(port, 64);
  resources.clients.push(client);
  const readySeconds = await service.waitReady(client, 90_000);
  log(`service pid ${String(service.pid)} ready on 127.0.0.1:${port} after ${f1(readySeconds)} s`);

  let naive: NaiveCache | undefined;
  if (naiveUrl) {
    naive = new NaiveCache(naiveUrl, 32);
    resources.naive = naive;
    await naive.warm(32);
  }
  let redis: RedisCache | undefined;
  let redisMissing: string | undefined;
  if (options.redis) {
    try {
      redis = await RedisCache.open(CFG.redisUrl, CFG.redisDb);
      resources.redis = redis;
      log(`Redis baseline on ${CFG.redisUrl}, database ${CFG.redisDb} (flushed)`);
    } catch (err) {
      redisMissing = `no Redis baseline: ${errMsg(err)}`;
      log(redisMissing);
    }
  }

  const assertAlive = () => {
    if (!service.running) throw new Error(`the service exited (${service.exitDescription}):\n${service.recentOutput()}`);
  };
  const measure = async <T>(pid: number | undefined, run: () => Promise<T>): Promise<Timed<T>> => {
    try {
      const c0 = cpuSnapshot(pid);
      const value = await run();
      const c1 = cpuSnapshot(pid);
      return { value, cpu: cpuDelta(c0, c1, await postgresPids(resources.dbs)) };
    } catch (err) {
      return { failure: errMsg(err) };
    }
  };

  return {
    machine,
    cores: machine.nproc,
    svcUrl,
    ...(naiveUrl ? { naiveUrl } : {}),
    ...(naive ? { naive } : {}),
    ...(redis ? { redis } : {}),
    ...(redisMissing ? { redisMissing } : {}),
    port,
    service,
    client,
    readySeconds,
    assertAlive,
    httpClient(p, maxSockets) {
      const c = new HttpClient(p, maxSockets);
      resources.clients.push(c);
      return c;
    },
    async startChild(script, options = {}) {
      const childPort = await freePort();
      const child = new ServiceProcess({
        root: ROOT,
        databaseUrl: options.databaseUrl ?? svcUrl,
        port: childPort,
        ...(script === undefined ? {} : { script }),
        env: { MESSAGE_LIMIT: String(CFG.messageLimit), LOG_LEVEL: CFG.serviceLogLevel, ...options.env },
      });
      resources.children.push(child);
      const c = new HttpClient(childPort, 64);
      resources.clients.push(c);
      await child.waitReady(c, 60_000);
      return { child, client: c };
    },
    async stopChild(child, signal = 'SIGTERM') {
      await (signal === 'SIGKILL' ? child.kill() : child.stop());
      resources.children.splice(resources.children.indexOf(child), 1);
    },
    async scratchDatabase(label) {
      const name = `bench_${label}_${tag}`;
      await createDatabase(name);
      resources.dbs.push(name);
      return { name, url: databaseUrl(name) };
    },
    onCleanup(release) {
      resources.extra.push(release);
    },
    measure,
    async measureService(run) {
      try {
        assertAlive();
        const m0 = await scrapeMetrics(client);
        const r = await measure(service.pid, run);
        if (r.failure) return r;
        assertAlive();
        return { ...r, metrics: metricsDelta(m0, await scrapeMetrics(client)) };
      } catch (err) {
        return { failure: errMsg(err) };
      }
    },
    async measureNaive(run) {
      if (!naive) return { failure: 'no naive baseline', statements: 0 };
      const s0 = naive.statements;
      const r = await measure(undefined, run);
      return { ...r, statements: naive.statements - s0 };
    },
    async measureRedis(run) {
      if (!redis) return { failure: redisMissing ?? 'no Redis baseline', redisCommands: 0 };
      const s0 = redis.commands;
      const r = await measure(undefined, run);
      return { ...r, redisCommands: redis.commands - s0 };
    },
  };
}
