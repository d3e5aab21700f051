/**
 * Workload (3): one GUILD_CREATE with 100,000 members (with their users), channels and roles, timed from the
 * first byte sent to the answer. The naive cache writes a sample of the members one statement per row and is
 * extrapolated; the Redis cache takes the whole body (one pipeline).
 */
import { CFG, errMsg, log } from '../config.js';
import { tableCounts } from '../db.js';
import { f0, f1, f3 } from '../format.js';
import type { Harness } from '../harness.js';
import type { CpuUsage } from '../load.js';
import { guildCreate, ids } from '../payloads.js';
import type { ServiceMetrics } from '../service.js';

export interface BigResult {
  seconds: number;
  failure?: string;
  cpu?: CpuUsage;
  metrics?: ServiceMetrics;
  cachedMembers?: number;
}

export interface NaiveBig {
  guildAndChannelsSeconds: number;
  sampleMembers: number;
  sampleSeconds: number;
  extrapolatedSeconds: number;
  statements: number;
}

export interface BigGuildResult {
  bodyBytes: number;
  /** Client-side JSON.stringify of the body (not timed). */
  stringifySeconds: number;
  svc: BigResult;
  naive?: NaiveBig;
  naiveFailure?: string;
  redis: BigResult & { commands?: number };
}

export async function bigGuild(h: Harness): Promise<BigGuildResult> {
  const memberUsers = Array.from({ length: CFG.bigMembers }, (_, i) => i);
  const big = guildCreate({ guild: CFG.bigGuild, channels: CFG.bigChannels, roles: CFG.bigRoles, memberUsers, seed: 33 });
  const t0 = performance.now();
  const body = Buffer.from(JSON.stringify(big));
  const stringifySeconds = (performance.now() - t0) / 1000;
  const bigId = ids.guild(CFG.bigGuild);
  const timed = async (send: () => Promise<void>) => {
    const started = performance.now();
    await send();
    return (performance.now() - started) / 1000;
  };

  log(`(3) service: GUILD_CREATE with ${f0(CFG.bigMembers)} members, ${(body.length / 1024 ** 2).toFixed(1)} MiB of JSON`);
  const s = await h.measureService(() => timed(() => h.client.dispatch(body, 1, 300_000)));
  const svc: BigResult = { seconds: s.value ?? Number.NaN };
  if (s.failure) svc.failure = s.failure;
  if (s.cpu) svc.cpu = s.cpu;
  if (s.metrics) svc.metrics = s.metrics;
  if (!svc.failure) {
    try {
      svc.cachedMembers = (await tableCounts(h.svcUrl, { members: `guild_id = ${bigId}` })).members;
    } catch (err) {
      log(`counting members: ${errMsg(err)}`);
    }
  }
  log(`(3) service: ${f3(svc.seconds)} s${svc.failure ? ` (${svc.failure})` : ''}`);

  const result: BigGuildResult = { bodyBytes: body.length, stringifySeconds, svc, redis: { seconds: Number.NaN } };
  if (h.naive) {
    const naive = h.naive;
    log(`(3) naive: guild + channels, then a sample of ${f0(CFG.naiveBigSample)} members one statement per row`);
    const members = big.d.members as Record<string, unknown>[];
    const n = await h.measureNaive(async (): Promise<NaiveBig> => {
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
    if (n.value) result.naive = n.value;
    else result.naiveFailure = n.failure ?? '?';
    log(`(3) naive: ${n.value ? `${f1(n.value.extrapolatedSeconds)} s extrapolated` : `FAILED: ${result.naiveFailure}`}`);
  }

  log('(3) Redis: the same body, one pipeline');
  const r = await h.measureRedis(() => timed(() => h.redis!.handleBody(body, 1)));
  result.redis = { seconds: r.value ?? Number.NaN, commands: r.redisCommands };
  if (r.failure) result.redis.failure = r.failure;
  if (r.cpu) result.redis.cpu = r.cpu;
  log(`(3) Redis: ${f3(result.redis.seconds)} s${r.failure ? ` (${r.failure})` : ''}`);
  return result;
}
