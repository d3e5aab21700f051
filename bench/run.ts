/**
 * `npm run bench`: the service (child process, over HTTP on 127.0.0.1) against two baselines — a naive
 * one-statement-per-row PostgreSQL cache and a Redis cache (bench/redis.ts) — on five workloads, one file each
 * in bench/workloads/:
 *   (1) single.ts: single dispatches (PRESENCE_UPDATE / GUILD_MEMBER_UPDATE / MESSAGE_CREATE mix), 32 clients;
 *   (2) arrays.ts: arrays of 500 dispatches of the same mix, 4 clients;
 *   (3) big-guild.ts: one GUILD_CREATE with 100,000 members (with users), channels and roles;
 *   (4) reads.ts: GET a member / a channel over ids that exist, closed loop, then paced;
 *   (5) storm.ts: the startup storm, 5,000 GUILD_CREATEs forwarded in arrays of 50, twice, beside a do-nothing route;
 *   (6) shards.ts: one instance against two on disjoint shards (same load), replica lag under it, lease failover time.
 *   (7) local-reads.ts: 1,000 members read by 32 callers through the client, with its local cache and without;
 *   (8) staleness.ts: another process's local cache behind a dispatch() while 5,000 events/s are ingested;
 *   (9) subscribers.ts: (1)'s ingest with 10 change feed subscribers and with none.
 * Knobs, and BENCH_ONLY to run a subset (e.g. BENCH_ONLY=storm), are in config.ts. Prints a markdown table, the
 * targets, per-workload details and the machine (report.ts). Every loop is bounded in count and time; the
 * children are stopped, the databases dropped and the Redis database flushed at the end, also on error or Ctrl-C.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { CFG, log, runs, type Workload } from './config.js';
import { cleanup, installGuards, profileSummary, serviceOutput, setUp, type Harness } from './harness.js';
import { renderReport, serviceFailures, type Results } from './report.js';
import { arrays } from './workloads/arrays.js';
import { bigGuild } from './workloads/big-guild.js';
import { localReads } from './workloads/local-reads.js';
import { reads } from './workloads/reads.js';
import { seedAndWarm } from './workloads/seed.js';
import { shards } from './workloads/shards.js';
import { single } from './workloads/single.js';
import { staleness } from './workloads/staleness.js';
import { storm } from './workloads/storm.js';
import { subscribers } from './workloads/subscribers.js';
import { scope } from './workloads/scope.js';

function peakRss(pid: number | undefined): string {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
    return m ? `${(Number(m[1]) / 1024).toFixed(0)} MiB` : 'n/a';
  } catch {
    return 'n/a';
  }
}

async function main(): Promise<boolean> {
  installGuards();
  const runStarted = performance.now();
  const loadAtStart = os.loadavg().map((x) => x.toFixed(2)).join(' / ');
  log(`workloads: ${[...CFG.only].join(', ')}`);
  // The naive baseline takes part in every workload but the storm; the 20 small guilds and the warm-up feed (1), (2), (4).
  const h: Harness = await setUp({ naive: (['single', 'arrays', 'big-guild', 'reads'] as const).some(runs), redis: true });
  if ((['single', 'arrays', 'reads', 'local-reads', 'staleness', 'subscribers'] as const).some(runs)) await seedAndWarm(h);

  const results: Results = {};
  // A workload that throws is reported and the run goes on: the others' figures are still printed.
  const crashed: string[] = [];
  const step = async <T>(name: Workload, work: () => Promise<T>): Promise<T | undefined> => {
    if (!runs(name)) return undefined;
    try {
      return await work();
    } catch (err) {
      log(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      crashed.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  };
  results.single = await step('single', () => single(h));
  results.arrays = await step('arrays', () => arrays(h));
  results.big = await step('big-guild', () => bigGuild(h));
  results.reads = await step('reads', () => reads(h));
  results.storm = await step('storm', () => storm(h));
  results.shards = await step('shards', () => shards(h));
  results.localReads = await step('local-reads', () => localReads(h));
  results.staleness = await step('staleness', () => staleness(h));
  results.subscribers = await step('subscribers', () => subscribers(h));
  results.scope = await step('scope', () => scope(h));

  const info = {
    machine: h.machine,
    readySeconds: h.readySeconds,
    runStarted,
    loadAtStart,
    peakRss: peakRss(h.service.pid),
    ...(h.redisMissing ? { redisMissing: h.redisMissing } : {}),
  };
  process.stdout.write(`${renderReport(results, info)}\n`);
  const failed = [...serviceFailures(results), ...crashed.map((c) => `workload ${c}`)];
  if (failed.length > 0) {
    process.stdout.write(`\nService failures:\n${failed.map((f) => `- ${f}`).join('\n')}\n`);
    const tail = serviceOutput();
    if (tail.trim()) process.stdout.write(`\nLast service output:\n${tail}\n`);
  }
  return failed.length === 0;
}

let ok = false;
try {
  ok = await main();
} catch (err) {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  const tail = serviceOutput();
  if (tail.trim()) log(`last service output:\n${tail}`);
} finally {
  await cleanup();
}
const profile = profileSummary();
if (profile) process.stdout.write(`\nService CPU profile (BENCH_CPU_PROF=1):\n${profile}\n`);
process.exit(ok ? 0 : 1);
