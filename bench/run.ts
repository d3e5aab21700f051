/**
 * `npm run bench`: the service (child process, over HTTP on 127.0.0.1) against a naive one-statement-per-row
 * PostgreSQL cache, each on its own fresh scratch database, on four workloads:
 *   (1) single dispatches (PRESENCE_UPDATE / GUILD_MEMBER_UPDATE / MESSAGE_CREATE mix), 32 concurrent clients;
 *   (2) arrays of 500 dispatches of the same mix, a few concurrent clients;
 *   (3) one GUILD_CREATE with 100,000 members (with users), channels and roles;
 *   (4) reads: GET a member (with its user) and GET a channel, alternating, over ids that exist (sampled from the
 *       cache database: members of the 20 guilds filled by the warm-up, (1) and (2), and their channels; any
 *       non-200 is a failure): 32 clients in a closed loop (saturation), then paced at a fixed offered rate
 *       (open loop, 5,000 reads/s by default, ~8 s) for the latency at that rate, and (service only, when it is
 *       below that rate) paced at half the closed-loop rate for 5 s: latency short of saturation. The naive side
 *       reads the same ids in-process with one prepared SELECT by primary key each (no HTTP, no JSON), for reference.
 * Prints a markdown table, per-workload details and the machine. Every loop is bounded in count and time; the
 * child is killed and the databases dropped at the end, also on error or Ctrl-C.
 *
 * Knobs (environment, all optional): BENCH_SINGLE_EVENTS, BENCH_ARRAYS, BENCH_BIG_MEMBERS, BENCH_NAIVE_SAMPLE,
 * BENCH_NAIVE_BUDGET_MS, BENCH_WARMUP_EVENTS, BENCH_READS (reads of the closed-loop run (4), default 60,000, at
 * most 18 s; the paced run does min(BENCH_READS, 8 s × rate)), BENCH_READS_RATE (offered rate of the paced run (4),
 * default 5,000/s), BENCH_MESSAGE_LIMIT (the service's MESSAGE_LIMIT, default 200),
 * BENCH_SERVICE_LOG_LEVEL (the service's LOG_LEVEL, default warn), BENCH_ADMIN_URL (where scratch databases are created),
 * BENCH_CPU_PROF=1 (profile the child with --cpu-prof and print a summary), BENCH_CHILD_TRACE=1 (the child
 * reports the signals it receives and where it exits: see child-trace.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createDatabase,
  databaseUrl,
  describeMachine,
  dropDatabase,
  migrateDatabase,
  postgresPids,
  tableCounts,
  type Counts,
  type Machine,
} from './db.js';
import { cpuDelta, cpuSnapshot, percentile, runLoad, type CpuUsage, type LoadResult } from './load.js';
import { NaiveCache } from './naive.js';
import {
  READ_KINDS,
  existingIds,
  histogramDelta,
  histogramQuantileBound,
  httpRead,
  readSequence,
  readsPerSecond,
  runClosed,
  runPaced,
  sampleIds,
  scrapeRouteHistograms,
  validateReads,
  type ReadIds,
  type ReadItem,
  type ReadKind,
  type ReadResult,
  type RouteHistogram,
} from './reads.js';
import { EventGen, guildCreate, ids, MIX_LABEL, DEFAULT_SPACE, type GatewayPayload } from './payloads.js';
import { summarizeProfiles } from './profile.js';
import { HttpClient, ServiceProcess, freePort, metricsDelta, scrapeMetrics, type ServiceMetrics } from './service.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function num(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? Number.NaN : Number(raw);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : fallback;
}

const CFG = {
  warmupEvents: num('BENCH_WARMUP_EVENTS', 2_000),
  singleEvents: num('BENCH_SINGLE_EVENTS', 40_000),
  singleClients: 32,
  arrays: num('BENCH_ARRAYS', 200),
  arraySize: 500,
  arrayClients: 4,
  bigMembers: num('BENCH_BIG_MEMBERS', 100_000),
  bigChannels: 50,
  bigRoles: 30,
  bigGuild: 1_000,
  naiveBigSample: num('BENCH_NAIVE_SAMPLE', 10_000),
  reads: num('BENCH_READS', 60_000),
  readClients: 32,
  readRate: num('BENCH_READS_RATE', 5_000),
  readPacedSeconds: 8,
  /** Outstanding reads at most in the paced run (= the client's connections; beyond it, reads wait in the pacer and are charged for it). */
  readMaxInFlight: 32,
  /** Member keys sampled for (4). */
  readMembers: 20_000,
  /** (4): closed-loop budget of the service (the naive one gets 8 s: it reads far faster). */
  readBudgetMs: 18_000,
  /** (4): a paced run may overrun its schedule by this much before no new read starts. */
  readPacedSlackMs: 1_500,
  /** (4): the extra service-only paced run at half the closed-loop rate lasts this long. */
  readHalfSeconds: 5,
  /** Per service workload. */
  serviceBudgetMs: 60_000,
  /** Per naive workload. */
  naiveBudgetMs: num('BENCH_NAIVE_BUDGET_MS', 30_000),
  /** MESSAGE_LIMIT of the service (messages kept per channel; 0 = never prune). */
  messageLimit: process.env.BENCH_MESSAGE_LIMIT !== undefined && /^\d+$/.test(process.env.BENCH_MESSAGE_LIMIT) ? Number(process.env.BENCH_MESSAGE_LIMIT) : 200,
  /** The whole run: abort (with cleanup) past this. */
  watchdogMs: 9 * 60_000,
  cpuProf: process.env.BENCH_CPU_PROF === '1' || process.env.BENCH_CPU_PROF === 'true',
};

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ---- resources, released by cleanup() whatever happens ----

const state: {
  dbs: string[];
  service?: ServiceProcess;
  client?: HttpClient;
  readClient?: HttpClient;
  naive?: NaiveCache;
  profDir?: string;
} = { dbs: [] };

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    state.client?.close();
    state.readClient?.close();
    if (state.service) {
      log('stopping the service');
      await state.service.stop().catch((e: unknown) => log(`stopping the service: ${String(e)}`));
    }
    if (state.naive) await state.naive.close().catch(() => {});
    for (const db of state.dbs) {
      try {
        await dropDatabase(db);
        log(`dropped database ${db}`);
      } catch (err) {
        log(`could not drop database ${db}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  })();
  return cleaning;
}

process.on('exit', () => state.service?.killNow());
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ---- formatting ----

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const f1 = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 }) : 'n/a');
const f2 = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: 2, minimumFractionDigits: 2 }) : 'n/a');
const f3 = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: 3, minimumFractionDigits: 3 }) : 'n/a');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${f1(a / b)}×` : 'n/a');
const errMsg = (e: unknown) => (e instanceof Error ? e.message : String(e));

// ---- results ----

interface Measured {
  load?: LoadResult;
  cpu?: CpuUsage;
  metrics?: ServiceMetrics;
  /** Naive statements run. */
  statements?: number;
  failure?: string;
}

const eventsPerSecond = (m: Measured) => (m.load && m.load.errors === 0 ? m.load.events / m.load.seconds : Number.NaN);

interface BigResult {
  seconds: number;
  members: number;
  failure?: string;
  cpu?: CpuUsage;
  metrics?: ServiceMetrics;
  bodyBytes?: number;
  stringifySeconds?: number;
  cachedMembers?: number;
}

interface NaiveBig {
  guildAndChannelsSeconds: number;
  sampleMembers: number;
  sampleSeconds: number;
  extrapolatedSeconds: number;
  statements: number;
}

function describeLoad(name: string, m: Measured, wallCores: number): string[] {
  const out: string[] = [];
  if (m.failure) out.push(`- ${name}: FAILED: ${m.failure}`);
  const l = m.load;
  if (!l) return out;
  out.push(
    `- ${name}: ${f0(l.done)} requests (${f0(l.errors)} failed) carrying ${f0(l.events)} acknowledged events in ${f2(l.seconds)} s` +
      `${l.truncated ? ' (stopped by the time budget)' : ''}; latency p50 ${f2(percentile(l.latencies, 0.5))} ms, ` +
      `p99 ${f2(percentile(l.latencies, 0.99))} ms, max ${f2(percentile(l.latencies, 1))} ms`,
  );
  if (l.errorSamples.length > 0) out.push(`  - errors: ${l.errorSamples.map((e) => JSON.stringify(e)).join('; ')}`);
  if (m.metrics) {
    const x = m.metrics;
    out.push(
      `  - service writer: ${f0(x.transactions)} transactions, ${f1(x.batchEvents / x.transactions)} events/transaction, ` +
        `${f0(x.statements)} SQL statements (${f2(x.statements / Math.max(1, l.events))}/event), ` +
        `commit time ${f2(x.commitSeconds)} s = ${f0((100 * x.commitSeconds) / l.seconds)}% of wall`,
    );
  }
  if (m.statements !== undefined) {
    out.push(`  - naive: ${f0(m.statements)} autocommit statements (${f2(m.statements / Math.max(1, l.events))}/event)`);
  }
  if (m.cpu) out.push(`  - CPU: ${cpuLine(m.cpu, l.seconds, wallCores, m.statements !== undefined)}`);
  return out;
}

function cpuLine(c: CpuUsage, seconds: number, cores: number, naive = false): string {
  const share = (s: number) => `${f1(s)} s (${f0((100 * s) / (seconds * cores))}% of ${cores} cores)`;
  const app = naive ? `bench process = the naive cache ${share(c.bench)}` : `bench process ${share(c.bench)}, service ${share(c.service)}`;
  return `${app}, postgres (bench databases + background processes) ${share(c.postgres)}; other processes on the machine ${share(c.other)}`;
}

const READ_ROUTES: Record<ReadKind, string> = { member: '/v1/guilds/:guildId/members/:userId', channel: '/v1/channels/:channelId' };

interface ReadMeasured {
  result?: ReadResult;
  cpu?: CpuUsage;
  /** Service side: Fastify's request duration histogram per read kind, over the run. */
  server?: Map<ReadKind, RouteHistogram>;
  /** Naive statements run. */
  statements?: number;
  failure?: string;
}

const mean = (xs: Float64Array) => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
const pq = (xs: Float64Array) => `p50 ${f2(percentile(xs, 0.5))}, p99 ${f2(percentile(xs, 0.99))}, max ${f2(percentile(xs, 1))} ms`;

function describeReads(name: string, m: ReadMeasured, wallCores: number): string[] {
  const out: string[] = [];
  if (m.failure) out.push(`- ${name}: FAILED: ${m.failure}`);
  const r = m.result;
  if (!r) return out;
  const ok = r.latencies.length;
  const head =
    `- ${name}: ${f0(r.done)} of ${f0(r.planned)} reads started (${f0(r.errors)} failed)` +
    `${r.truncated ? ' (stopped by the time budget)' : ''}, ${f0(ok)} answered 200 in ${f2(r.seconds)} s = ${f0(ok / r.seconds)} reads/s`;
  if (r.mode === 'closed') {
    out.push(`${head}; latency ${pq(r.latencies)} (mean ${f2(mean(r.latencies))} ms); peak in flight ${r.peakInFlight}`);
  } else {
    out.push(
      `${head} (offered ${f0(r.rate ?? Number.NaN)}/s); latency from the due time ${pq(r.latencies)} (mean ${f2(mean(r.latencies))} ms); ` +
        `from the send ${pq(r.sendLatencies ?? new Float64Array())}; worst send lag ${f2(r.maxSendLag ?? Number.NaN)} ms; peak in flight ${r.peakInFlight}`,
    );
  }
  out.push(`  - by kind: ${READ_KINDS.map((k) => `${k} ${f0(r.byKind[k].length)} reads, ${pq(r.byKind[k])}`).join('; ')}`);
  if (r.errorSamples.length > 0) out.push(`  - errors: ${r.errorSamples.map((e) => JSON.stringify(e)).join('; ')}`);
  if (m.server) {
    const parts = READ_KINDS.map((k) => {
      const h = m.server!.get(k);
      if (!h || h.count <= 0) return `${k}: no samples`;
      const serverMean = (1000 * h.sum) / h.count;
      const clientMean = mean(r.sendByKind?.[k] ?? r.byKind[k]);
      return (
        `${k} ${f0(h.count)} requests, mean ${f3(serverMean)} ms, p50 ≤ ${f1(histogramQuantileBound(h, 0.5))} ms, ` +
        `p99 ≤ ${f1(histogramQuantileBound(h, 0.99))} ms (client-side mean${r.mode === 'paced' ? ' from the send' : ''} ${f2(clientMean)} ms)`
      );
    });
    out.push(`  - inside the service (Fastify's elapsedTime, from /metrics; quantiles are bucket bounds): ${parts.join('; ')}`);
  }
  if (m.statements !== undefined) out.push(`  - naive: ${f0(m.statements)} SELECT statements`);
  if (m.cpu) {
    out.push(`  - CPU: ${cpuLine(m.cpu, r.seconds, wallCores, m.statements !== undefined)}`);
    const us = (sec: number) => `${f0((1e6 * sec) / Math.max(1, r.done))} µs`;
    out.push(
      `  - CPU per read: ${m.statements !== undefined ? `bench process (the naive reader) ${us(m.cpu.bench)}` : `service ${us(m.cpu.service)}, bench process (HTTP client) ${us(m.cpu.bench)}`}, ` +
        `postgres ${us(m.cpu.postgres)}; total ${us(m.cpu.bench + m.cpu.service + m.cpu.postgres)} ` +
        `(${wallCores} cores at 5,000 reads/s allow ${f0((1e6 * wallCores) / 5_000)} µs in all)`,
    );
  }
  return out;
}

function countsLine(c: Counts): string {
  return Object.entries(c)
    .map(([t, n]) => `${t}=${f0(n)}`)
    .join(', ');
}

// ---- the run ----

async function main() {
  const watchdog = setTimeout(() => {
    log(`the run exceeded ${CFG.watchdogMs / 60_000} minutes: aborting`);
    void cleanup().finally(() => process.exit(1));
  }, CFG.watchdogMs);
  watchdog.unref();

  const runStarted = performance.now();
  const loadAtStart = os.loadavg().map((x) => x.toFixed(2)).join(' / ');
  const machine: Machine = await describeMachine();
  const cores = machine.nproc;
  const tag = `${process.pid}_${Date.now().toString(36)}`;
  const svcDb = `bench_svc_${tag}`;
  const naiveDb = `bench_naive_${tag}`;
  for (const db of [svcDb, naiveDb]) {
    await createDatabase(db);
    state.dbs.push(db);
  }
  log(`created databases ${svcDb} and ${naiveDb}`);
  const svcUrl = databaseUrl(svcDb);
  const naiveUrl = databaseUrl(naiveDb);
  await migrateDatabase(naiveUrl, ROOT);

  // ---- start the service ----
  const port = await freePort();
  const nodeFlags: string[] = [];
  if (CFG.cpuProf) {
    state.profDir = mkdtempSync(path.join(os.tmpdir(), 'bench-cpu-prof-'));
    nodeFlags.push('--cpu-prof', '--cpu-prof-dir', state.profDir);
  }
  const preload = process.env.BENCH_CHILD_TRACE === '1' ? ['./bench/child-trace.ts'] : [];
  const service = new ServiceProcess({ root: ROOT, databaseUrl: svcUrl, port, nodeFlags, preload, env: { MESSAGE_LIMIT: String(CFG.messageLimit), LOG_LEVEL: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'warn' } });
  state.service = service;
  const client = new HttpClient(port, 64);
  state.client = client;
  const readySeconds = await service.waitReady(client, 90_000);
  log(`service pid ${String(service.pid)} ready on 127.0.0.1:${port} after ${f1(readySeconds)} s`);

  const naive = new NaiveCache(naiveUrl, 32);
  state.naive = naive;
  await naive.warm(32);

  const assertAlive = () => {
    if (!service.running) throw new Error(`the service exited (${service.exitDescription}):\n${service.recentOutput()}`);
  };

  // ---- seed: the 20 guilds (channels, roles), then an untimed warm-up on both sides ----
  const seeds: GatewayPayload[] = [];
  for (let g = 0; g < DEFAULT_SPACE.guilds; g++) {
    seeds.push(guildCreate({ guild: g, channels: DEFAULT_SPACE.channelsPerGuild, roles: DEFAULT_SPACE.rolesPerGuild, memberUsers: [g], seed: 1_000 + g }));
  }
  for (const s of seeds) {
    await client.dispatch(JSON.stringify(s), 1);
    await naive.handle(s);
  }
  const warm = new EventGen({ seed: 1, messageSeqStart: 0 }).take(CFG.warmupEvents);
  const warmBodies = warm.map((e) => JSON.stringify(e));
  const warmSvc = await runLoad({ items: warmBodies, concurrency: CFG.singleClients, budgetMs: 15_000, weight: () => 1, run: (b) => client.dispatch(b, 1) });
  const warmNaive = await runLoad({ items: warm, concurrency: CFG.singleClients, budgetMs: 15_000, weight: () => 1, run: (e) => naive.handle(e) });
  log(`seeded ${seeds.length} guilds; warm-up ${warm.length} events: service ${f2(warmSvc.seconds)} s (${warmSvc.errors} errors), naive ${f2(warmNaive.seconds)} s (${warmNaive.errors} errors)`);
  if (warmSvc.errors > 0) log(`warm-up errors (service): ${warmSvc.errorSamples.join(' | ')}`);
  if (warmNaive.errors > 0) log(`warm-up errors (naive): ${warmNaive.errorSamples.join(' | ')}`);
  assertAlive();

  /** Measures one service workload: CPU and writer metrics around it; failures are recorded, not thrown. */
  const measureService = async <T>(run: () => Promise<T>): Promise<{ value?: T; cpu?: CpuUsage; metrics?: ServiceMetrics; failure?: string }> => {
    try {
      assertAlive();
      const m0 = await scrapeMetrics(client);
      const c0 = cpuSnapshot(service.pid);
      const value = await run();
      const c1 = cpuSnapshot(service.pid);
      const cpu = cpuDelta(c0, c1, await postgresPids(state.dbs));
      assertAlive();
      const m1 = await scrapeMetrics(client);
      return { value, cpu, metrics: metricsDelta(m0, m1) };
    } catch (err) {
      return { failure: errMsg(err) };
    }
  };
  const measureNaive = async <T>(run: () => Promise<T>): Promise<{ value?: T; cpu?: CpuUsage; statements: number; failure?: string }> => {
    const s0 = naive.statements;
    const c0 = cpuSnapshot(undefined);
    try {
      const value = await run();
      const c1 = cpuSnapshot(undefined);
      return { value, cpu: cpuDelta(c0, c1, await postgresPids(state.dbs)), statements: naive.statements - s0 };
    } catch (err) {
      return { failure: errMsg(err), statements: naive.statements - s0 };
    }
  };
  const asMeasured = (r: { value?: LoadResult; cpu?: CpuUsage; metrics?: ServiceMetrics; statements?: number; failure?: string }): Measured => {
    const m: Measured = {};
    if (r.value) m.load = r.value;
    if (r.cpu) m.cpu = r.cpu;
    if (r.metrics) m.metrics = r.metrics;
    if (r.statements !== undefined) m.statements = r.statements;
    if (r.failure) m.failure = r.failure;
    else if (r.value && r.value.errors > 0) m.failure = `${r.value.errors} of ${r.value.done} requests failed`;
    return m;
  };

  // ---- (1) single dispatches, 32 clients ----
  const w1Events = new EventGen({ seed: 11, messageSeqStart: 1_000_000 }).take(CFG.singleEvents);
  const w1Bodies = w1Events.map((e) => JSON.stringify(e));
  log(`(1) service: ${f0(w1Bodies.length)} single dispatches, ${CFG.singleClients} clients`);
  const w1Svc = asMeasured(
    await measureService(() =>
      runLoad({ items: w1Bodies, concurrency: CFG.singleClients, budgetMs: CFG.serviceBudgetMs, weight: () => 1, run: (b) => client.dispatch(b, 1) }),
    ),
  );
  log(`(1) service: ${f0(eventsPerSecond(w1Svc))} events/s${w1Svc.failure ? ` (${w1Svc.failure})` : ''}`);
  log(`(1) naive: ${f0(w1Events.length)} events, ${CFG.singleClients} workers, budget ${CFG.naiveBudgetMs / 1000} s`);
  const w1Naive = asMeasured(
    await measureNaive(() =>
      runLoad({ items: w1Events, concurrency: CFG.singleClients, budgetMs: CFG.naiveBudgetMs, weight: () => 1, run: (e) => naive.handle(e) }),
    ),
  );
  log(`(1) naive: ${f0(eventsPerSecond(w1Naive))} events/s`);
  let countsAfter1: { svc: Counts; naive: Counts } | undefined;
  try {
    countsAfter1 = { svc: await tableCounts(svcUrl), naive: await tableCounts(naiveUrl) };
  } catch (err) {
    log(`counting rows: ${errMsg(err)}`);
  }

  // ---- (2) arrays of 500, a few clients ----
  const w2Gen = new EventGen({ seed: 22, messageSeqStart: 10_000_000 });
  const w2Arrays = Array.from({ length: CFG.arrays }, () => w2Gen.take(CFG.arraySize));
  const w2Bodies = w2Arrays.map((a) => JSON.stringify(a));
  log(`(2) service: ${f0(w2Bodies.length)} arrays of ${CFG.arraySize}, ${CFG.arrayClients} clients`);
  const w2Svc = asMeasured(
    await measureService(() =>
      runLoad({
        items: w2Bodies,
        concurrency: CFG.arrayClients,
        budgetMs: CFG.serviceBudgetMs,
        weight: () => CFG.arraySize,
        run: (b) => client.dispatch(b, CFG.arraySize, 120_000),
      }),
    ),
  );
  log(`(2) service: ${f0(eventsPerSecond(w2Svc))} events/s${w2Svc.failure ? ` (${w2Svc.failure})` : ''}`);
  log(`(2) naive: up to ${f0(w2Arrays.length)} arrays, ${CFG.arrayClients} clients, budget ${CFG.naiveBudgetMs / 1000} s`);
  const w2Naive = asMeasured(
    await measureNaive(() =>
      runLoad({
        items: w2Arrays,
        concurrency: CFG.arrayClients,
        budgetMs: CFG.naiveBudgetMs,
        weight: (a) => a.length,
        run: async (arr) => {
          for (const e of arr) await naive.handle(e);
        },
      }),
    ),
  );
  log(`(2) naive: ${f0(eventsPerSecond(w2Naive))} events/s`);

  // ---- (3) one GUILD_CREATE with 100k members ----
  const memberUsers = Array.from({ length: CFG.bigMembers }, (_, i) => i);
  const big = guildCreate({ guild: CFG.bigGuild, channels: CFG.bigChannels, roles: CFG.bigRoles, memberUsers, seed: 33 });
  const t0 = performance.now();
  const bigBody = Buffer.from(JSON.stringify(big));
  const stringifySeconds = (performance.now() - t0) / 1000;
  log(`(3) service: GUILD_CREATE with ${f0(CFG.bigMembers)} members, ${(bigBody.length / 1024 ** 2).toFixed(1)} MiB of JSON`);
  const bigId = ids.guild(CFG.bigGuild);
  const w3SvcRaw = await measureService(async () => {
    const started = performance.now();
    await client.dispatch(bigBody, 1, 300_000);
    return (performance.now() - started) / 1000;
  });
  const w3Svc: BigResult = { seconds: w3SvcRaw.value ?? Number.NaN, members: CFG.bigMembers, bodyBytes: bigBody.length, stringifySeconds };
  if (w3SvcRaw.failure) w3Svc.failure = w3SvcRaw.failure;
  if (w3SvcRaw.cpu) w3Svc.cpu = w3SvcRaw.cpu;
  if (w3SvcRaw.metrics) w3Svc.metrics = w3SvcRaw.metrics;
  if (!w3Svc.failure) {
    try {
      w3Svc.cachedMembers = (await tableCounts(svcUrl, { members: `guild_id = ${bigId}` })).members;
    } catch (err) {
      log(`counting members: ${errMsg(err)}`);
    }
  }
  log(`(3) service: ${f3(w3Svc.seconds)} s${w3Svc.failure ? ` (${w3Svc.failure})` : ''}`);

  log(`(3) naive: guild + channels, then a sample of ${f0(CFG.naiveBigSample)} members one statement per row`);
  const members = big.d.members as Record<string, unknown>[];
  const w3NaiveRaw = await measureNaive(async (): Promise<NaiveBig> => {
    const s0 = naive.statements;
    const a = performance.now();
    await naive.guildAndChannels(big.d);
    const guildAndChannelsSeconds = (performance.now() - a) / 1000;
    const b = performance.now();
    const deadline = b + CFG.naiveBudgetMs;
    const sample = Math.min(CFG.naiveBigSample, members.length);
    let done = 0;
    while (done < sample && performance.now() < deadline) await naive.guildMember(bigId, members[done++]!);
    const sampleSeconds = (performance.now() - b) / 1000;
    return {
      guildAndChannelsSeconds,
      sampleMembers: done,
      sampleSeconds,
      extrapolatedSeconds: guildAndChannelsSeconds + (sampleSeconds * members.length) / Math.max(1, done),
      statements: naive.statements - s0,
    };
  });
  const w3Naive = w3NaiveRaw.value;
  log(`(3) naive: ${w3Naive ? `${f1(w3Naive.extrapolatedSeconds)} s extrapolated` : `FAILED: ${w3NaiveRaw.failure ?? '?'}`}`);

  // ---- (4) reads: GET member / GET channel over existing ids; closed loop, then paced ----
  const pacedReads = Math.min(CFG.reads, Math.round(CFG.readRate * CFG.readPacedSeconds));
  const smallGuilds = Array.from({ length: DEFAULT_SPACE.guilds }, (_, g) => ids.guild(g));
  let svcIds: ReadIds | undefined;
  let naiveIds: ReadIds | undefined;
  let idsFailure: string | undefined;
  try {
    svcIds = await sampleIds(svcUrl, smallGuilds, CFG.readMembers);
    naiveIds = await existingIds(naiveUrl, svcIds);
  } catch (err) {
    idsFailure = `sampling ids: ${errMsg(err)}`;
  }
  const readClient = new HttpClient(port, CFG.readClients);
  state.readClient = readClient;
  const readHttp = httpRead(readClient);
  const readNaive = (item: ReadItem) => (item.kind === 'member' ? naive.readMember(item.key[0]!, item.key[1]!) : naive.readChannel(item.key[0]!));
  /** A service read run with CPU, and the service's own duration histograms of the two routes. */
  const measureServiceReads = async (run: () => Promise<ReadResult>): Promise<ReadMeasured> => {
    const routes = READ_KINDS.map((k) => READ_ROUTES[k]);
    let h0: Map<string, RouteHistogram> | undefined;
    try {
      h0 = await scrapeRouteHistograms(client, routes);
    } catch (err) {
      log(`(4) scraping /metrics: ${errMsg(err)}`);
    }
    const r = await measureService(run);
    const m: ReadMeasured = {};
    if (r.value) m.result = r.value;
    if (r.cpu) m.cpu = r.cpu;
    if (r.failure) m.failure = r.failure;
    else if (r.value && r.value.errors > 0) m.failure = `${r.value.errors} of ${r.value.done} reads failed`;
    if (h0 && !r.failure) {
      try {
        const h1 = await scrapeRouteHistograms(client, routes);
        m.server = new Map(READ_KINDS.map((k) => [k, histogramDelta(h0.get(READ_ROUTES[k])!, h1.get(READ_ROUTES[k])!)]));
      } catch (err) {
        log(`(4) scraping /metrics: ${errMsg(err)}`);
      }
    }
    return m;
  };
  const measureNaiveReads = async (run: () => Promise<ReadResult>): Promise<ReadMeasured> => {
    const r = await measureNaive(run);
    const m: ReadMeasured = { statements: r.statements };
    if (r.value) m.result = r.value;
    if (r.cpu) m.cpu = r.cpu;
    if (r.failure) m.failure = r.failure;
    else if (r.value && r.value.errors > 0) m.failure = `${r.value.errors} of ${r.value.done} reads failed`;
    return m;
  };
  const noIds = (why: string): ReadMeasured => ({ failure: why });
  let readValidation: string[] = [];
  let w4Svc: ReadMeasured;
  let w4SvcPaced: ReadMeasured;
  /** Service only: paced at half the closed-loop rate (when that is below CFG.readRate): latency short of saturation. */
  let w4SvcHalf: ReadMeasured | undefined;
  if (!svcIds || svcIds.members.length === 0 || svcIds.channels.length === 0) {
    const why = idsFailure ?? `no ids to read (${svcIds?.members.length ?? 0} members, ${svcIds?.channels.length ?? 0} channels)`;
    w4Svc = noIds(why);
    w4SvcPaced = noIds(why);
  } else {
    log(`(4) service: ${f0(svcIds.members.length)} members, ${f0(svcIds.channels.length)} channels; validating 400 answers, warm-up`);
    try {
      assertAlive();
      readValidation = await validateReads(readClient, readSequence(svcIds, 400));
      const warmReads = await runClosed(readSequence(svcIds, 4_000, 5_000), CFG.readClients, 10_000, readHttp);
      if (warmReads.errors > 0) log(`(4) warm-up: ${warmReads.errors} errors: ${warmReads.errorSamples.join(' | ')}`);
    } catch (err) {
      readValidation.push(`validation/warm-up: ${errMsg(err)}`);
    }
    if (readValidation.length > 0) log(`(4) validation problems: ${readValidation.join(' | ')}`);
    log(`(4) service: ${f0(CFG.reads)} reads, ${CFG.readClients} clients, closed loop`);
    w4Svc = await measureServiceReads(() => runClosed(readSequence(svcIds, CFG.reads), CFG.readClients, CFG.readBudgetMs, readHttp));
    log(`(4) service: ${f0(w4Svc.result ? readsPerSecond(w4Svc.result) : Number.NaN)} reads/s${w4Svc.failure ? ` (${w4Svc.failure})` : ''}`);
    log(`(4) service: ${f0(pacedReads)} reads paced at ${f0(CFG.readRate)}/s`);
    w4SvcPaced = await measureServiceReads(() =>
      runPaced(readSequence(svcIds, pacedReads, 20_000), CFG.readRate, CFG.readMaxInFlight, (1000 * pacedReads) / CFG.readRate + CFG.readPacedSlackMs, readHttp),
    );
    log(`(4) service paced: p99 ${f2(w4SvcPaced.result ? percentile(w4SvcPaced.result.latencies, 0.99) : Number.NaN)} ms${w4SvcPaced.failure ? ` (${w4SvcPaced.failure})` : ''}`);
    const closedRate = w4Svc.result && !w4Svc.failure ? w4Svc.result.latencies.length / w4Svc.result.seconds : Number.NaN;
    const halfRate = Math.max(100, Math.round(closedRate / 200) * 100);
    if (Number.isFinite(closedRate) && halfRate < CFG.readRate) {
      const n = Math.round(halfRate * CFG.readHalfSeconds);
      log(`(4) service: ${f0(n)} reads paced at ${f0(halfRate)}/s (half the closed-loop rate)`);
      w4SvcHalf = await measureServiceReads(() =>
        runPaced(readSequence(svcIds, n, 40_000), halfRate, CFG.readMaxInFlight, (1000 * n) / halfRate + CFG.readPacedSlackMs, readHttp),
      );
      log(`(4) service paced at ${f0(halfRate)}/s: p99 ${f2(w4SvcHalf.result ? percentile(w4SvcHalf.result.latencies, 0.99) : Number.NaN)} ms`);
    }
  }
  let w4Naive: ReadMeasured;
  let w4NaivePaced: ReadMeasured;
  if (!naiveIds || naiveIds.members.length === 0 || naiveIds.channels.length === 0) {
    const why = idsFailure ?? `no ids to read (${naiveIds?.members.length ?? 0} members, ${naiveIds?.channels.length ?? 0} channels)`;
    w4Naive = noIds(why);
    w4NaivePaced = noIds(why);
  } else {
    log(`(4) naive: ${f0(naiveIds.members.length)} members, ${f0(naiveIds.channels.length)} channels; warm-up, then ${f0(CFG.reads)} reads, ${CFG.readClients} workers`);
    const warmNaiveReads = await runClosed(readSequence(naiveIds, 4_000, 5_000), CFG.readClients, 10_000, readNaive);
    if (warmNaiveReads.errors > 0) log(`(4) naive warm-up: ${warmNaiveReads.errors} errors: ${warmNaiveReads.errorSamples.join(' | ')}`);
    w4Naive = await measureNaiveReads(() =>
      runClosed(readSequence(naiveIds, CFG.reads), CFG.readClients, Math.min(8_000, CFG.naiveBudgetMs), readNaive),
    );
    log(`(4) naive: ${f0(w4Naive.result ? readsPerSecond(w4Naive.result) : Number.NaN)} reads/s; paced at ${f0(CFG.readRate)}/s`);
    w4NaivePaced = await measureNaiveReads(() =>
      runPaced(readSequence(naiveIds, pacedReads, 20_000), CFG.readRate, CFG.readMaxInFlight, (1000 * pacedReads) / CFG.readRate + CFG.readPacedSlackMs, readNaive),
    );
  }
  if (readValidation.length > 0 && !w4Svc.failure) w4Svc.failure = `answers failed validation: ${readValidation.join(' | ')}`;

  // ---- report ----
  const peakRss = (() => {
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${String(service.pid)}/status`, 'utf8'));
      return m ? `${(Number(m[1]) / 1024).toFixed(0)} MiB` : 'n/a';
    } catch {
      return 'n/a';
    }
  })();

  const e1s = eventsPerSecond(w1Svc);
  const e1n = eventsPerSecond(w1Naive);
  const e2s = eventsPerSecond(w2Svc);
  const e2n = eventsPerSecond(w2Naive);
  const p = (m: Measured, q: number) => (m.load && !m.failure ? percentile(m.load.latencies, q) : Number.NaN);
  const w3n = w3Naive?.extrapolatedSeconds ?? Number.NaN;
  const w3s = w3Svc.failure ? Number.NaN : w3Svc.seconds;
  const naiveMembersPerSecond = w3Naive ? w3Naive.sampleMembers / w3Naive.sampleSeconds : Number.NaN;
  const fail = (m: { failure?: string }, v: string) => (m.failure ? `FAILED` : v);

  const out: string[] = [];
  out.push('');
  out.push('## discord-state-cache benchmark');
  out.push('');
  out.push(
    `Event mix: ${MIX_LABEL}; id space ${DEFAULT_SPACE.guilds} guilds × ${DEFAULT_SPACE.channelsPerGuild} channels ` +
      `(${DEFAULT_SPACE.guilds * DEFAULT_SPACE.channelsPerGuild}), ${f0(DEFAULT_SPACE.users)} users, each user in 2 guilds. ` +
      `Service: child process, HTTP keep-alive on 127.0.0.1, MESSAGE_LIMIT=${CFG.messageLimit}, QUEUE_LIMIT=1000000, BODY_LIMIT=256mb. ` +
      `Naive: in-process pg Pool(32), one autocommit INSERT … ON CONFLICT DO UPDATE per row (no HTTP, no JSON parsing).`,
  );
  out.push('');
  out.push('| workload | service | naive | ratio |');
  out.push('|---|---:|---:|---:|');
  const sampled = (label: string, m: Measured) => (m.load?.truncated ? `; ${label} stopped by its time budget after ${f0(m.load.events)} events` : '');
  out.push(
    `| (1) single dispatch, ${CFG.singleClients} clients, ${f0(CFG.singleEvents)} events${sampled('service', w1Svc)}${sampled('naive', w1Naive)}: events/s | ${fail(w1Svc, f0(e1s))} | ${fail(w1Naive, f0(e1n))} | ${ratio(e1s, e1n)} |`,
  );
  out.push(`| (1) ack latency p50, ms (ratio = naive/service) | ${f2(p(w1Svc, 0.5))} | ${f2(p(w1Naive, 0.5))} | ${ratio(p(w1Naive, 0.5), p(w1Svc, 0.5))} |`);
  out.push(`| (1) ack latency p99, ms (ratio = naive/service) | ${f2(p(w1Svc, 0.99))} | ${f2(p(w1Naive, 0.99))} | ${ratio(p(w1Naive, 0.99), p(w1Svc, 0.99))} |`);
  out.push(
    `| (2) arrays of ${CFG.arraySize}, ${CFG.arrayClients} clients, ${f0(CFG.arrays * CFG.arraySize)} events${sampled('service', w2Svc)}${sampled('naive', w2Naive)}: events/s | ${fail(w2Svc, f0(e2s))} | ${fail(w2Naive, f0(e2n))} | ${ratio(e2s, e2n)} |`,
  );
  out.push(
    `| (3) GUILD_CREATE ${f0(CFG.bigMembers)} members: seconds (naive extrapolated from a ${f0(w3Naive?.sampleMembers ?? 0)}-member sample; ratio = naive/service) | ${fail(w3Svc, f3(w3s))} | ${w3Naive ? f1(w3n) : 'FAILED'} | ${ratio(w3n, w3s)} |`,
  );
  out.push(
    `| (3) GUILD_CREATE: members/s | ${fail(w3Svc, f0(CFG.bigMembers / w3s))} | ${w3Naive ? f0(naiveMembersPerSecond) : 'FAILED'} | ${ratio(CFG.bigMembers / w3s, naiveMembersPerSecond)} |`,
  );
  const r4 = (m: ReadMeasured) => (m.result && !m.failure ? readsPerSecond(m.result) : Number.NaN);
  const q4 = (m: ReadMeasured, q: number) => (m.result && !m.failure ? percentile(m.result.latencies, q) : Number.NaN);
  const achieved = (m: ReadMeasured) => (m.result ? f0(m.result.latencies.length / m.result.seconds) : 'n/a');
  const reads4 = `${f0(CFG.reads)} GETs alternating member (with user) / channel over existing ids`;
  out.push(
    `| (4) reads, ${CFG.readClients} clients, closed loop, ${reads4}${w4Svc.result?.truncated ? '; service stopped by its time budget' : ''}` +
      `${w4Naive.result?.truncated ? '; naive stopped by its time budget' : ''}: reads/s (naive: in-process pg Pool(32), one SELECT by primary key, no HTTP/JSON) | ` +
      `${fail(w4Svc, f0(r4(w4Svc)))} | ${fail(w4Naive, f0(r4(w4Naive)))} | ${ratio(r4(w4Svc), r4(w4Naive))} |`,
  );
  for (const [label, qq] of [['p50', 0.5], ['p99', 0.99], ['max', 1]] as const) {
    out.push(`| (4) closed-loop read latency ${label}, ms (ratio = naive/service) | ${f2(q4(w4Svc, qq))} | ${f2(q4(w4Naive, qq))} | ${ratio(q4(w4Naive, qq), q4(w4Svc, qq))} |`);
  }
  for (const [label, qq] of [['p50', 0.5], ['p99', 0.99], ['max', 1]] as const) {
    out.push(
      `| (4) paced at ${f0(CFG.readRate)} reads/s offered, ${f0(pacedReads)} reads (achieved: service ${achieved(w4SvcPaced)}/s, naive ${achieved(w4NaivePaced)}/s): ` +
        `latency ${label} from the due time, ms (ratio = naive/service) | ${f2(q4(w4SvcPaced, qq))} | ${f2(q4(w4NaivePaced, qq))} | ${ratio(q4(w4NaivePaced, qq), q4(w4SvcPaced, qq))} |`,
    );
  }
  if (w4SvcHalf?.result) {
    const h = w4SvcHalf;
    for (const [label, qq] of [['p50', 0.5], ['p99', 0.99], ['max', 1]] as const) {
      out.push(
        `| (4) service only: paced at ${f0(h.result!.rate ?? Number.NaN)} reads/s offered (half its closed-loop rate; achieved ${achieved(h)}/s): latency ${label} from the due time, ms | ${f2(q4(h, qq))} | — | — |`,
      );
    }
  }
  out.push('');
  const check = (ok: boolean) => (ok ? 'met' : 'NOT met');
  out.push('Targets:');
  out.push(`- (1) ≥ 5,000 events/s: ${f0(e1s)} → ${check(e1s >= 5_000)}; ≥ 3× naive: ${ratio(e1s, e1n)} → ${check(e1s >= 3 * e1n)}`);
  out.push(`- (2) ≥ 50,000 events/s: ${f0(e2s)} → ${check(e2s >= 50_000)}; ≥ 10× naive: ${ratio(e2s, e2n)} → ${check(e2s >= 10 * e2n)}`);
  out.push(`- (3) ≤ 2 s: ${f3(w3s)} s → ${check(w3s <= 2)}; ≥ 10× naive: ${ratio(w3n, w3s)} → ${check(w3n >= 10 * w3s)}`);
  {
    const p99 = q4(w4SvcPaced, 0.99);
    const rate = w4SvcPaced.result && !w4SvcPaced.failure ? w4SvcPaced.result.latencies.length / w4SvcPaced.result.seconds : Number.NaN;
    out.push(
      `- (4) p99 ≤ 2 ms at 5,000 reads/s (on ${cores} cores, bench client included): paced at ${f0(CFG.readRate)}/s offered, achieved ${f0(rate)}/s, ` +
        `p99 ${f2(p99)} ms → ${check(CFG.readRate >= 5_000 && rate >= 0.98 * CFG.readRate && p99 <= 2)}` +
        `; closed loop (saturation): ${f0(r4(w4Svc))} reads/s at p99 ${f2(q4(w4Svc, 0.99))} ms` +
        (w4SvcHalf?.result ? `; paced at ${f0(w4SvcHalf.result.rate ?? Number.NaN)}/s: p99 ${f2(q4(w4SvcHalf, 0.99))} ms` : ''),
    );
  }
  out.push('');
  out.push('Details:');
  out.push(...describeLoad('(1) service', w1Svc, cores));
  out.push(...describeLoad('(1) naive', w1Naive, cores));
  if (countsAfter1) {
    out.push(`- rows after (1): service ${countsLine(countsAfter1.svc)}`);
    out.push(`- rows after (1): naive   ${countsLine(countsAfter1.naive)}`);
    out.push(
      w1Naive.load?.truncated
        ? '  (not comparable: the naive run stopped early)'
        : `  (users, members, presences must match; messages differ when the service prunes (MESSAGE_LIMIT=${CFG.messageLimit}), the naive cache never prunes)`,
    );
  }
  out.push(...describeLoad('(2) service', w2Svc, cores));
  out.push(...describeLoad('(2) naive', w2Naive, cores));
  if (w3Svc.failure) out.push(`- (3) service: FAILED: ${w3Svc.failure}`);
  else {
    out.push(
      `- (3) service: ${f3(w3Svc.seconds)} s from the first byte sent to the answer (HTTP upload of ` +
        `${(bigBody.length / 1024 ** 2).toFixed(1)} MiB, parse, map, one transaction, commit); members cached afterwards: ` +
        `${f0(w3Svc.cachedMembers ?? Number.NaN)}; client-side JSON.stringify (not timed) ${f2(stringifySeconds)} s`,
    );
    if (w3Svc.metrics) {
      out.push(
        `  - service writer: ${f0(w3Svc.metrics.statements)} SQL statements, commit time ${f3(w3Svc.metrics.commitSeconds)} s ` +
          `(the rest of the request, ${f3(w3Svc.seconds - w3Svc.metrics.commitSeconds)} s, is upload + JSON parse + mapping)`,
      );
    }
    if (w3Svc.cpu) out.push(`  - CPU: ${cpuLine(w3Svc.cpu, w3Svc.seconds, cores)}`);
  }
  if (w3Naive) {
    out.push(
      `- (3) naive: guild row + ${CFG.bigChannels} channels ${f3(w3Naive.guildAndChannelsSeconds)} s; ` +
        `${f0(w3Naive.sampleMembers)} members (user + member row each) in ${f2(w3Naive.sampleSeconds)} s; ` +
        `${f0(w3Naive.statements)} statements; extrapolated to ${f0(CFG.bigMembers)} members: ${f1(w3Naive.extrapolatedSeconds)} s`,
    );
  } else out.push(`- (3) naive: FAILED: ${w3NaiveRaw.failure ?? '?'}`);
  if (svcIds) {
    out.push(
      `- (4) ids: ${f0(svcIds.members.length)} members (md5-ordered sample of the members of the ${DEFAULT_SPACE.guilds} small guilds, ` +
        `written by the warm-up, (1) and (2)) and their ${f0(svcIds.channels.length)} channels, read from the service's database; ` +
        `naive: the ${f0(naiveIds?.members.length ?? 0)} members and ${f0(naiveIds?.channels.length ?? 0)} channels of those that exist in its database. ` +
        `Answer check before the timed runs (400 reads: status 200, JSON, the id asked for): ${readValidation.length === 0 ? 'OK' : `PROBLEMS: ${readValidation.join(' | ')}`}`,
    );
  } else out.push(`- (4): ${idsFailure ?? 'no ids'}`);
  out.push(...describeReads('(4) service, closed loop', w4Svc, cores));
  out.push(...describeReads('(4) service, paced', w4SvcPaced, cores));
  if (w4SvcHalf) out.push(...describeReads('(4) service, paced at half the closed-loop rate', w4SvcHalf, cores));
  out.push(...describeReads('(4) naive, closed loop', w4Naive, cores));
  out.push(...describeReads('(4) naive, paced', w4NaivePaced, cores));
  out.push(`- service peak RSS (VmHWM): ${peakRss}; service ready ${f1(readySeconds)} s after spawn (tsx compile + migrations)`);
  out.push('');
  out.push('Machine:');
  out.push(`- nproc: ${machine.nproc}`);
  out.push(`- CPU: ${machine.cpu}`);
  out.push(`- memory: ${machine.memory}`);
  out.push(`- PostgreSQL: ${machine.postgres}`);
  out.push(`- PostgreSQL settings: ${machine.postgresSettings}`);
  out.push(`- Node: ${machine.node}`);
  out.push(`- load average (1/5/15 min) at start: ${loadAtStart}; at end: ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}`);
  out.push(`- benchmark wall time: ${f0((performance.now() - runStarted) / 1000)} s`);
  process.stdout.write(`${out.join('\n')}\n`);

  const failed = [w1Svc.failure, w2Svc.failure, w3Svc.failure, w4Svc.failure, w4SvcPaced.failure, w4SvcHalf?.failure].filter(Boolean);
  if (failed.length > 0) {
    process.stdout.write(`\nService failures:\n${failed.map((f) => `- ${String(f)}`).join('\n')}\n`);
    const tail = service.recentOutput(3000);
    if (tail.trim()) process.stdout.write(`\nLast service output:\n${tail}\n`);
  }
  return failed.length === 0;
}

let ok = false;
try {
  ok = await main();
} catch (err) {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  if (state.service) {
    const tail = state.service.recentOutput(3000);
    if (tail.trim()) log(`last service output:\n${tail}`);
  }
} finally {
  await cleanup();
}
if (state.profDir) {
  process.stdout.write(`\nService CPU profile (BENCH_CPU_PROF=1):\n${summarizeProfiles(state.profDir)}\n`);
  if (process.env.BENCH_KEEP_PROFILE !== '1') rmSync(state.profDir, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);
