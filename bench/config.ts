/**
 * The benchmark's knobs (environment, all optional) and the selection of workloads (`BENCH_ONLY`).
 *
 * Sizes: BENCH_SINGLE_EVENTS, BENCH_ARRAYS, BENCH_BIG_MEMBERS, BENCH_NAIVE_SAMPLE, BENCH_WARMUP_EVENTS,
 * BENCH_STORM_GUILDS (GUILD_CREATEs of the storm, default 5,000), BENCH_STORM_SHARDS (default 16),
 * BENCH_READS (reads of the closed-loop run (4), default 60,000, at most 18 s; the paced run does
 * min(BENCH_READS, 8 s × rate)), BENCH_READS_RATE (offered rate of the paced run (4), default 5,000/s).
 * Budgets: BENCH_NAIVE_BUDGET_MS. Service: BENCH_MESSAGE_LIMIT (its MESSAGE_LIMIT, default 200),
 * BENCH_SERVICE_LOG_LEVEL (its LOG_LEVEL, default warn). Where: BENCH_ADMIN_URL (scratch databases, see db.ts),
 * BENCH_REDIS_URL (default redis://127.0.0.1:6379), BENCH_REDIS_DB (the Redis database index the baseline owns
 * and flushes, default 9). Diagnostics: BENCH_CPU_PROF=1 (profile the service with --cpu-prof and print a
 * summary; BENCH_KEEP_PROFILE=1 keeps the files), BENCH_CHILD_TRACE=1 (the child reports the signals it receives
 * and where it exits: see child-trace.ts).
 * (6) shards: BENCH_SHARD_EVENTS (timed events per run, default 100,000), BENCH_FAILOVER_ROUNDS (default 5).
 * Change feed: BENCH_LOCAL_READS (reads of (7) with the local cache, default 3,000,000), BENCH_STALENESS_SECONDS
 * (length of (8), default 15), BENCH_SUBSCRIBER_EVENTS (events of each run of (9), default 20,000).
 * Selection: BENCH_ONLY=storm,single (comma-separated names of WORKLOADS; default all).
 */

function num(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? Number.NaN : Number(raw);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : fallback;
}

/** The workloads in the order they run. */
export const WORKLOADS = ['single', 'arrays', 'big-guild', 'reads', 'storm', 'shards', 'local-reads', 'staleness', 'subscribers', 'scope'] as const;
export type Workload = (typeof WORKLOADS)[number];

/** `BENCH_ONLY`, checked: an unknown name is an error, not a silent empty run. */
function selected(raw: string | undefined): ReadonlySet<Workload> {
  if (raw === undefined || raw.trim() === '') return new Set(WORKLOADS);
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(WORKLOADS as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown workload ${unknown.join(', ')} (known: ${WORKLOADS.join(', ')})`);
  return new Set(names as Workload[]);
}

export const CFG = {
  only: selected(process.env.BENCH_ONLY),
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
  /** (4): closed-loop budget of the service (the baselines get 8 s: they read far faster). */
  readBudgetMs: 18_000,
  /** (4): a paced run may overrun its schedule by this much before no new read starts. */
  readPacedSlackMs: 1_500,
  /** (4): the extra service-only paced run at half the closed-loop rate lasts this long. */
  readHalfSeconds: 5,
  /** (5) the startup storm: GUILD_CREATEs, forwarded as { payload, shardId } in arrays, a few requests in flight. */
  stormGuilds: num('BENCH_STORM_GUILDS', 5_000),
  stormShards: num('BENCH_STORM_SHARDS', 16),
  stormArraySize: 50,
  stormInFlight: 4,
  /** (5): untimed warm-up guilds (other ids), so the timed passes do not pay for the JIT. */
  stormWarmupGuilds: 200,
  /** (6) shards: timed events per run (one instance, two instances), and failover rounds. */
  shardEvents: num('BENCH_SHARD_EVENTS', 100_000),
  failoverRounds: num('BENCH_FAILOVER_ROUNDS', 5),
  /** (7) hot reads in the bot process: members read, reads with the local cache, reads over HTTP. */
  localReadMembers: 1_000,
  localReads: num('BENCH_LOCAL_READS', 3_000_000),
  localHttpReads: 30_000,
  /** (8) staleness: background ingest rate, length, probe period. */
  stalenessRate: 5_000,
  stalenessSeconds: num('BENCH_STALENESS_SECONDS', 15),
  stalenessProbeMs: 25,
  /** (9) ingest with change feed subscribers: events per run, subscribers. */
  subscriberEvents: num('BENCH_SUBSCRIBER_EVENTS', 20_000),
  subscriberCount: 10,
  /** Per service workload (and per storm pass). */
  serviceBudgetMs: 60_000,
  /** Per naive workload. */
  naiveBudgetMs: num('BENCH_NAIVE_BUDGET_MS', 30_000),
  /** MESSAGE_LIMIT of the service (messages kept per channel; 0 = never prune). */
  messageLimit: process.env.BENCH_MESSAGE_LIMIT !== undefined && /^\d+$/.test(process.env.BENCH_MESSAGE_LIMIT) ? Number(process.env.BENCH_MESSAGE_LIMIT) : 200,
  serviceLogLevel: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'warn',
  redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  redisDb: process.env.BENCH_REDIS_DB !== undefined && /^\d+$/.test(process.env.BENCH_REDIS_DB) ? Number(process.env.BENCH_REDIS_DB) : 9,
  /** The whole run: abort (with cleanup) past this. */
  watchdogMs: 9 * 60_000,
  cpuProf: process.env.BENCH_CPU_PROF === '1' || process.env.BENCH_CPU_PROF === 'true',
  keepProfile: process.env.BENCH_KEEP_PROFILE === '1',
  childTrace: process.env.BENCH_CHILD_TRACE === '1',
};

export type Config = typeof CFG;

export const runs = (w: Workload) => CFG.only.has(w);

export const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

export const errMsg = (e: unknown) => (e instanceof Error ? e.message : String(e));
