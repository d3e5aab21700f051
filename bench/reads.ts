/**
 * Workload (4), reads: `GET /v1/guilds/:guildId/members/:userId` and `GET /v1/channels/:channelId` alternating,
 * over ids that exist in the cache database (sampled from it, so every answer should be 200).
 *
 * Two drivers, both bounded in count and time:
 * - closed loop (`runClosed`): `concurrency` workers, each sends its next request when the previous one answers
 *   (throughput at saturation, and the latency at that saturation);
 * - paced (`runPaced`): requests are due at a fixed offered rate (request i at start + i/rate), released by a
 *   timer whatever the answers (open loop), with at most `maxInFlight` outstanding. Latency is counted from the
 *   due time, so a request that left late because the client or the connections were busy is charged for the
 *   wait (no coordinated omission); the latency from the actual send is reported too.
 */
import pg from 'pg';
import type { HttpClient } from './service.js';

export type ReadKind = 'member' | 'channel';
export const READ_KINDS: readonly ReadKind[] = ['member', 'channel'];

export interface ReadItem {
  kind: ReadKind;
  /** HTTP path on the service. */
  path: string;
  /** Primary key: [guildId, userId] for a member, [channelId] for a channel. */
  key: string[];
}

export interface ReadIds {
  /** [guildId, userId] of existing members. */
  members: [string, string][];
  channels: string[];
}

/**
 * Existing ids of the given guilds in a cache database: up to `maxMembers` members (a deterministic
 * pseudo-random sample, by md5 of the key) and every channel.
 */
export async function sampleIds(url: string, guildIds: readonly string[], maxMembers: number): Promise<ReadIds> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const m = await client.query<{ g: string; u: string }>(
      `SELECT guild_id::text AS g, user_id::text AS u FROM members WHERE guild_id = ANY($1::bigint[])
       ORDER BY md5(guild_id::text || ':' || user_id::text) LIMIT $2`,
      [guildIds, maxMembers],
    );
    const c = await client.query<{ id: string }>(
      'SELECT id::text AS id FROM channels WHERE guild_id = ANY($1::bigint[]) ORDER BY md5(id::text)',
      [guildIds],
    );
    return { members: m.rows.map((r) => [r.g, r.u]), channels: c.rows.map((r) => r.id) };
  } finally {
    await client.end();
  }
}

/** The subset of `ids` (order kept) that exists in the cache database at `url`. */
export async function existingIds(url: string, ids: ReadIds): Promise<ReadIds> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const m = await client.query<{ g: string; u: string }>(
      `SELECT k.g::text AS g, k.u::text AS u
       FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS k(g, u, i)
       JOIN members m ON m.guild_id = k.g AND m.user_id = k.u
       ORDER BY k.i`,
      [ids.members.map((x) => x[0]), ids.members.map((x) => x[1])],
    );
    const c = await client.query<{ id: string }>(
      `SELECT k.id::text AS id FROM unnest($1::bigint[]) WITH ORDINALITY AS k(id, i) JOIN channels c ON c.id = k.id ORDER BY k.i`,
      [ids.channels],
    );
    return { members: m.rows.map((r) => [r.g, r.u]), channels: c.rows.map((r) => r.id) };
  } finally {
    await client.end();
  }
}

/** `n` reads alternating member, channel, member, … cycling through each id list. */
export function readSequence(ids: ReadIds, n: number, offset = 0): ReadItem[] {
  if (ids.members.length === 0 || ids.channels.length === 0) throw new Error('no ids to read');
  const out: ReadItem[] = [];
  for (let i = 0; i < n; i++) {
    const j = (i >> 1) + offset;
    if (i % 2 === 0) {
      const [g, u] = ids.members[j % ids.members.length]!;
      out.push({ kind: 'member', path: `/v1/guilds/${g}/members/${u}`, key: [g, u] });
    } else {
      const c = ids.channels[j % ids.channels.length]!;
      out.push({ kind: 'channel', path: `/v1/channels/${c}`, key: [c] });
    }
  }
  return out;
}

/** One read over HTTP: anything but 200 is a failure. */
export function httpRead(client: HttpClient, timeoutMs = 10_000): (item: ReadItem) => Promise<void> {
  return async (item) => {
    const res = await client.request('GET', item.path, undefined, timeoutMs);
    if (res.status !== 200) throw new Error(`HTTP ${res.status} for GET ${item.path}: ${res.body.slice(0, 200)}`);
  };
}

/**
 * Reads `items` once over HTTP (sequentially, untimed) and checks the answers: 200, JSON, and the object
 * asked for (member: `user.id`, and `joined_at`; channel: `id`). Returns the problems found (at most 10).
 */
export async function validateReads(client: HttpClient, items: readonly ReadItem[]): Promise<string[]> {
  const problems: string[] = [];
  for (const item of items) {
    if (problems.length >= 10) break;
    let res;
    try {
      res = await client.request('GET', item.path, undefined, 10_000);
    } catch (err) {
      problems.push(`GET ${item.path}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    if (res.status !== 200) {
      problems.push(`GET ${item.path}: HTTP ${res.status}: ${res.body.slice(0, 200)}`);
      continue;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(res.body) as Record<string, unknown>;
    } catch {
      problems.push(`GET ${item.path}: not JSON: ${res.body.slice(0, 200)}`);
      continue;
    }
    if (item.kind === 'member') {
      const user = body.user as Record<string, unknown> | undefined;
      if (user?.id !== item.key[1] || typeof body.joined_at !== 'string') {
        problems.push(`GET ${item.path}: unexpected member ${res.body.slice(0, 200)}`);
      }
    } else if (body.id !== item.key[0]) {
      problems.push(`GET ${item.path}: unexpected channel ${res.body.slice(0, 200)}`);
    }
  }
  return problems;
}

export interface ReadResult {
  mode: 'closed' | 'paced';
  /** Reads asked for. */
  planned: number;
  /** Reads started before the deadline. */
  done: number;
  /** Reads that failed (non-200, timeout, connection error). */
  errors: number;
  /** From the first send to the last answer. */
  seconds: number;
  /**
   * Latency in ms of the successful reads, sorted ascending. Closed loop: send → answer. Paced: due time →
   * answer (includes any wait behind the schedule).
   */
  latencies: Float64Array;
  /** The same per kind (member, channel). */
  byKind: Record<ReadKind, Float64Array>;
  /** Paced only: send → answer, sorted, all and per kind. */
  sendLatencies?: Float64Array;
  sendByKind?: Record<ReadKind, Float64Array>;
  /** Paced only: the offered rate (reads/s). */
  rate?: number;
  /** Paced only: how late (ms) the worst read left after its due time. */
  maxSendLag?: number;
  /** Most reads outstanding at once. */
  peakInFlight: number;
  errorSamples: string[];
  /** The deadline stopped the run before every read was started. */
  truncated: boolean;
}

/** Successful reads per second (NaN when any failed). */
export const readsPerSecond = (r: ReadResult) => (r.errors === 0 ? r.latencies.length / r.seconds : Number.NaN);

function collect(
  items: readonly ReadItem[],
  done: number,
  ok: Uint8Array,
  lat: Float64Array,
): { latencies: Float64Array; byKind: Record<ReadKind, Float64Array> } {
  const all: number[] = [];
  const kinds: Record<ReadKind, number[]> = { member: [], channel: [] };
  for (let i = 0; i < done; i++) {
    if (!ok[i]) continue;
    all.push(lat[i]!);
    kinds[items[i]!.kind].push(lat[i]!);
  }
  const sorted = (xs: number[]) => Float64Array.from(xs).sort();
  return { latencies: sorted(all), byKind: { member: sorted(kinds.member), channel: sorted(kinds.channel) } };
}

/** Closed loop: `concurrency` workers take the items in order until all are done or `budgetMs` has passed. */
export async function runClosed(
  items: readonly ReadItem[],
  concurrency: number,
  budgetMs: number,
  read: (item: ReadItem) => Promise<unknown>,
): Promise<ReadResult> {
  const lat = new Float64Array(items.length);
  const ok = new Uint8Array(items.length);
  const errorSamples: string[] = [];
  let next = 0;
  let errors = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  const started = performance.now();
  const deadline = started + budgetMs;
  const worker = async () => {
    while (next < items.length && performance.now() < deadline) {
      const i = next++;
      inFlight++;
      peakInFlight = Math.max(peakInFlight, inFlight);
      const t0 = performance.now();
      try {
        await read(items[i]!);
        lat[i] = performance.now() - t0;
        ok[i] = 1;
      } catch (err) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(err instanceof Error ? err.message : String(err));
      } finally {
        inFlight--;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  const seconds = (performance.now() - started) / 1000;
  return {
    mode: 'closed',
    planned: items.length,
    done: next,
    errors,
    seconds,
    ...collect(items, next, ok, lat),
    peakInFlight,
    errorSamples,
    truncated: next < items.length,
  };
}

/**
 * Paced (open loop): read i is due at start + i / rate and is sent as soon as the timer fires after that (a
 * Node timer fires at best every ~1 ms, so reads leave in small bursts), unless `maxInFlight` are outstanding.
 * No read starts after `budgetMs`; the run ends when the started ones have answered.
 */
export function runPaced(
  items: readonly ReadItem[],
  rate: number,
  maxInFlight: number,
  budgetMs: number,
  read: (item: ReadItem) => Promise<unknown>,
): Promise<ReadResult> {
  const n = items.length;
  const interval = 1000 / rate;
  const fromDue = new Float64Array(n);
  const fromSend = new Float64Array(n);
  const ok = new Uint8Array(n);
  const errorSamples: string[] = [];
  let next = 0;
  let errors = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  let maxSendLag = 0;
  let stopped = false;
  let settled = false;
  const started = performance.now();
  let lastAnswer = started;
  const deadline = started + budgetMs;

  return new Promise((resolve) => {
    const finishIfDone = () => {
      if (settled || inFlight > 0 || !(stopped || next >= n)) return;
      settled = true;
      const seconds = (lastAnswer - started) / 1000;
      const { latencies, byKind } = collect(items, next, ok, fromDue);
      const send = collect(items, next, ok, fromSend);
      resolve({
        mode: 'paced',
        planned: n,
        done: next,
        errors,
        seconds,
        latencies,
        byKind,
        sendLatencies: send.latencies,
        sendByKind: send.byKind,
        rate,
        maxSendLag,
        peakInFlight,
        errorSamples,
        truncated: next < n,
      });
    };
    const send = (i: number, due: number) => {
      inFlight++;
      peakInFlight = Math.max(peakInFlight, inFlight);
      const sent = performance.now();
      maxSendLag = Math.max(maxSendLag, sent - due);
      read(items[i]!).then(
        () => {
          const end = performance.now();
          fromDue[i] = end - due;
          fromSend[i] = end - sent;
          ok[i] = 1;
        },
        (err: unknown) => {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(err instanceof Error ? err.message : String(err));
        },
      ).finally(() => {
        inFlight--;
        lastAnswer = performance.now();
        finishIfDone();
      });
    };
    const tick = () => {
      const now = performance.now();
      if (now >= deadline) {
        stopped = true;
        finishIfDone();
        return;
      }
      while (next < n && inFlight < maxInFlight) {
        const due = started + next * interval;
        if (due > now) break;
        send(next++, due);
      }
      if (next >= n) {
        finishIfDone();
        return;
      }
      setTimeout(tick, Math.max(0, started + next * interval - performance.now()));
    };
    tick();
  });
}

// ---- the service's own view: the HTTP duration histogram from /metrics ----

/** One route's `dsc_http_request_duration_seconds` histogram: cumulative counts by upper bound (s), sum, count. */
export interface RouteHistogram {
  buckets: Map<number, number>;
  sum: number;
  count: number;
}

function labelsOf(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of raw.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/** The GET histograms of `routes` (Fastify route patterns) from a /metrics text. */
export function parseRouteHistograms(text: string, routes: readonly string[]): Map<string, RouteHistogram> {
  const out = new Map<string, RouteHistogram>(routes.map((r) => [r, { buckets: new Map(), sum: 0, count: 0 }]));
  const re = /^dsc_http_request_duration_seconds_(bucket|sum|count)\{([^}]*)\} ([0-9.eE+-]+)$/gm;
  for (const m of text.matchAll(re)) {
    const labels = labelsOf(m[2]!);
    if (labels.method !== 'GET') continue;
    const h = out.get(labels.route ?? '');
    if (!h) continue;
    const v = Number(m[3]);
    if (m[1] === 'sum') h.sum = v;
    else if (m[1] === 'count') h.count = v;
    else h.buckets.set(labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le), v);
  }
  return out;
}

export async function scrapeRouteHistograms(client: HttpClient, routes: readonly string[]): Promise<Map<string, RouteHistogram>> {
  const res = await client.request('GET', '/metrics', undefined, 30_000);
  if (res.status !== 200) throw new Error(`GET /metrics: HTTP ${res.status}`);
  return parseRouteHistograms(res.body, routes);
}

export function histogramDelta(a: RouteHistogram, b: RouteHistogram): RouteHistogram {
  const buckets = new Map<number, number>();
  for (const [le, v] of b.buckets) buckets.set(le, v - (a.buckets.get(le) ?? 0));
  return { buckets, sum: b.sum - a.sum, count: b.count - a.count };
}

/** The smallest bucket bound (ms) holding the p-quantile: an upper bound for it. Infinity past the last bound. */
export function histogramQuantileBound(h: RouteHistogram, p: number): number {
  if (h.count <= 0) return Number.NaN;
  const want = p * h.count;
  for (const [le, v] of [...h.buckets].sort((x, y) => x[0] - y[0])) if (v >= want) return le * 1000;
  return Number.POSITIVE_INFINITY;
}
