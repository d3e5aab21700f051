/**
 * Workload (6), `shards`: the same load on one instance and on two instances writing disjoint shards
 * (TOTAL_SHARDS=16, SHARDS=0-7 and 8-15), each on a fresh scratch database; the lag of a streaming replica under
 * that load; and the failover time of a shard's lease.
 *
 * - The load: the mix of (1) and (2) (presence updates, member updates, message creates) over 64 guilds spread
 *   evenly over 16 shards, forwarded as `{ payload, shardId }` with `s` counting per shard, after a GUILD_CREATE
 *   per guild (untimed, with a warm-up). Four lanes of four shards each (0-3, 4-7, 8-11, 12-15), each a client
 *   sending its arrays of 500 one after the other (a shard's events in order): one instance takes the four
 *   lanes, two instances two lanes each; the same bodies in every run. Runs: one instance without leases, one
 *   with TOTAL_SHARDS=16 (leases, users upserted in key order), two on disjoint shards.
 * - Replica lag: one instance (no leases) on a primary with a streaming replica of its own (tests/helpers/replica.ts:
 *   scratch clusters with fsync off, so the primary commits faster than the machine's server), the same lanes,
 *   `GET /ready` every 100 ms for `replica.lag_seconds` and `lag_bytes`.
 * - Failover: beside the two writers, a standby for every shard; the holder of 0-7 is SIGKILLed, and `GET
 *   /v1/shards` of the standby is polled every 10 ms until it holds them; then the killed one comes back as a
 *   standby and the new holder is killed, and so on.
 */
import { CFG, errMsg, log } from '../config.js';
import { postgresPids, tableCounts, type Counts } from '../db.js';
import { f0, f1, f2, ratio } from '../format.js';
import type { Harness } from '../harness.js';
import { cpuSnapshot, percentile, processCpuSeconds, runLoad, type CpuSnapshot } from '../load.js';
import { DEFAULT_SPACE, EventGen, guildCreate, ids, type GatewayPayload, type IdSpace } from '../payloads.js';
import type { HttpClient, ServiceProcess } from '../service.js';
import { serverBinDir, startReplicaPair } from '../../tests/helpers/replica.js';

const TOTAL = 16;
const LANES = 4;
const SPACE: IdSpace = { ...DEFAULT_SPACE, guilds: 64 };
const ARRAY = 500;
const WARM_BODIES = 10;

/** Guild `g` moved onto shard `g % 16` (ids.guild puts every guild on one shard): a few ms later. */
function shardedGuildId(g: number): string {
  const id = BigInt(ids.guild(g));
  const ms = id >> 22n;
  const target = BigInt(g % TOTAL);
  return String(((ms + ((target - (ms % 16n) + 16n) % 16n)) << 22n) | (id & 0x3fffffn));
}

interface Lane {
  seed: string[];
  warm: string[];
  timed: string[];
  /** Events in the timed bodies. */
  events: number;
}

/** The bodies of the four lanes: GUILD_CREATEs, warm-up arrays, timed arrays. */
function plan(totalEvents: number): Lane[] {
  const remap = new Map<string, string>();
  for (let g = 0; g < SPACE.guilds; g++) remap.set(ids.guild(g), shardedGuildId(g));
  const shardOf = (id: string) => Number((BigInt(id) >> 22n) % BigInt(TOTAL));
  const move = (p: GatewayPayload): GatewayPayload => {
    let json = JSON.stringify(p);
    for (const [from, to] of remap) if (json.includes(from)) json = json.replaceAll(from, to);
    return JSON.parse(json) as GatewayPayload;
  };
  const seq = Array.from({ length: TOTAL }, () => 0);
  const forward = (p: GatewayPayload, shard: number) => ({ payload: { ...p, s: ++seq[shard]! }, shardId: shard });
  const laneOf = (shard: number) => Math.floor(shard / (TOTAL / LANES));
  const seeds: object[][] = Array.from({ length: LANES }, () => []);
  for (let g = 0; g < SPACE.guilds; g++) {
    const gc = move(guildCreate({ space: SPACE, guild: g, channels: SPACE.channelsPerGuild, roles: SPACE.rolesPerGuild, memberUsers: [g], seed: 1_000 + g }));
    const shard = shardOf(String(gc.d.id));
    seeds[laneOf(shard)]!.push(forward(gc, shard));
  }
  const events: object[][] = Array.from({ length: LANES }, () => []);
  const gen = new EventGen({ seed: 66, messageSeqStart: 60_000_000, space: SPACE });
  const warmEvents = LANES * WARM_BODIES * ARRAY;
  for (let i = 0; i < totalEvents + warmEvents; i++) {
    const e = move(gen.next());
    const shard = shardOf(String(e.d.guild_id));
    events[laneOf(shard)]!.push(forward(e, shard));
  }
  return events.map((list, lane) => {
    const arrays: string[] = [];
    for (let i = 0; i < list.length; i += ARRAY) arrays.push(JSON.stringify(list.slice(i, i + ARRAY)));
    const timed = arrays.slice(WARM_BODIES);
    return {
      seed: [JSON.stringify(seeds[lane])],
      warm: arrays.slice(0, WARM_BODIES),
      timed,
      events: timed.reduce((n, b) => n + (JSON.parse(b) as unknown[]).length, 0),
    };
  });
}

const applied = (body: string) => (JSON.parse(body) as unknown[]).length;

export interface ShardRun {
  label: string;
  instances: number;
  failure?: string;
  events?: number;
  seconds?: number;
  /** Per instance: events and the seconds its lanes took. */
  perInstance?: { events: number; seconds: number; cpu: number }[];
  cpu?: { services: number; postgres: number; bench: number; other: number };
  counts?: Counts;
  latencies?: Float64Array;
}

export interface ReplicaLag {
  failure?: string;
  eventsPerSecond?: number;
  samples?: number;
  lagSeconds?: Float64Array;
  lagBytes?: Float64Array;
}

export interface ShardsResult {
  runs: ShardRun[];
  replica: ReplicaLag;
  failover: { failure?: string; ms: number[] };
}

interface Instance {
  child: ServiceProcess;
  client: HttpClient;
}

/** The timed lanes against their instances (lane i → `targetOf(i)`), CPU measured around it. */
async function drive(lanes: Lane[], targetOf: (lane: number) => Instance, dbs: string[], label: string, instances: Instance[]): Promise<ShardRun> {
  const run: ShardRun = { label, instances: instances.length };
  // Untimed: the guilds, then the warm-up, each lane in order.
  for (const phase of ['seed', 'warm'] as const) {
    await Promise.all(lanes.map(async (lane, i) => {
      for (const body of lane[phase]) await targetOf(i).client.dispatch(body, applied(body), 120_000);
    }));
  }
  const pg = await postgresPids(dbs);
  const c0: CpuSnapshot = cpuSnapshot(undefined);
  const s0 = instances.map((x) => processCpuSeconds(x.child.pid ?? -1));
  const started = performance.now();
  const perLane = await Promise.all(
    lanes.map((lane, i) =>
      runLoad({ items: lane.timed, concurrency: 1, budgetMs: CFG.serviceBudgetMs, weight: applied, run: (b) => targetOf(i).client.dispatch(b, applied(b), 120_000) }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const c1 = cpuSnapshot(undefined);
  const s1 = instances.map((x) => processCpuSeconds(x.child.pid ?? -1));
  const errors = perLane.flatMap((r) => r.errorSamples);
  if (errors.length > 0) run.failure = errors.slice(0, 3).join(' | ');
  if (perLane.some((r) => r.truncated)) run.failure ??= 'stopped by the time budget';
  run.events = perLane.reduce((n, r) => n + r.events, 0);
  run.seconds = seconds;
  run.perInstance = instances.map((x, k) => {
    const mine = perLane.filter((_, i) => targetOf(i) === x);
    return { events: mine.reduce((n, r) => n + r.events, 0), seconds: Math.max(...mine.map((r) => r.seconds)), cpu: s1[k]! - s0[k]! };
  });
  let postgres = 0;
  for (const [pid, s] of c1.postgres) if (pg.has(pid)) postgres += s - (c0.postgres.get(pid) ?? 0);
  const services = s1.reduce((a, b, k) => a + b - s0[k]!, 0);
  const bench = c1.bench - c0.bench;
  run.cpu = { services, postgres, bench, other: Math.max(0, c1.machine - c0.machine - services - postgres - bench) };
  const all = new Float64Array(perLane.reduce((n, r) => n + r.latencies.length, 0));
  let j = 0;
  for (const r of perLane) for (const l of r.latencies) all[j++] = l;
  run.latencies = all.sort();
  return run;
}

async function oneSetup(h: Harness, lanes: Lane[], label: string, tag: string, envs: Record<string, string>[], laneOwner: (lane: number) => number): Promise<ShardRun> {
  const db = await h.scratchDatabase(tag);
  const instances: Instance[] = [];
  try {
    for (const env of envs) instances.push(await h.startChild(undefined, { databaseUrl: db.url, env }));
    log(`(6) ${label}: ${instances.map((x) => `pid ${String(x.child.pid)}`).join(', ')}`);
    const run = await drive(lanes, (i) => instances[laneOwner(i)]!, [db.name], label, instances);
    run.counts = await tableCounts(db.url);
    log(`(6) ${label}: ${f0((run.events ?? 0) / (run.seconds ?? NaN))} events/s${run.failure ? ` (${run.failure})` : ''}`);
    return run;
  } catch (err) {
    return { label, instances: envs.length, failure: errMsg(err) };
  } finally {
    for (const x of instances) await h.stopChild(x.child);
  }
}

async function replicaLag(h: Harness, lanes: Lane[]): Promise<ReplicaLag> {
  const bin = serverBinDir();
  if (!bin) return { failure: 'no PostgreSQL server programs (initdb, pg_ctl, pg_basebackup) on this machine' };
  let pair: Awaited<ReturnType<typeof startReplicaPair>> | undefined;
  try {
    pair = await startReplicaPair(bin);
    h.onCleanup(pair.close);
    const x = await h.startChild(undefined, { databaseUrl: pair.primary.url(), env: { READ_DATABASE_URL: pair.replica.url() } });
    const lagSeconds: number[] = [];
    const lagBytes: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          const res = await x.client.request('GET', '/ready', undefined, 2_000);
          const r = (JSON.parse(res.body) as { replica?: { lag_seconds: number | null; lag_bytes: number | null } }).replica;
          if (r?.lag_seconds != null) lagSeconds.push(r.lag_seconds);
          if (r?.lag_bytes != null) lagBytes.push(r.lag_bytes);
        } catch {
          // a missed sample
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    let run: ShardRun;
    try {
      // Sampled from the untimed phases on: the lag of the GUILD_CREATEs counts too.
      run = await drive(lanes, () => x, [], 'replica', [x]);
    } finally {
      sampling = false;
      await sampler;
      await h.stopChild(x.child);
    }
    if (run.failure) return { failure: run.failure };
    return {
      eventsPerSecond: (run.events ?? 0) / (run.seconds ?? NaN),
      samples: lagSeconds.length,
      lagSeconds: Float64Array.from(lagSeconds).sort(),
      lagBytes: Float64Array.from(lagBytes).sort(),
    };
  } catch (err) {
    return { failure: errMsg(err) };
  }
}

/** Seconds from SIGKILLing the holder of shards 0-7 until the standby holds them, `rounds` times. */
async function failover(h: Harness, rounds: number): Promise<ShardsResult['failover']> {
  const db = await h.scratchDatabase('failover');
  const env = (shards?: string) => ({ TOTAL_SHARDS: String(TOTAL), ...(shards ? { SHARDS: shards } : {}) });
  const live: Instance[] = [];
  const ms: number[] = [];
  try {
    const start = async (shards?: string) => {
      const x = await h.startChild(undefined, { databaseUrl: db.url, env: env(shards) });
      live.push(x);
      return x;
    };
    const held = async (x: Instance) => {
      const res = await x.client.request('GET', '/v1/shards', undefined, 2_000);
      return (JSON.parse(res.body) as { shard_id: number; here: string | null }[]).filter((s) => s.here === 'held').map((s) => s.shard_id);
    };
    let holder = await start('0-7');
    await start('8-15');
    let standby = await start();
    for (let round = 0; round < rounds; round++) {
      if ((await held(holder)).length !== 8) throw new Error(`round ${round}: the holder does not hold 0-7`);
      const t0 = performance.now();
      await h.stopChild(holder.child, 'SIGKILL');
      live.splice(live.indexOf(holder), 1);
      while ((await held(standby)).filter((s) => s < 8).length !== 8) {
        if (performance.now() - t0 > 30_000) throw new Error(`round ${round}: no takeover within 30 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
      ms.push(performance.now() - t0);
      log(`(6) failover round ${round + 1}: ${f0(ms[ms.length - 1]!)} ms`);
      holder = standby;
      standby = await start(); // the killed one comes back, standing by for every shard
    }
    return { ms };
  } catch (err) {
    return { failure: errMsg(err), ms };
  } finally {
    for (const x of live) await h.stopChild(x.child);
  }
}

export async function shards(h: Harness): Promise<ShardsResult> {
  const t0 = performance.now();
  const lanes = plan(CFG.shardEvents);
  log(`(6) ${f0(CFG.shardEvents)} events over ${TOTAL} shards in ${LANES} lanes of arrays of ${ARRAY}, built in ${f1((performance.now() - t0) / 1000)} s`);
  const all = { TOTAL_SHARDS: String(TOTAL) };
  const runs = [
    await oneSetup(h, lanes, 'one instance, no leases', 'sh_plain', [{}], () => 0),
    await oneSetup(h, lanes, 'one instance, TOTAL_SHARDS=16', 'sh_one', [all], () => 0),
    await oneSetup(h, lanes, 'two instances, SHARDS=0-7 and 8-15', 'sh_two', [{ ...all, SHARDS: '0-7' }, { ...all, SHARDS: '8-15' }], (lane) => (lane < LANES / 2 ? 0 : 1)),
  ];
  log('(6) replica lag under the same load');
  const replica = await replicaLag(h, lanes);
  log(`(6) failover, ${CFG.failoverRounds} rounds`);
  return { runs, replica, failover: await failover(h, CFG.failoverRounds) };
}

const eps = (r: ShardRun) => (r.failure || !r.events || !r.seconds ? Number.NaN : r.events / r.seconds);

/** The section of the report (markdown): a table, then details. */
export function reportShards(s: ShardsResult, cores: number): string[] {
  const out: string[] = ['', `### (6) shards: one instance against two on disjoint shards (${TOTAL} shards, ${LANES} lanes of ${TOTAL / LANES}, arrays of ${ARRAY})`, ''];
  out.push('| run | events/s (all instances) | per instance: events/s | ack p50 / p99, ms | CPU s per 100k events: services / postgres | vs one instance without leases |');
  out.push('|---|---:|---:|---:|---:|---:|');
  const base = eps(s.runs[0]!);
  for (const r of s.runs) {
    const per = r.perInstance?.map((x) => f0(x.events / x.seconds)).join(' + ') ?? 'n/a';
    const per100k = (sec: number) => f2((1e5 * sec) / Math.max(1, r.events ?? 0));
    const lat = r.latencies ? `${f1(percentile(r.latencies, 0.5))} / ${f1(percentile(r.latencies, 0.99))}` : 'n/a';
    out.push(
      `| ${r.label} | ${r.failure ? `FAILED: ${r.failure}` : f0(eps(r))} | ${per} | ${lat} | ${r.cpu ? `${per100k(r.cpu.services)} / ${per100k(r.cpu.postgres)}` : 'n/a'} | ${ratio(eps(r), base)} |`,
    );
  }
  out.push('');
  for (const r of s.runs) {
    if (!r.cpu || !r.seconds) continue;
    const share = (x: number) => `${f1(x)} s (${f0((100 * x) / (r.seconds! * cores))}% of ${cores} cores)`;
    out.push(
      `- ${r.label}: ${f0(r.events ?? 0)} events in ${f2(r.seconds)} s; CPU services ${share(r.cpu.services)}, postgres ${share(r.cpu.postgres)}, ` +
        `bench process ${share(r.cpu.bench)}, other processes on the machine ${share(r.cpu.other)}; rows after: ${r.counts ? Object.entries(r.counts).map(([t, n]) => `${t}=${f0(n)}`).join(', ') : 'n/a'}`,
    );
  }
  const q = (xs: Float64Array | undefined, p: number) => (xs && xs.length > 0 ? percentile(xs, p) : Number.NaN);
  const r = s.replica;
  out.push(
    r.failure
      ? `- replica lag: not measured: ${r.failure}`
      : `- replica lag under the load (one instance, ${f0(r.eventsPerSecond ?? NaN)} events/s on scratch clusters with fsync off; ${r.samples} samples of GET /ready, every 100 ms): ` +
          `seconds p50 ${f2(q(r.lagSeconds, 0.5))}, p99 ${f2(q(r.lagSeconds, 0.99))}, max ${f2(q(r.lagSeconds, 1))}; ` +
          `bytes p50 ${f0(q(r.lagBytes, 0.5))}, p99 ${f0(q(r.lagBytes, 0.99))}, max ${f0(q(r.lagBytes, 1))}`,
  );
  const ms = Float64Array.from(s.failover.ms).sort();
  out.push(
    `- failover (SIGKILL of the holder of shards 0-7 → the standby holds them, GET /v1/shards polled every 10 ms): ${ms.length} rounds, ` +
      `min ${f0(q(ms, 0))} ms, median ${f0(q(ms, 0.5))} ms, max ${f0(q(ms, 1))} ms${s.failover.failure ? `; FAILED: ${s.failover.failure}` : ''}`,
  );
  return out;
}
