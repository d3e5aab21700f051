/**
 * Workload (5), the startup storm: a bot (re)starts and every shard sends a GUILD_CREATE per guild. 5,000 ordinary
 * guilds (see storm-payloads.ts) forwarded as `{ payload, shardId }` in arrays of 50, 4 requests in flight, in
 * guilds/s, beside the same bodies posted to a do-nothing Fastify route (bench/noop-server.ts: the floor set by
 * HTTP and JSON.parse). Then a second pass, the same guilds again (a reconnect re-sends them unchanged, with
 * the session's next sequence numbers).
 * After each pass the service's rows for the storm's guilds and users are counted against what was sent. The
 * Redis baseline takes the same two passes (and the same check).
 */
import { CacheClient } from '../../src/client/index.js';
import { CFG, log } from '../config.js';
import { countMismatches, guildSetCounts, type GuildSetCounts } from '../db.js';
import { f0 } from '../format.js';
import { ROOT, asMeasured, eventsPerSecond, type Harness, type Measured } from '../harness.js';
import { runLoad } from '../load.js';
import type { HttpClient } from '../service.js';
import { missingGuildKeys, stormPlan, type StormPlan } from '../storm-payloads.js';

export interface StormResult {
  guilds: number;
  requests: number;
  bytes: number;
  expected: GuildSetCounts;
  /** The do-nothing route, same bodies (CPU: `service` is the route's process). */
  noop: Measured;
  svc1: Measured;
  svc2: Measured;
  /** Differences between what was sent and what the cache holds after each pass (empty: they match). */
  svcCheck1: string[];
  svcCheck2: string[];
  redis1: Measured;
  redis2: Measured;
  redisCheck1: string[];
  redisCheck2: string[];
  /** used_memory of redis-server after the passes. */
  redisMemory?: string;
  /**
   * The latency the cache adds to an INTERACTION_CREATE handler wired as in examples/event-handler.ts
   * (`await cache.dispatch(packet)`, then the bot's handlers) during the first pass: ms per probe.
   */
  interaction?: number[];
}

/**
 * Every `everyMs`, an INTERACTION_CREATE forwarded through the typed client the way the example's handler
 * does (`await cache.dispatch({ payload, shardId })` before running the bot's handlers), timing the await.
 * The client learned the tracked events first (GET /v1/events), as it does at its first dispatch.
 */
async function interactionProbe(port: number, everyMs: number): Promise<{ stop(): Promise<number[]> }> {
  const cache = new CacheClient({ url: `http://127.0.0.1:${port}` });
  await cache.learnTrackedEvents();
  const samples: number[] = [];
  let running = true;
  let seq = 1;
  const loop = (async () => {
    while (running) {
      const payload = { op: 0, t: 'INTERACTION_CREATE', s: seq++, d: { id: String(1_000_000 + seq), type: 2, token: 't', application_id: '1' } };
      const t0 = performance.now();
      await cache.dispatch({ payload, shardId: 0 } as never);
      samples.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await cache.close();
      return samples;
    },
  };
}

/** The service, the do-nothing route or Redis, each taking one body. */
type Sink = (body: string, guilds: number) => Promise<void>;

const pass = (plan: StormPlan, sink: Sink, budgetMs: number) =>
  runLoad({
    items: plan.bodies.map((body, i) => ({ body, guilds: plan.sizes[i]! })),
    concurrency: CFG.stormInFlight,
    budgetMs,
    weight: (x) => x.guilds,
    run: (x) => sink(x.body, x.guilds),
  });

const noopSink =
  (client: HttpClient): Sink =>
  async (body) => {
    const res = await client.request('POST', '/v1/dispatch', body, 120_000);
    if (res.status !== 200) throw new Error(`do-nothing route: HTTP ${res.status}: ${res.body.slice(0, 200)}`);
  };

export async function storm(h: Harness): Promise<StormResult> {
  const t0 = performance.now();
  // Sequence numbers go up from the warm-up to the first pass to the second, as on a gateway session: the
  // service applies a shard's `s` once, so a second pass with the same numbers would be all duplicates.
  const warm = stormPlan(1_000_000, CFG.stormWarmupGuilds, 10_000_000, CFG.stormShards, CFG.stormArraySize);
  const plan = stormPlan(0, CFG.stormGuilds, 0, CFG.stormShards, CFG.stormArraySize, 1 + CFG.stormWarmupGuilds);
  const again = stormPlan(0, CFG.stormGuilds, 0, CFG.stormShards, CFG.stormArraySize, 1 + CFG.stormWarmupGuilds + CFG.stormGuilds);
  const sample = (JSON.parse(plan.bodies[0]!) as { payload: { d: Record<string, unknown> } }[])[0]!.payload.d;
  const missing = missingGuildKeys(ROOT, sample);
  if (missing.length > 0) throw new Error(`(5) the storm's guilds lack keys real GUILD_CREATEs have: ${missing.join(', ')}`);
  log(
    `(5) ${f0(CFG.stormGuilds)} GUILD_CREATEs on ${CFG.stormShards} shards, ${plan.bodies.length} bodies of ${CFG.stormArraySize}, ` +
      `${(plan.bytes / 1024 ** 2).toFixed(1)} MiB, built in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  const svcSink: Sink = (body, guilds) => h.client.dispatch(body, guilds, 120_000);
  const redis = h.redis;
  const redisSink: Sink | undefined = redis ? (body, guilds) => redis.handleBody(body, guilds) : undefined;
  const noop = await h.startChild('bench/noop-server.ts');
  log(`(5) do-nothing route pid ${String(noop.child.pid)}; untimed warm-up, ${f0(CFG.stormWarmupGuilds)} other guilds each`);
  for (const [name, sink] of [['service', svcSink], ['do-nothing', noopSink(noop.client)], ['Redis', redisSink]] as const) {
    if (!sink) continue;
    const w = await pass(warm, sink, 60_000);
    if (w.errors > 0) log(`(5) warm-up (${name}): ${w.errors} errors: ${w.errorSamples.join(' | ')}`);
  }

  const check = async (m: Measured, counts: () => Promise<GuildSetCounts>): Promise<string[]> => {
    if (m.failure) return [`not checked: ${m.failure}`];
    if (m.load?.truncated) return ['not checked: the pass was stopped by its time budget'];
    try {
      return countMismatches(plan.expected, await counts());
    } catch (err) {
      return [`counting: ${err instanceof Error ? err.message : String(err)}`];
    }
  };
  const svcCounts = () => guildSetCounts(h.svcUrl, plan.guildIds, plan.userIds);
  const redisCounts = () => redis!.counts(plan.guildIds, plan.userIds);
  const gps = (m: Measured) => `${f0(eventsPerSecond(m))} guilds/s${m.failure ? ` (${m.failure})` : ''}`;

  log('(5) do-nothing route');
  const noopRun = asMeasured(await h.measure(noop.child.pid, () => pass(plan, noopSink(noop.client), CFG.serviceBudgetMs)));
  log(`(5) do-nothing route: ${gps(noopRun)}`);
  await h.stopChild(noop.child);

  log('(5) service: first pass, with an INTERACTION_CREATE through the typed client every 10 ms');
  const probe = await interactionProbe(h.port, 10);
  const svc1 = asMeasured(await h.measureService(() => pass(plan, svcSink, CFG.serviceBudgetMs)));
  const interaction = await probe.stop();
  const svcCheck1 = await check(svc1, svcCounts);
  log(`(5) service first pass: ${gps(svc1)}; rows ${svcCheck1.length === 0 ? 'match' : `DO NOT match: ${svcCheck1.join('; ')}`}`);
  log('(5) service: second pass (the same guilds again)');
  const svc2 = asMeasured(await h.measureService(() => pass(again, svcSink, CFG.serviceBudgetMs)));
  const svcCheck2 = await check(svc2, svcCounts);
  log(`(5) service second pass: ${gps(svc2)}; rows ${svcCheck2.length === 0 ? 'match' : `DO NOT match: ${svcCheck2.join('; ')}`}`);

  const result: StormResult = {
    guilds: CFG.stormGuilds,
    requests: plan.bodies.length,
    bytes: plan.bytes,
    expected: plan.expected,
    noop: noopRun,
    svc1,
    svc2,
    svcCheck1,
    svcCheck2,
    redis1: { failure: h.redisMissing ?? 'no Redis baseline' },
    redis2: { failure: h.redisMissing ?? 'no Redis baseline' },
    redisCheck1: [],
    redisCheck2: [],
    interaction,
  };
  if (redis && redisSink) {
    log('(5) Redis: first pass');
    result.redis1 = asMeasured(await h.measureRedis(() => pass(plan, redisSink, CFG.serviceBudgetMs)));
    result.redisCheck1 = await check(result.redis1, redisCounts);
    log(`(5) Redis first pass: ${gps(result.redis1)}; keys ${result.redisCheck1.length === 0 ? 'match' : `DO NOT match: ${result.redisCheck1.join('; ')}`}`);
    result.redis2 = asMeasured(await h.measureRedis(() => pass(again, redisSink, CFG.serviceBudgetMs)));
    result.redisCheck2 = await check(result.redis2, redisCounts);
    log(`(5) Redis second pass: ${gps(result.redis2)}; keys ${result.redisCheck2.length === 0 ? 'match' : `DO NOT match: ${result.redisCheck2.join('; ')}`}`);
    result.redisMemory = await redis.usedMemory().catch(() => 'n/a');
  }
  return result;
}
