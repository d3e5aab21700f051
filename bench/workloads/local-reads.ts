/**
 * Workload (7), hot reads in the bot process: 1,000 members (with their user) read over and over by 32
 * concurrent callers through the typed client, with its local cache (answers from the process, kept fresh by
 * the change feed) and without it (HTTP), in a closed loop. The members are sampled from the 20 small guilds
 * written by the warm-up; the local cache is filled by one read of each before the timed run.
 */
import { CacheClient } from '../../src/client/index.js';
import { CFG, errMsg, log } from '../config.js';
import { f0, f3 } from '../format.js';
import type { Harness } from '../harness.js';
import { percentile } from '../load.js';
import { DEFAULT_SPACE, ids } from '../payloads.js';
import { sampleIds } from '../reads.js';

export interface HotReads {
  reads: number;
  seconds: number;
  /** Per read, ms, ascending. */
  latencies: Float64Array;
  errors: number;
}

export interface LocalReadsResult {
  members: number;
  local?: HotReads;
  http?: HotReads;
  /** Local cache counters after the local run. */
  hits?: number;
  misses?: number;
  failure?: string;
}

/** `callers` async callers read `members` round-robin until `reads` are done or `budgetMs` passes. */
async function closedLoop(read: (g: string, u: string) => Promise<unknown>, members: [string, string][], callers: number, reads: number, budgetMs: number): Promise<HotReads> {
  const lat = new Float64Array(reads);
  let next = 0;
  let done = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + budgetMs;
  const caller = async () => {
    while (next < reads && performance.now() < deadline) {
      const i = next++;
      const [g, u] = members[i % members.length]!;
      const t0 = performance.now();
      try {
        if ((await read(g, u)) === undefined) throw new Error(`member ${g}/${u} not cached`);
        lat[done++] = performance.now() - t0;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: callers }, caller));
  const seconds = (performance.now() - started) / 1000;
  const latencies = lat.slice(0, done).sort();
  return { reads: done, seconds, latencies, errors };
}

export async function localReads(h: Harness): Promise<LocalReadsResult> {
  const url = `http://127.0.0.1:${h.port}`;
  const smallGuilds = Array.from({ length: DEFAULT_SPACE.guilds }, (_, g) => ids.guild(g));
  const out: LocalReadsResult = { members: 0 };
  const local = new CacheClient({ url, localCache: { maxEntries: 10_000 } });
  const http = new CacheClient({ url });
  try {
    const members = (await sampleIds(h.svcUrl, smallGuilds, CFG.localReadMembers)).members;
    out.members = members.length;
    if (members.length < CFG.localReadMembers) throw new Error(`only ${members.length} members to read`);
    for (let i = 0; i < 600 && !local.localCacheStats?.serving; i++) await new Promise((r) => setTimeout(r, 50));
    if (!local.localCacheStats?.serving) throw new Error('the local cache did not go live (change feed)');
    log(`(7) local cache: filling with ${f0(members.length)} members, then ${f0(CFG.localReads)} reads, ${CFG.readClients} callers`);
    for (const [g, u] of members) await local.members.get(g, u);
    await closedLoop((g, u) => local.members.get(g, u), members, CFG.readClients, 20_000, 5_000); // JIT
    const before = local.localCacheStats;
    out.local = await closedLoop((g, u) => local.members.get(g, u), members, CFG.readClients, CFG.localReads, 15_000);
    out.hits = local.localCacheStats!.hits - before.hits;
    out.misses = local.localCacheStats!.misses - before.misses;
    log(`(7) local cache: p50 ${f3(percentile(out.local.latencies, 0.5))} ms, p99 ${f3(percentile(out.local.latencies, 0.99))} ms; ${f0(out.hits)} hits, ${f0(out.misses)} misses`);
    log(`(7) HTTP (no local cache): ${f0(CFG.localHttpReads)} reads, ${CFG.readClients} callers`);
    await closedLoop((g, u) => http.members.get(g, u), members, CFG.readClients, 2_000, 5_000);
    out.http = await closedLoop((g, u) => http.members.get(g, u), members, CFG.readClients, CFG.localHttpReads, 15_000);
    log(`(7) HTTP: p50 ${f3(percentile(out.http.latencies, 0.5))} ms, p99 ${f3(percentile(out.http.latencies, 0.99))} ms`);
  } catch (err) {
    out.failure = errMsg(err);
  } finally {
    await local.close();
    await http.close();
  }
  return out;
}
