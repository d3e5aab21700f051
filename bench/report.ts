/** The report printed at the end of a run: the markdown table, the targets, per-workload details, the machine. */
import os from 'node:os';
import { CFG, WORKLOADS } from './config.js';
import type { Counts, Machine } from './db.js';
import { f0, f1, f2, f3, ratio } from './format.js';
import { eventsPerSecond, type Measured } from './harness.js';
import { percentile, type CpuUsage } from './load.js';
import { DEFAULT_SPACE, MIX_LABEL } from './payloads.js';
import { READ_KINDS, histogramQuantileBound, readsPerSecond } from './reads.js';
import { STORM_SHAPE } from './storm-payloads.js';
import type { ArraysResult } from './workloads/arrays.js';
import type { BigGuildResult } from './workloads/big-guild.js';
import type { HotReads, LocalReadsResult } from './workloads/local-reads.js';
import type { ReadMeasured, ReadsResult } from './workloads/reads.js';
import { reportShards, type ShardsResult } from './workloads/shards.js';
import type { SingleResult } from './workloads/single.js';
import type { StalenessResult } from './workloads/staleness.js';
import type { StormResult } from './workloads/storm.js';
import type { SubscribersResult } from './workloads/subscribers.js';
import { SCOPED_TABLES, type ScopeResult } from './workloads/scope.js';

export interface Results {
  single?: SingleResult;
  arrays?: ArraysResult;
  big?: BigGuildResult;
  reads?: ReadsResult;
  storm?: StormResult;
  shards?: ShardsResult;
  localReads?: LocalReadsResult;
  staleness?: StalenessResult;
  subscribers?: SubscribersResult;
  scope?: ScopeResult;
}

export interface RunInfo {
  machine: Machine;
  readySeconds: number;
  runStarted: number;
  loadAtStart: string;
  peakRss: string;
  redisMissing?: string;
}

/** Whose process the bench process's CPU is: the HTTP client of the service, or a baseline running in it. */
type Side = 'service' | 'naive' | 'redis' | 'noop';

function cpuLine(c: CpuUsage, seconds: number, cores: number, side: Side): string {
  const share = (s: number) => `${f1(s)} s (${f0((100 * s) / (seconds * cores))}% of ${cores} cores)`;
  const app =
    side === 'naive'
      ? `bench process = the naive cache ${share(c.bench)}`
      : side === 'redis'
        ? `bench process = the Redis cache's client ${share(c.bench)}, redis-server ${share(c.redis)}`
        : `bench process ${share(c.bench)}, ${side === 'noop' ? 'do-nothing route' : 'service'} ${share(c.service)}`;
  return `${app}, postgres (bench databases + background processes) ${share(c.postgres)}; other processes on the machine ${share(c.other)}`;
}

function describeLoad(name: string, m: Measured | undefined, cores: number, side: Side, unit = 'events'): string[] {
  const out: string[] = [];
  if (!m) return out;
  if (m.failure) out.push(`- ${name}: FAILED: ${m.failure}`);
  const l = m.load;
  if (!l) return out;
  out.push(
    `- ${name}: ${f0(l.done)} requests (${f0(l.errors)} failed) carrying ${f0(l.events)} acknowledged ${unit} in ${f2(l.seconds)} s` +
      `${l.truncated ? ' (stopped by the time budget)' : ''}; latency p50 ${f2(percentile(l.latencies, 0.5))} ms, ` +
      `p99 ${f2(percentile(l.latencies, 0.99))} ms, max ${f2(percentile(l.latencies, 1))} ms`,
  );
  if (l.errorSamples.length > 0) out.push(`  - errors: ${l.errorSamples.map((e) => JSON.stringify(e)).join('; ')}`);
  if (m.metrics) {
    const x = m.metrics;
    out.push(
      `  - service writer: ${f0(x.transactions)} transactions, ${f1(x.batchEvents / x.transactions)} events/transaction, ` +
        `${f0(x.statements)} SQL statements (${f2(x.statements / Math.max(1, l.events))}/${unit.replace(/s$/, '')}), ` +
        `commit time ${f2(x.commitSeconds)} s = ${f0((100 * x.commitSeconds) / l.seconds)}% of wall`,
    );
  }
  if (m.statements !== undefined) out.push(`  - naive: ${f0(m.statements)} autocommit statements (${f2(m.statements / Math.max(1, l.events))}/event)`);
  if (m.redisCommands !== undefined) {
    out.push(`  - Redis: ${f0(m.redisCommands)} commands in ${f0(l.done)} pipelines (${f2(m.redisCommands / Math.max(1, l.events))}/${unit.replace(/s$/, '')})`);
  }
  if (m.cpu) {
    out.push(`  - CPU: ${cpuLine(m.cpu, l.seconds, cores, side)}`);
    // Per unit of work: steadier than the rates on a shared machine (other processes' load stretches the wall time, not these).
    const us = (sec: number) => `${f0((1e6 * sec) / Math.max(1, l.events))} µs`;
    const c = m.cpu;
    const parts =
      side === 'naive'
        ? `the naive cache ${us(c.bench)}, postgres ${us(c.postgres)}`
        : side === 'redis'
          ? `the Redis cache's client ${us(c.bench)}, redis-server ${us(c.redis)}`
          : `${side === 'noop' ? 'do-nothing route' : 'service'} ${us(c.service)}, postgres ${us(c.postgres)}, bench process ${us(c.bench)}`;
    out.push(`  - CPU per ${unit.replace(/s$/, '')}: ${parts}`);
  }
  return out;
}

const mean = (xs: Float64Array) => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
const pq = (xs: Float64Array) => `p50 ${f2(percentile(xs, 0.5))}, p99 ${f2(percentile(xs, 0.99))}, max ${f2(percentile(xs, 1))} ms`;

function describeReads(name: string, m: ReadMeasured, cores: number): string[] {
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
    const side: Side = m.statements !== undefined ? 'naive' : m.redis ? 'redis' : 'service';
    out.push(`  - CPU: ${cpuLine(m.cpu, r.seconds, cores, side)}`);
    const us = (sec: number) => `${f0((1e6 * sec) / Math.max(1, r.done))} µs`;
    const parts =
      side === 'naive'
        ? `bench process (the naive reader) ${us(m.cpu.bench)}, postgres ${us(m.cpu.postgres)}`
        : side === 'redis'
          ? `bench process (the Redis reader) ${us(m.cpu.bench)}, redis-server ${us(m.cpu.redis)}`
          : `service ${us(m.cpu.service)}, bench process (HTTP client) ${us(m.cpu.bench)}, postgres ${us(m.cpu.postgres)}`;
    out.push(
      `  - CPU per read: ${parts}; total ${us(m.cpu.bench + m.cpu.service + m.cpu.postgres + m.cpu.redis)} ` +
        `(${cores} cores at 5,000 reads/s allow ${f0((1e6 * cores) / 5_000)} µs in all)`,
    );
  }
  return out;
}

const countsLine = (c: Counts) =>
  Object.entries(c)
    .map(([t, n]) => `${t}=${f0(n)}`)
    .join(', ');

const check = (ok: boolean) => (ok ? 'met' : 'NOT met');
const fail = (m: { failure?: string } | undefined, v: string) => (!m ? 'n/a' : m.failure ? 'FAILED' : v);

/** The whole report (markdown). */
export function renderReport(r: Results, info: RunInfo): string {
  const cores = info.machine.nproc;
  const out: string[] = [];
  const targets: string[] = [];
  const details: string[] = [];
  out.push('');
  out.push('## discord-state-cache benchmark');
  out.push('');
  out.push(
    `Workloads run: ${[...CFG.only].join(', ')}${CFG.only.size < WORKLOADS.length ? ' (BENCH_ONLY)' : ''}. Event mix of (1), (2): ${MIX_LABEL}; id space ${DEFAULT_SPACE.guilds} guilds × ` +
      `${DEFAULT_SPACE.channelsPerGuild} channels (${DEFAULT_SPACE.guilds * DEFAULT_SPACE.channelsPerGuild}), ${f0(DEFAULT_SPACE.users)} users, each user in 2 guilds. ` +
      `Service: child process, HTTP keep-alive on 127.0.0.1, MESSAGE_LIMIT=${CFG.messageLimit}, QUEUE_LIMIT=1000000, BODY_LIMIT=256mb. ` +
      `Naive: in-process pg Pool(32), one autocommit INSERT … ON CONFLICT DO UPDATE per row (no HTTP, no JSON parsing). ` +
      `Redis: in-process ioredis, one connection, the same JSON bodies parsed, one pipeline per request, database ${CFG.redisDb} of ${CFG.redisUrl} (no HTTP)` +
      `${info.redisMissing ? ` — ${info.redisMissing}` : ''}.`,
  );
  out.push('');
  out.push('Ratios: > 1× is the service ahead (throughput: service ÷ baseline; seconds and latencies: baseline ÷ service).');
  out.push('');
  out.push('| workload | service | naive | Redis | service vs naive | service vs Redis | target |');
  out.push('|---|---:|---:|---:|---:|---:|---|');
  const row: Row = (label, svc, naive, redis, rn, rr, target = '') => out.push(`| ${label} | ${svc} | ${naive} | ${redis} | ${rn} | ${rr} | ${target} |`);
  const sampled = (label: string, m: Measured | undefined) => (m?.load?.truncated ? `; ${label} stopped by its time budget after ${f0(m.load.events)} events` : '');
  const p = (m: Measured | undefined, q: number) => (m?.load && !m.failure ? percentile(m.load.latencies, q) : Number.NaN);

  if (r.single) {
    const { svc, naive, redis } = r.single;
    const [s, n, x] = [eventsPerSecond(svc), eventsPerSecond(naive), eventsPerSecond(redis)];
    row(
      `(1) single dispatch, ${CFG.singleClients} clients, ${f0(CFG.singleEvents)} events${sampled('service', svc)}${sampled('naive', naive)}${sampled('Redis', redis)}: events/s`,
      fail(svc, f0(s)), fail(naive, f0(n)), fail(redis, f0(x)), ratio(s, n), ratio(s, x), '≥ 5,000; ≥ 3× naive; ≥ 1× Redis',
    );
    for (const [label, q] of [['p50', 0.5], ['p99', 0.99]] as const) {
      row(`(1) ack latency ${label}, ms`, f2(p(svc, q)), f2(p(naive, q)), f2(p(redis, q)), ratio(p(naive, q), p(svc, q)), ratio(p(redis, q), p(svc, q)));
    }
    targets.push(`- (1) ≥ 5,000 events/s: ${f0(s)} → ${check(s >= 5_000)}; ≥ 3× naive: ${ratio(s, n)} → ${check(s >= 3 * n)}; ≥ 1× Redis: ${ratio(s, x)} → ${check(s >= x)}`);
    details.push(...describeLoad('(1) service', svc, cores, 'service'), ...describeLoad('(1) naive', naive, cores, 'naive'), ...describeLoad('(1) Redis', redis, cores, 'redis'));
    if (r.single.countsAfter) {
      details.push(`- rows after (1): service ${countsLine(r.single.countsAfter.svc)}`);
      details.push(`- rows after (1): naive   ${countsLine(r.single.countsAfter.naive)}`);
      details.push(
        naive.load?.truncated
          ? '  (not comparable: the naive run stopped early)'
          : `  (users, members, presences must match; messages differ when the service prunes (MESSAGE_LIMIT=${CFG.messageLimit}), the naive cache never prunes; the naive cache writes no threads)`,
      );
    }
  }
  if (r.arrays) {
    const { svc, naive, redis } = r.arrays;
    const [s, n, x] = [eventsPerSecond(svc), eventsPerSecond(naive), eventsPerSecond(redis)];
    row(
      `(2) arrays of ${CFG.arraySize}, ${CFG.arrayClients} clients, ${f0(CFG.arrays * CFG.arraySize)} events${sampled('service', svc)}${sampled('naive', naive)}${sampled('Redis', redis)}: events/s`,
      fail(svc, f0(s)), fail(naive, f0(n)), fail(redis, f0(x)), ratio(s, n), ratio(s, x), '≥ 50,000; ≥ 10× naive; ≥ 1× Redis',
    );
    targets.push(`- (2) ≥ 50,000 events/s: ${f0(s)} → ${check(s >= 50_000)}; ≥ 10× naive: ${ratio(s, n)} → ${check(s >= 10 * n)}; ≥ 1× Redis: ${ratio(s, x)} → ${check(s >= x)}`);
    details.push(...describeLoad('(2) service', svc, cores, 'service'), ...describeLoad('(2) naive', naive, cores, 'naive'), ...describeLoad('(2) Redis', redis, cores, 'redis'));
  }
  if (r.big) {
    const b = r.big;
    const s = b.svc.failure ? Number.NaN : b.svc.seconds;
    const n = b.naive?.extrapolatedSeconds ?? Number.NaN;
    const x = b.redis.failure ? Number.NaN : b.redis.seconds;
    const naiveRate = b.naive ? b.naive.sampleMembers / b.naive.sampleSeconds : Number.NaN;
    row(
      `(3) GUILD_CREATE ${f0(CFG.bigMembers)} members: seconds (naive extrapolated from a ${f0(b.naive?.sampleMembers ?? 0)}-member sample; Redis: parse + one pipeline, no HTTP)`,
      fail(b.svc, f3(s)), b.naive ? f1(n) : b.naiveFailure ? 'FAILED' : 'n/a', fail(b.redis, f3(x)), ratio(n, s), ratio(x, s), '≤ 2 s; ≥ 10× naive; ≥ 1× Redis',
    );
    row(`(3) GUILD_CREATE: members/s`, fail(b.svc, f0(CFG.bigMembers / s)), b.naive ? f0(naiveRate) : 'n/a', fail(b.redis, f0(CFG.bigMembers / x)), ratio(CFG.bigMembers / s, naiveRate), ratio(x, s));
    targets.push(`- (3) ≤ 2 s: ${f3(s)} s → ${check(s <= 2)}; ≥ 10× naive: ${ratio(n, s)} → ${check(n >= 10 * s)}; ≥ 1× Redis: ${ratio(x, s)} → ${check(x >= s)}`);
    if (b.svc.failure) details.push(`- (3) service: FAILED: ${b.svc.failure}`);
    else {
      details.push(
        `- (3) service: ${f3(b.svc.seconds)} s from the first byte sent to the answer (HTTP upload of ${(b.bodyBytes / 1024 ** 2).toFixed(1)} MiB, ` +
          `parse, map, one transaction, commit); members cached afterwards: ${f0(b.svc.cachedMembers ?? Number.NaN)}; client-side JSON.stringify (not timed) ${f2(b.stringifySeconds)} s`,
      );
      if (b.svc.metrics) {
        details.push(
          `  - service writer: ${f0(b.svc.metrics.statements)} SQL statements, commit time ${f3(b.svc.metrics.commitSeconds)} s ` +
            `(the rest of the request, ${f3(b.svc.seconds - b.svc.metrics.commitSeconds)} s, is upload + JSON parse + mapping)`,
        );
      }
      if (b.svc.cpu) details.push(`  - CPU: ${cpuLine(b.svc.cpu, b.svc.seconds, cores, 'service')}`);
    }
    if (b.naive) {
      details.push(
        `- (3) naive: guild row + ${CFG.bigChannels} channels ${f3(b.naive.guildAndChannelsSeconds)} s; ${f0(b.naive.sampleMembers)} members (user + member row each) in ` +
          `${f2(b.naive.sampleSeconds)} s; ${f0(b.naive.statements)} statements; extrapolated to ${f0(CFG.bigMembers)} members: ${f1(b.naive.extrapolatedSeconds)} s`,
      );
    } else if (b.naiveFailure) details.push(`- (3) naive: FAILED: ${b.naiveFailure}`);
    if (b.redis.failure) details.push(`- (3) Redis: FAILED: ${b.redis.failure}`);
    else {
      details.push(`- (3) Redis: ${f3(b.redis.seconds)} s for JSON.parse + one pipeline of ${f0(b.redis.commands ?? Number.NaN)} commands`);
      if (b.redis.cpu) details.push(`  - CPU: ${cpuLine(b.redis.cpu, b.redis.seconds, cores, 'redis')}`);
    }
  }
  if (r.reads) reportReads(r.reads, row, targets, details, cores);
  if (r.storm) reportStorm(r.storm, row, targets, details, cores);
  if (r.shards) out.push(...reportShards(r.shards, cores));
  if (r.localReads || r.staleness || r.subscribers) out.push(...reportFeed(r, targets, details));
  if (r.scope) out.push(...reportScope(r.scope, cores));

  out.push('');
  out.push('Targets:');
  out.push(...targets);
  out.push('');
  out.push('Details:');
  out.push(...details);
  out.push(`- service peak RSS (VmHWM): ${info.peakRss}; service ready ${f1(info.readySeconds)} s after spawn (tsx compile + migrations)`);
  out.push('');
  const m = info.machine;
  out.push('Machine:');
  out.push(`- nproc: ${m.nproc}`);
  out.push(`- CPU: ${m.cpu}`);
  out.push(`- memory: ${m.memory}`);
  out.push(`- PostgreSQL: ${m.postgres}`);
  out.push(`- PostgreSQL settings: ${m.postgresSettings}`);
  out.push(`- Node: ${m.node}`);
  out.push(`- load average (1/5/15 min) at start: ${info.loadAtStart}; at end: ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}`);
  out.push(`- benchmark wall time: ${f0((performance.now() - info.runStarted) / 1000)} s`);
  return out.join('\n');
}

type Row = (label: string, svc: string, naive: string, redis: string, rn: string, rr: string, target?: string) => void;

function reportReads(r: ReadsResult, row: Row, targets: string[], details: string[], cores: number) {
  const r4 = (m: ReadMeasured) => (m.result && !m.failure ? readsPerSecond(m.result) : Number.NaN);
  const q4 = (m: ReadMeasured | undefined, q: number) => (m?.result && !m.failure ? percentile(m.result.latencies, q) : Number.NaN);
  const achieved = (m: ReadMeasured) => (m.result ? f0(m.result.latencies.length / m.result.seconds) : 'n/a');
  const trunc = (name: string, m: ReadMeasured) => (m.result?.truncated ? `; ${name} stopped by its time budget` : '');
  row(
    `(4) reads, ${CFG.readClients} clients, closed loop, ${f0(CFG.reads)} GETs alternating member (with user) / channel over existing ids` +
      `${trunc('service', r.svc)}${trunc('naive', r.naive)}${trunc('Redis', r.redis)}: reads/s (baselines in-process: naive one SELECT by primary key; Redis HGET member + user / GET channel; no HTTP)`,
    fail(r.svc, f0(r4(r.svc))), fail(r.naive, f0(r4(r.naive))), fail(r.redis, f0(r4(r.redis))), ratio(r4(r.svc), r4(r.naive)), ratio(r4(r.svc), r4(r.redis)), '≥ 1× Redis',
  );
  for (const [label, q] of [['p50', 0.5], ['p99', 0.99], ['max', 1]] as const) {
    row(`(4) closed-loop read latency ${label}, ms`, f2(q4(r.svc, q)), f2(q4(r.naive, q)), f2(q4(r.redis, q)), ratio(q4(r.naive, q), q4(r.svc, q)), ratio(q4(r.redis, q), q4(r.svc, q)));
  }
  for (const [label, q] of [['p50', 0.5], ['p99', 0.99], ['max', 1]] as const) {
    row(
      `(4) paced at ${f0(CFG.readRate)} reads/s offered, ${f0(r.pacedReads)} reads (achieved: service ${achieved(r.svcPaced)}/s, naive ${achieved(r.naivePaced)}/s, Redis ${achieved(r.redisPaced)}/s): latency ${label} from the due time, ms`,
      f2(q4(r.svcPaced, q)), f2(q4(r.naivePaced, q)), f2(q4(r.redisPaced, q)), ratio(q4(r.naivePaced, q), q4(r.svcPaced, q)), ratio(q4(r.redisPaced, q), q4(r.svcPaced, q)),
      label === 'p99' ? '≤ 2 ms' : '',
    );
  }
  const half = r.svcHalf;
  if (half?.result) {
    for (const [label, q] of [['p50', 0.5], ['p99', 0.99], ['max', 1]] as const) {
      row(
        `(4) service only: paced at ${f0(half.result.rate ?? Number.NaN)} reads/s offered (half its closed-loop rate; achieved ${achieved(half)}/s): latency ${label} from the due time, ms`,
        f2(q4(half, q)), '—', '—', '—', '—',
      );
    }
  }
  const p99 = q4(r.svcPaced, 0.99);
  const rate = r.svcPaced.result && !r.svcPaced.failure ? r.svcPaced.result.latencies.length / r.svcPaced.result.seconds : Number.NaN;
  targets.push(
    `- (4) p99 ≤ 2 ms at 5,000 reads/s (on ${cores} cores, bench client included): paced at ${f0(CFG.readRate)}/s offered, achieved ${f0(rate)}/s, ` +
      `p99 ${f2(p99)} ms → ${check(CFG.readRate >= 5_000 && rate >= 0.98 * CFG.readRate && p99 <= 2)}` +
      `; closed loop (saturation): ${f0(r4(r.svc))} reads/s at p99 ${f2(q4(r.svc, 0.99))} ms` +
      (half?.result ? `; paced at ${f0(half.result.rate ?? Number.NaN)}/s: p99 ${f2(q4(half, 0.99))} ms` : '') +
      `; ≥ 1× Redis (closed loop): ${ratio(r4(r.svc), r4(r.redis))} → ${check(r4(r.svc) >= r4(r.redis))}`,
  );
  if (r.svcIds) {
    details.push(
      `- (4) ids: ${f0(r.svcIds.members.length)} members (md5-ordered sample of the members of the ${DEFAULT_SPACE.guilds} small guilds, ` +
        `written by the warm-up, (1) and (2) — whichever ran) and their ${f0(r.svcIds.channels.length)} channels, read from the service's database; ` +
        `naive: the ${f0(r.naiveIds?.members.length ?? 0)} members and ${f0(r.naiveIds?.channels.length ?? 0)} channels of those that exist in its database; Redis: all of them. ` +
        `Answer check before the timed runs (400 reads: status 200, JSON, the id asked for): ${r.validation.length === 0 ? 'OK' : `PROBLEMS: ${r.validation.join(' | ')}`}`,
    );
  } else details.push(`- (4): ${r.idsFailure ?? 'no ids'}`);
  details.push(...describeReads('(4) service, closed loop', r.svc, cores));
  details.push(...describeReads('(4) service, paced', r.svcPaced, cores));
  if (half) details.push(...describeReads('(4) service, paced at half the closed-loop rate', half, cores));
  details.push(...describeReads('(4) naive, closed loop', r.naive, cores));
  details.push(...describeReads('(4) naive, paced', r.naivePaced, cores));
  details.push(...describeReads('(4) Redis, closed loop', r.redis, cores));
  details.push(...describeReads('(4) Redis, paced', r.redisPaced, cores));
}

function reportStorm(s: StormResult, row: Row, targets: string[], details: string[], cores: number) {
  const [noop, a, b, ra, rb] = [s.noop, s.svc1, s.svc2, s.redis1, s.redis2].map(eventsPerSecond) as [number, number, number, number, number];
  const shape = `${f0(s.guilds)} GUILD_CREATEs (${STORM_SHAPE.channels} channels × ${STORM_SHAPE.overwrites} overwrites, ${STORM_SHAPE.roles} roles, ${STORM_SHAPE.emojis} emojis, ${STORM_SHAPE.threads} threads, ${STORM_SHAPE.members} members, ${STORM_SHAPE.presences} presences), { payload, shardId } on ${CFG.stormShards} shards, arrays of ${CFG.stormArraySize}, ${CFG.stormInFlight} in flight`;
  row(`(5) startup storm, the same bodies to a do-nothing Fastify route (default JSON parser, answers {}): guilds/s`, fail(s.noop, f0(noop)), '—', '—', '—', '—');
  row(`(5) startup storm, ${shape}: first pass, guilds/s`, fail(s.svc1, f0(a)), '—', fail(s.redis1, f0(ra)), '—', ratio(a, ra), '≥ 2× Redis');
  row(`(5) second pass (a reconnect re-sends the same guilds), guilds/s`, fail(s.svc2, f0(b)), '—', fail(s.redis2, f0(rb)), '—', ratio(b, rb), '≥ 2× Redis');
  row(`(5) first pass ÷ do-nothing route`, ratio(a, noop), '—', ratio(ra, noop), '—', '—', 'service ≥ 0.6×');
  row(`(5) second pass ÷ first pass`, ratio(b, a), '—', ratio(rb, ra), '—', '—', 'service ≥ 1.5×');
  row(`(5) second pass ÷ do-nothing route`, ratio(b, noop), '—', ratio(rb, noop), '—', '—');
  const probes = Float64Array.from(s.interaction ?? []).sort();
  if (probes.length > 0) {
    const [p50, p99, max] = [percentile(probes, 0.5), percentile(probes, 0.99), probes[probes.length - 1]!];
    row(`(5) latency the cache adds to an INTERACTION_CREATE handler (the example's wiring) during the first pass: p50 / p99 / max ms`, `${f3(p50)} / ${f3(p99)} / ${f3(max)}`, '—', '—', '—', '—', 'p99 ≤ 1 ms');
    targets.push(`- (5) INTERACTION_CREATE during the storm: p99 ${f3(p99)} ms over ${f0(probes.length)} probes (≤ 1 ms) → ${check(p99 <= 1)}`);
  }
  const rowsOk = s.svcCheck1.length === 0 && s.svcCheck2.length === 0;
  targets.push(
    `- (5) first pass ≥ 0.6× the do-nothing route: ${ratio(a, noop)} → ${check(a >= 0.6 * noop)}; second pass ≥ 1.5× the first: ${ratio(b, a)} → ${check(b >= 1.5 * a)}; ` +
      `≥ 2× Redis: first pass ${ratio(a, ra)} → ${check(a >= 2 * ra)}, second pass ${ratio(b, rb)} → ${check(b >= 2 * rb)}; rows as sent after both passes: ${rowsOk ? 'yes' : 'NO'}`,
  );
  details.push(
    `- (5) ${f0(s.requests)} requests, ${(s.bytes / 1024 ** 2).toFixed(1)} MiB of JSON per pass (${f0(s.bytes / s.guilds / 1024)} KiB per guild); ` +
      `rows expected for the storm's guilds and users: ${Object.entries(s.expected).map(([k, v]) => `${k}=${f0(v)}`).join(', ')} (roles, emojis: inside guilds; overwrites: inside channels)`,
  );
  const verdict = (c: string[]) => (c.length === 0 ? 'match' : `DO NOT match: ${c.join('; ')}`);
  details.push(`  - service rows after the first pass ${verdict(s.svcCheck1)}; after the second ${verdict(s.svcCheck2)}`);
  if (!s.redis1.failure) details.push(`  - Redis keys after the first pass ${verdict(s.redisCheck1)}; after the second ${verdict(s.redisCheck2)}; redis-server used_memory ${s.redisMemory ?? 'n/a'}`);
  details.push(...describeLoad('(5) do-nothing route', s.noop, cores, 'noop', 'guilds'));
  details.push(...describeLoad('(5) service, first pass', s.svc1, cores, 'service', 'guilds'));
  details.push(...describeLoad('(5) service, second pass', s.svc2, cores, 'service', 'guilds'));
  details.push(...describeLoad('(5) Redis, first pass', s.redis1, cores, 'redis', 'guilds'));
  details.push(...describeLoad('(5) Redis, second pass', s.redis2, cores, 'redis', 'guilds'));
}

/** (7), (8), (9): their own table (no baselines). */
function reportFeed(r: Results, targets: string[], details: string[]): string[] {
  const out = ['', '| change feed and local cache | figure | target |', '|---|---:|---|'];
  const q = (xs: Float64Array | undefined, p: number) => (xs && xs.length > 0 ? percentile(xs, p) : Number.NaN);
  const hot = (name: string, m: HotReads | undefined) =>
    m ? `${name}: ${f0(m.reads)} reads in ${f2(m.seconds)} s = ${f0(m.reads / m.seconds)} reads/s, ${m.errors} errors; latency p50 ${f3(q(m.latencies, 0.5))}, p99 ${f3(q(m.latencies, 0.99))}, max ${f3(q(m.latencies, 1))} ms` : `${name}: not run`;
  if (r.localReads) {
    const l = r.localReads;
    const p99 = q(l.local?.latencies, 0.99);
    out.push(`| (7) ${f0(l.members)} members read by ${CFG.readClients} callers in the bot process, local cache: p50 / p99 ms | ${l.failure ? 'FAILED' : `${f3(q(l.local?.latencies, 0.5))} / ${f3(p99)}`} | p99 ≤ 0.05 ms |`);
    out.push(`| (7) the same without the local cache (HTTP): p50 / p99 ms | ${l.failure ? 'FAILED' : `${f3(q(l.http?.latencies, 0.5))} / ${f3(q(l.http?.latencies, 0.99))}`} | |`);
    targets.push(`- (7) local cache p99 ≤ 0.05 ms: ${f3(p99)} ms → ${check(p99 <= 0.05)}`);
    if (l.failure) details.push(`- (7) FAILED: ${l.failure}`);
    details.push(`- (7) ${hot('local cache', l.local)}; ${f0(l.hits ?? Number.NaN)} local hits, ${f0(l.misses ?? Number.NaN)} misses`);
    details.push(`- (7) ${hot('HTTP', l.http)}`);
  }
  if (r.staleness) {
    const s = r.staleness;
    const p99 = q(s.staleness, 0.99);
    out.push(`| (8) another process's local cache after dispatch() resolved, at ${f0(CFG.stalenessRate)} events/s offered: staleness p50 / p99 / max ms | ${s.failure ? 'FAILED' : `${f1(q(s.staleness, 0.5))} / ${f1(p99)} / ${f1(q(s.staleness, 1))}`} | p99 ≤ 50 ms |`);
    targets.push(`- (8) staleness p99 ≤ 50 ms: ${f1(p99)} ms → ${check(p99 <= 50)}`);
    if (s.failure) details.push(`- (8) FAILED: ${s.failure}`);
    details.push(
      `- (8) ${f0(s.probes)} probes over ${f1(s.seconds)} s, ${s.unseen} not seen before the next update of their member (counted as infinitely stale); background ingest ${f0(s.eventsPerSecond ?? Number.NaN)} events/s acknowledged (${s.backgroundErrors} errors); ` +
        `the other process reads every 1 ms (a staleness includes up to that period and the read that fetched the new value)`,
    );
  }
  if (r.subscribers) {
    const runs = r.subscribers.runs;
    const rate = (n: number) => runs.filter((x) => x.subscribers === n).map((x) => eventsPerSecond(x.measured));
    const mean = (xs: number[]) => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
    const none = mean(rate(0));
    const some = mean(rate(CFG.subscriberCount));
    out.push(`| (9) (1)'s ingest with ${CFG.subscriberCount} change feed subscribers ÷ with none (events/s, mean of ${rate(0).length} runs each) | ${ratio(some, none)} (${f0(some)} vs ${f0(none)}) | ≥ 0.9× |`);
    targets.push(`- (9) with ${CFG.subscriberCount} subscribers ≥ 0.9× none: ${ratio(some, none)} → ${check(some >= 0.9 * none)}`);
    if (r.subscribers.failure) details.push(`- (9) FAILED: ${r.subscribers.failure}`);
    for (const x of runs) {
      details.push(...describeLoad(`(9) ${x.subscribers} subscribers`, x.measured, os.cpus().length, 'service'));
      if (x.position !== undefined) details.push(`  - the subscribers' feed position when stopped: ${f0(x.position)} (lowest of them)`);
    }
  }
  return out;
}

/** The service's failures (a baseline's failure is reported, not fatal). */
export function serviceFailures(r: Results): string[] {
  const all = [
    r.single?.svc.failure,
    r.arrays?.svc.failure,
    r.big?.svc.failure,
    r.reads?.svc.failure,
    r.reads?.svcPaced.failure,
    r.reads?.svcHalf?.failure,
    r.storm?.svc1.failure,
    r.localReads?.failure,
    r.staleness?.failure,
    r.subscribers?.failure,
    ...(r.subscribers?.runs.map((x) => x.measured.failure) ?? []),
    r.storm?.svc2.failure,
    ...(r.shards?.runs.map((x) => x.failure && `(6) ${x.label}: ${x.failure}`) ?? []),
    r.shards?.failover.failure && `(6) failover: ${r.shards.failover.failure}`,
    ...(r.storm && r.storm.svcCheck1.length > 0 ? [`(5) rows after the first pass: ${r.storm.svcCheck1.join('; ')}`] : []),
    ...(r.storm && r.storm.svcCheck2.length > 0 ? [`(5) rows after the second pass: ${r.storm.svcCheck2.join('; ')}`] : []),
  ];
  return all.filter((f): f is string => Boolean(f));
}

/** (10): what leaving messages and presences out of the cache saves. */
function reportScope(r: ScopeResult, cores: number): string[] {
  const [all, scoped] = [eventsPerSecond(r.all), eventsPerSecond(r.scoped)];
  return [
    '',
    `(10) cache scope, (2)'s arrays of 500 to a fresh service each: every table ${f0(all)} events/s; CACHE_TABLES=${SCOPED_TABLES} ${f0(scoped)} events/s (${ratio(scoped, all)})`,
    ...describeLoad('(10) every table', r.all, cores, 'service', 'events'),
    ...describeLoad(`(10) CACHE_TABLES=${SCOPED_TABLES}`, r.scoped, cores, 'service', 'events'),
  ];
}
