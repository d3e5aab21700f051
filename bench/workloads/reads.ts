/**
 * Workload (4): GET a member (with its user) and GET a channel, alternating, over ids that exist (sampled from
 * the service's database: members of the 20 small guilds written by the warm-up, (1) and (2), and their
 * channels; any non-200 is a failure). Service: 32 clients in a closed loop (saturation), then paced at a fixed
 * offered rate (open loop, 5,000 reads/s by default, ~8 s), and, when it is below that rate, paced at half the
 * closed-loop rate for 5 s (latency short of saturation). The baselines read the same ids in-process, for
 * reference: naive, one prepared SELECT by primary key each; Redis, HGET member + HGET user in one pipeline, or
 * GET of the channel (values fetched, not parsed, as the HTTP client does not parse the service's answers).
 */
import { CFG, errMsg, log } from '../config.js';
import { f0, f2 } from '../format.js';
import type { Harness } from '../harness.js';
import { percentile, type CpuUsage } from '../load.js';
import { DEFAULT_SPACE, ids } from '../payloads.js';
import {
  READ_KINDS,
  existingIds,
  histogramDelta,
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
} from '../reads.js';

export const READ_ROUTES: Record<ReadKind, string> = { member: '/v1/guilds/:guildId/members/:userId', channel: '/v1/channels/:channelId' };

export interface ReadMeasured {
  result?: ReadResult;
  cpu?: CpuUsage;
  /** Service side: Fastify's request duration histogram per read kind, over the run. */
  server?: Map<ReadKind, RouteHistogram>;
  /** Naive statements run. */
  statements?: number;
  /** The Redis baseline's run. */
  redis?: boolean;
  failure?: string;
}

export interface ReadsResult {
  svcIds?: ReadIds;
  naiveIds?: ReadIds;
  idsFailure?: string;
  /** Problems of the answer check before the timed runs (empty: OK). */
  validation: string[];
  pacedReads: number;
  svc: ReadMeasured;
  svcPaced: ReadMeasured;
  /** Service only: paced at half the closed-loop rate (when that is below CFG.readRate). */
  svcHalf?: ReadMeasured;
  naive: ReadMeasured;
  naivePaced: ReadMeasured;
  redis: ReadMeasured;
  redisPaced: ReadMeasured;
}

const fromRun = (r: { value?: ReadResult; cpu?: CpuUsage; failure?: string }, extra: Partial<ReadMeasured> = {}): ReadMeasured => {
  const m: ReadMeasured = { ...extra };
  if (r.value) m.result = r.value;
  if (r.cpu) m.cpu = r.cpu;
  if (r.failure) m.failure = r.failure;
  else if (r.value && r.value.errors > 0) m.failure = `${r.value.errors} of ${r.value.done} reads failed`;
  return m;
};

export async function reads(h: Harness): Promise<ReadsResult> {
  const pacedReads = Math.min(CFG.reads, Math.round(CFG.readRate * CFG.readPacedSeconds));
  const smallGuilds = Array.from({ length: DEFAULT_SPACE.guilds }, (_, g) => ids.guild(g));
  const out: ReadsResult = {
    validation: [],
    pacedReads,
    svc: {},
    svcPaced: {},
    naive: {},
    naivePaced: {},
    redis: {},
    redisPaced: {},
  };
  try {
    out.svcIds = await sampleIds(h.svcUrl, smallGuilds, CFG.readMembers);
    if (h.naiveUrl) out.naiveIds = await existingIds(h.naiveUrl, out.svcIds);
  } catch (err) {
    out.idsFailure = `sampling ids: ${errMsg(err)}`;
  }
  const readClient = h.httpClient(h.port, CFG.readClients);
  const readHttp = httpRead(readClient);
  const paced = (ids: ReadIds, rate: number, n: number, offset: number, read: (item: ReadItem) => Promise<unknown>) =>
    runPaced(readSequence(ids, n, offset), rate, CFG.readMaxInFlight, (1000 * n) / rate + CFG.readPacedSlackMs, read);
  const usable = (x: ReadIds | undefined) => x !== undefined && x.members.length > 0 && x.channels.length > 0;
  const noIds = (x: ReadIds | undefined): ReadMeasured => ({
    failure: out.idsFailure ?? `no ids to read (${x?.members.length ?? 0} members, ${x?.channels.length ?? 0} channels)`,
  });

  /** A service read run with CPU, and the service's own duration histograms of the two routes. */
  const measureServiceReads = async (run: () => Promise<ReadResult>): Promise<ReadMeasured> => {
    const routes = READ_KINDS.map((k) => READ_ROUTES[k]);
    let h0: Map<string, RouteHistogram> | undefined;
    try {
      h0 = await scrapeRouteHistograms(h.client, routes);
    } catch (err) {
      log(`(4) scraping /metrics: ${errMsg(err)}`);
    }
    const r = await h.measureService(run);
    const m = fromRun(r);
    if (h0 && !r.failure) {
      try {
        const h1 = await scrapeRouteHistograms(h.client, routes);
        m.server = new Map(READ_KINDS.map((k) => [k, histogramDelta(h0.get(READ_ROUTES[k])!, h1.get(READ_ROUTES[k])!)]));
      } catch (err) {
        log(`(4) scraping /metrics: ${errMsg(err)}`);
      }
    }
    return m;
  };

  // ---- service ----
  const svcIds = out.svcIds;
  if (!usable(svcIds)) {
    out.svc = noIds(svcIds);
    out.svcPaced = noIds(svcIds);
  } else if (svcIds) {
    log(`(4) service: ${f0(svcIds.members.length)} members, ${f0(svcIds.channels.length)} channels; validating 400 answers, warm-up`);
    try {
      h.assertAlive();
      out.validation = await validateReads(readClient, readSequence(svcIds, 400));
      const warm = await runClosed(readSequence(svcIds, 4_000, 5_000), CFG.readClients, 10_000, readHttp);
      if (warm.errors > 0) log(`(4) warm-up: ${warm.errors} errors: ${warm.errorSamples.join(' | ')}`);
    } catch (err) {
      out.validation.push(`validation/warm-up: ${errMsg(err)}`);
    }
    if (out.validation.length > 0) log(`(4) validation problems: ${out.validation.join(' | ')}`);
    log(`(4) service: ${f0(CFG.reads)} reads, ${CFG.readClients} clients, closed loop`);
    out.svc = await measureServiceReads(() => runClosed(readSequence(svcIds, CFG.reads), CFG.readClients, CFG.readBudgetMs, readHttp));
    log(`(4) service: ${f0(out.svc.result ? readsPerSecond(out.svc.result) : Number.NaN)} reads/s${out.svc.failure ? ` (${out.svc.failure})` : ''}`);
    log(`(4) service: ${f0(pacedReads)} reads paced at ${f0(CFG.readRate)}/s`);
    out.svcPaced = await measureServiceReads(() => paced(svcIds, CFG.readRate, pacedReads, 20_000, readHttp));
    log(`(4) service paced: p99 ${f2(out.svcPaced.result ? percentile(out.svcPaced.result.latencies, 0.99) : Number.NaN)} ms${out.svcPaced.failure ? ` (${out.svcPaced.failure})` : ''}`);
    const closedRate = out.svc.result && !out.svc.failure ? out.svc.result.latencies.length / out.svc.result.seconds : Number.NaN;
    const halfRate = Math.max(100, Math.round(closedRate / 200) * 100);
    if (Number.isFinite(closedRate) && halfRate < CFG.readRate) {
      const n = Math.round(halfRate * CFG.readHalfSeconds);
      log(`(4) service: ${f0(n)} reads paced at ${f0(halfRate)}/s (half the closed-loop rate)`);
      out.svcHalf = await measureServiceReads(() => paced(svcIds, halfRate, n, 40_000, readHttp));
      log(`(4) service paced at ${f0(halfRate)}/s: p99 ${f2(out.svcHalf.result ? percentile(out.svcHalf.result.latencies, 0.99) : Number.NaN)} ms`);
    }
  }
  if (out.validation.length > 0 && !out.svc.failure) out.svc.failure = `answers failed validation: ${out.validation.join(' | ')}`;

  // ---- baselines: the same closed loop (8 s at most: they read far faster) and paced run, in-process ----
  const baseline = async (
    name: string,
    idsOf: ReadIds | undefined,
    read: (item: ReadItem) => Promise<unknown>,
    measure: (run: () => Promise<ReadResult>) => Promise<ReadMeasured>,
  ): Promise<[ReadMeasured, ReadMeasured]> => {
    if (!usable(idsOf) || !idsOf) return [noIds(idsOf), noIds(idsOf)];
    log(`(4) ${name}: ${f0(idsOf.members.length)} members, ${f0(idsOf.channels.length)} channels; warm-up, then ${f0(CFG.reads)} reads, ${CFG.readClients} workers`);
    const warm = await runClosed(readSequence(idsOf, 4_000, 5_000), CFG.readClients, 10_000, read);
    if (warm.errors > 0) log(`(4) ${name} warm-up: ${warm.errors} errors: ${warm.errorSamples.join(' | ')}`);
    const closed = await measure(() => runClosed(readSequence(idsOf, CFG.reads), CFG.readClients, Math.min(8_000, CFG.naiveBudgetMs), read));
    log(`(4) ${name}: ${f0(closed.result ? readsPerSecond(closed.result) : Number.NaN)} reads/s; paced at ${f0(CFG.readRate)}/s`);
    return [closed, await measure(() => paced(idsOf, CFG.readRate, pacedReads, 20_000, read))];
  };
  const naive = h.naive;
  if (naive) {
    [out.naive, out.naivePaced] = await baseline(
      'naive',
      out.naiveIds,
      (item) => (item.kind === 'member' ? naive.readMember(item.key[0]!, item.key[1]!) : naive.readChannel(item.key[0]!)),
      async (run) => {
        const r = await h.measureNaive(run);
        return fromRun(r, { statements: r.statements });
      },
    );
  } else {
    out.naive = out.naivePaced = { failure: 'no naive baseline' };
  }
  const redis = h.redis;
  if (redis) {
    // The Redis cache took the same events as the service: every sampled id should be there (a miss fails the run).
    [out.redis, out.redisPaced] = await baseline(
      'Redis',
      svcIds,
      (item) => (item.kind === 'member' ? redis.readMember(item.key[0]!, item.key[1]!) : redis.readChannel(item.key[0]!)),
      async (run) => fromRun(await h.measureRedis(run), { redis: true }),
    );
  } else {
    out.redis = out.redisPaced = { failure: h.redisMissing ?? 'no Redis baseline' };
  }
  return out;
}
