/** Bounded closed-loop load: `concurrency` workers take items in order until done or the deadline passes. */
import { readFileSync, readdirSync } from 'node:fs';

export interface LoadResult {
  /** Items completed (successfully or not) before the deadline. */
  done: number;
  /** Items whose call threw. */
  errors: number;
  /** Events in the successful items (`weight` summed). */
  events: number;
  seconds: number;
  /** Per-item latency in ms, successful items only, sorted ascending. */
  latencies: Float64Array;
  /** The first few error messages. */
  errorSamples: string[];
  /** True when the deadline stopped the run before every item was taken. */
  truncated: boolean;
}

export interface LoadOptions<T> {
  items: readonly T[];
  concurrency: number;
  /** Wall-clock budget in ms: no new item starts after it. */
  budgetMs: number;
  /** Events carried by one item (1 for a single dispatch, 500 for an array). */
  weight: (item: T) => number;
  run: (item: T) => Promise<void>;
}

export async function runLoad<T>(options: LoadOptions<T>): Promise<LoadResult> {
  const { items, concurrency, budgetMs } = options;
  const lat = new Float64Array(items.length);
  const ok = new Uint8Array(items.length);
  const errorSamples: string[] = [];
  let next = 0;
  let errors = 0;
  let events = 0;
  const started = performance.now();
  const deadline = started + budgetMs;

  const worker = async () => {
    while (next < items.length && performance.now() < deadline) {
      const i = next++;
      const item = items[i]!;
      const t0 = performance.now();
      try {
        await options.run(item);
        lat[i] = performance.now() - t0;
        ok[i] = 1;
        events += options.weight(item);
      } catch (err) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  const seconds = (performance.now() - started) / 1000;
  const done = next;
  const latencies = new Float64Array(done - errors);
  let j = 0;
  for (let i = 0; i < done; i++) if (ok[i]) latencies[j++] = lat[i]!;
  latencies.sort();
  return { done, errors, events, seconds, latencies, errorSamples, truncated: done < items.length };
}

/** The p-quantile (0 < p ≤ 1) of ascending-sorted values, NaN when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

// ---- CPU accounting from /proc (Linux) ----

const CLK_TCK = 100;

/** User + system CPU seconds of one process, or NaN when unreadable. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of every process named in `comms` (e.g. `postgres`, `redis-server`), by name and pid. */
export function cpuByComm(comms: readonly string[]): Map<string, Map<number, number>> {
  const out = new Map(comms.map((c) => [c, new Map<number, number>()]));
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let byPid;
    try {
      byPid = out.get(readFileSync(`/proc/${e}/comm`, 'utf8').trim());
    } catch {
      continue;
    }
    if (!byPid) continue;
    const s = processCpuSeconds(Number(e));
    if (!Number.isNaN(s)) byPid.set(Number(e), s);
  }
  return out;
}

/** Busy (non-idle, non-iowait) CPU seconds of the whole machine, from /proc/stat. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const busy = (v[0] ?? 0) + (v[1] ?? 0) + (v[2] ?? 0) + (v[5] ?? 0) + (v[6] ?? 0) + (v[7] ?? 0);
    return busy / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds used during a window. */
export interface CpuUsage {
  bench: number;
  service: number;
  /** PostgreSQL processes that served the benchmark's databases, plus the server's background processes. */
  postgres: number;
  /** The machine's Redis server (the Redis baseline's other half). */
  redis: number;
  /** Everything else on the machine (other users' processes, other databases' backends). */
  other: number;
}

export interface CpuSnapshot {
  bench: number;
  service: number;
  postgres: Map<number, number>;
  redis: number;
  machine: number;
}

/** `servicePid`: the child whose CPU is counted as `service` (the service, or the do-nothing route of (5)). */
export function cpuSnapshot(servicePid: number | undefined): CpuSnapshot {
  const u = process.cpuUsage();
  const byComm = cpuByComm(['postgres', 'redis-server']);
  return {
    bench: (u.user + u.system) / 1e6,
    service: servicePid === undefined ? 0 : processCpuSeconds(servicePid),
    postgres: byComm.get('postgres')!,
    redis: [...byComm.get('redis-server')!.values()].reduce((a, b) => a + b, 0),
    machine: machineBusySeconds(),
  };
}

/**
 * Usage between two snapshots. PostgreSQL: the processes in `pgPids` alive at the end (a process that
 * started in the window counts from zero; one that exited in the window is lost, which only undercounts).
 */
export function cpuDelta(a: CpuSnapshot, b: CpuSnapshot, pgPids: ReadonlySet<number>): CpuUsage {
  let postgres = 0;
  for (const [pid, s] of b.postgres) if (pgPids.has(pid)) postgres += s - (a.postgres.get(pid) ?? 0);
  const bench = b.bench - a.bench;
  const service = b.service - a.service;
  const redis = b.redis - a.redis;
  const other = Math.max(0, b.machine - a.machine - bench - service - postgres - redis);
  return { bench, service, postgres, redis, other };
}
