/**
 * The client over several instances (`new CacheClient({ url: [a, b, c] })`), each writing the shards it holds a
 * lease on (TOTAL_SHARDS on the service):
 *
 * - `ShardMap` learns who holds what from `GET /v1/shards` of every instance (each answers for itself:
 *   `here: "held"`), and the shard count for bare payloads. An instance without leases is a catch-all: it
 *   writes every shard (one instance, or several URLs of which one writes).
 * - `RoutedDispatcher` sends each event to the holder of its shard: the forward's `shardId`, else READY's
 *   `d.shard`, else `(guild_id >> 22) % total_shards`, else shard 0. Events wait in one queue per shard, in call
 *   order; each instance has one request in flight at most, taking the oldest runs of the shards it holds, and a
 *   shard is skipped while a request with its events is in flight anywhere: every shard's events are applied in
 *   call order, whatever moves between instances. A 421, a 503 (or another retryable answer) or no answer puts
 *   the batch back at the head of its shards' queues, parks those shards and learns the map again (backoff with
 *   jitter while some shard has no holder); a holder's standby takes over within about 5 s, and the events go
 *   there. Nothing is dropped; 400 and 413 are handled like the single-instance dispatcher does (the refused
 *   event alone rejects).
 * - `RoutedRequests`: resource calls go to the instances in turn (reads are served by any), the next one after
 *   no answer or a retryable status; a PUT or DELETE answered 421 goes to the holder of its shard.
 *
 * With one URL none of this runs: `Dispatcher` and `Transport` alone, as always.
 */
import type { DispatchStats, DispatcherOptions } from './dispatcher.js';
import { DISPATCH_PATH, packetJson } from './dispatcher.js';
import { CacheError, isRetryableStatus } from './errors.js';
import { answerError, backoffDelay, sleep, type Answer, type Query, type Transport } from './http.js';

/** How long a look-up of `GET /v1/shards` waits for an instance (a hung one must not stall the map). */
const LEARN_TIMEOUT_MS = 2_000;

/** Events whose guild is `d.id` (the others carry `d.guild_id`). */
const GUILD_IS_ID = new Set(['GUILD_CREATE', 'GUILD_UPDATE', 'GUILD_DELETE', 'GUILD_LOADED_DD']);

interface ShardEntry {
  shard_id?: unknown;
  total_shards?: unknown;
  here?: unknown;
}

/** Who holds which shard, as the instances say. */
export class ShardMap {
  private owners = new Map<number, number>();
  /** An instance without leases (it writes every shard), by its index; the first one that answered. */
  private catchAll: number | undefined;
  total: number | undefined;
  private learning: Promise<void> | undefined;
  /** Look-ups done (tests, stats). */
  learned = 0;

  constructor(private readonly transports: readonly Transport[]) {}

  /** Whether the shard of a bare guild payload can be told: the shard count is known (or one instance writes all). */
  get assigns(): boolean {
    return this.total !== undefined || this.catchAll !== undefined;
  }

  /** The instance holding `shard`, or undefined when none is known to. */
  destination(shard: number): number | undefined {
    return this.owners.get(shard) ?? this.catchAll;
  }

  get known(): boolean {
    return this.learned > 0;
  }

  /** Asks every instance (at once; one look-up at a time, callers share it). */
  learn(): Promise<void> {
    this.learning ??= (async () => {
      try {
        const answers = await Promise.all(this.transports.map((t) => lookUp(t)));
        const owners = new Map<number, number>();
        let catchAll: number | undefined;
        let total: number | undefined;
        answers.forEach((entries, i) => {
          if (!entries) return;
          const sharded = entries.filter((e) => typeof e.total_shards === 'number');
          if (sharded.length === 0) {
            catchAll ??= i;
            return;
          }
          total ??= sharded[0]!.total_shards as number;
          for (const e of sharded) if (e.here === 'held' && typeof e.shard_id === 'number') owners.set(e.shard_id, i);
        });
        this.owners = owners;
        this.catchAll = catchAll;
        if (total !== undefined) this.total = total;
        this.learned++;
      } finally {
        this.learning = undefined;
      }
    })();
    return this.learning;
  }
}

async function lookUp(transport: Transport): Promise<ShardEntry[] | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), LEARN_TIMEOUT_MS)));
  try {
    const answer = await Promise.race([transport.send('GET', '/v1/shards').catch(() => undefined), late]);
    return answer?.status === 200 && Array.isArray(answer.body) ? (answer.body as ShardEntry[]) : undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** What decides an event's shard, read once from the packet. */
interface Key {
  shardId?: number;
  guildId?: string;
  readyShard?: number;
}

function keyOf(packet: Record<string, unknown>): Key {
  const forward = packet.payload !== null && typeof packet.payload === 'object';
  const payload = (forward ? packet.payload : packet) as Record<string, unknown>;
  const key: Key = {};
  if (forward && typeof packet.shardId === 'number') key.shardId = packet.shardId;
  const d = payload.d as Record<string, unknown> | undefined;
  if (d === null || typeof d !== 'object') return key;
  const t = String(payload.t);
  const guild = GUILD_IS_ID.has(t) ? d.id : d.guild_id;
  if (typeof guild === 'string' || typeof guild === 'bigint') key.guildId = String(guild);
  if (t === 'READY' && Array.isArray(d.shard) && typeof d.shard[0] === 'number') key.readyShard = d.shard[0];
  return key;
}

/** The shard of an event: the forward's, READY's, its guild's under `total`, else 0 (direct messages). */
function shardOf(key: Key, total: number | undefined): number {
  if (key.shardId !== undefined) return key.shardId;
  if (key.readyShard !== undefined) return key.readyShard;
  if (key.guildId !== undefined && total !== undefined) {
    try {
      return Number((BigInt(key.guildId) >> 22n) % BigInt(total));
    } catch {
      return 0; // not a snowflake: the service answers 400 for it
    }
  }
  return 0;
}

interface Entry {
  seq: number;
  json: string;
  key: Key;
  /** Its shard, once the shard count is known (see `assign`). */
  shard: number;
  resolve: () => void;
  reject: (err: unknown) => void;
  /** Resolves once the entry is settled either way (for `flush`). */
  settled: Promise<void>;
  done: () => void;
}

export class RoutedDispatcher {
  /** Events to send, per shard, in call order. */
  private readonly queues = new Map<number, Entry[]>();
  /** Bare payloads that arrived before the shard count was known (their shard depends on it). */
  private unassigned: Entry[] = [];
  private queued = 0;
  /** Events queued per instance (those of shards it holds that are not parked): when to send at once. */
  private readonly destQueued = new Map<number, number>();
  private readonly waiting: Entry[] = [];
  /** Every entry not settled yet (queued, waiting or in flight). */
  private readonly pending = new Set<Entry>();
  /** Instances with a request in flight. */
  private readonly busy = new Set<number>();
  /** Events in flight, per shard. */
  private readonly inFlightOf = new Map<number, number>();
  private inFlight = 0;
  /** Shards whose last request failed in a way a new look-up may cure: not sent until it is done. */
  private readonly parked = new Set<number>();
  /** Per instance: a batch limit while a batch refused as a whole (400 without index, 413, 500) is halved. */
  private readonly limit = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  /** Send what is queued now (the batch delay ran out, a request came back, or `flush()`). */
  private due = false;
  private nextSeq = 1;
  private closed = false;
  private learnTimer: NodeJS.Timeout | undefined;
  /** Look-ups in a row that left an event without a holder (the backoff's step). */
  private learnFailures = 0;
  private lastError: CacheError | undefined;
  private retryAfterMs: number | undefined;
  private readonly counters = { requests: 0, retries: 0, committed: 0, rejected: 0 };

  constructor(
    private readonly transports: readonly Transport[],
    private readonly map: ShardMap,
    private readonly options: DispatcherOptions,
  ) {
    if (!(options.batchSize >= 1)) throw new RangeError('dispatch batchSize must be at least 1');
    if (!(options.maxQueued >= options.batchSize)) throw new RangeError('dispatch maxQueued must be at least batchSize');
  }

  get stats(): DispatchStats {
    return { waiting: this.waiting.length, buffered: this.queued, inFlight: this.inFlight, ...this.counters };
  }

  private get lifetime(): AbortSignal {
    return this.transports[0]!.lifetime.signal;
  }

  dispatch(packet: unknown): Promise<void> {
    if (this.closed) return Promise.reject(new CacheError('the client is closed', 0, 'POST', DISPATCH_PATH));
    let json: string;
    try {
      json = packetJson(packet);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      let done!: () => void;
      const settled = new Promise<void>((r) => (done = r));
      const key = keyOf(packet as Record<string, unknown>);
      const entry: Entry = { seq: this.nextSeq++, json, key, shard: 0, resolve, reject, settled, done };
      this.pending.add(entry);
      if (this.waiting.length === 0 && this.admitted < this.options.maxQueued) this.enqueue(entry);
      else this.waiting.push(entry);
      this.kick(entry);
    });
  }

  flush(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    const all = [...this.pending].map((e) => e.settled);
    this.due = true;
    this.kick();
    return Promise.all(all).then(() => {});
  }

  stopAccepting() {
    this.closed = true;
  }

  abandon(reason: CacheError) {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.learnTimer);
    const rest = [...[...this.queues.values()].flat(), ...this.unassigned, ...this.waiting];
    this.queues.clear();
    this.unassigned = [];
    this.waiting.length = 0;
    this.queued = 0;
    this.destQueued.clear();
    for (const e of rest) this.settle(e, reason);
  }

  private get admitted(): number {
    return this.queued + this.inFlight;
  }

  /** The instance to send `shard` to now: its holder, unless the shard is parked for a new look-up. */
  private dest(shard: number): number | undefined {
    return this.parked.has(shard) ? undefined : this.map.destination(shard);
  }

  /** Whether an event's shard can be told now (a bare guild payload needs the shard count). */
  private assignable(key: Key): boolean {
    return key.shardId !== undefined || key.readyShard !== undefined || key.guildId === undefined || this.map.assigns;
  }

  /** Events no instance is known to hold now (a dead holder's before its standby took over; nobody answered). */
  private get stranded(): boolean {
    return this.unassigned.length > 0 || [...this.queues.keys()].some((s) => this.dest(s) === undefined && !this.parked.has(s));
  }

  private enqueue(e: Entry) {
    this.queued++;
    if (!this.assignable(e.key)) {
      this.unassigned.push(e);
      return;
    }
    e.shard = shardOf(e.key, this.map.total);
    const q = this.queues.get(e.shard);
    if (q) q.push(e);
    else this.queues.set(e.shard, [e]);
    const d = this.dest(e.shard);
    if (d !== undefined) this.destQueued.set(d, (this.destQueued.get(d) ?? 0) + 1);
  }

  private admitWaiting() {
    while (this.waiting.length > 0 && this.admitted < this.options.maxQueued) this.enqueue(this.waiting.shift()!);
  }

  /** Counts the queued events per instance again (the map or the parked shards changed). */
  private recount() {
    this.destQueued.clear();
    for (const [shard, q] of this.queues) {
      const d = this.dest(shard);
      if (d !== undefined) this.destQueued.set(d, (this.destQueued.get(d) ?? 0) + q.length);
    }
  }

  private settle(e: Entry, error?: unknown) {
    if (!this.pending.delete(e)) return;
    if (error === undefined) {
      this.counters.committed++;
      e.resolve();
    } else {
      this.counters.rejected++;
      e.reject(error);
    }
    e.done();
  }

  /**
   * Sends what is due: everything after the batch delay, a request's answer or `flush()`; a full batch at
   * once. Otherwise arms the batch timer.
   */
  private kick(entry?: Entry) {
    if (this.lifetime.aborted) return;
    if (this.queued === 0) {
      this.due = false;
      return;
    }
    if (!this.map.known) {
      this.scheduleLearn(0);
      return;
    }
    if (this.due) {
      this.due = false;
      clearTimeout(this.timer);
      this.timer = undefined;
      for (let d = 0; d < this.transports.length; d++) this.pump(d);
      if (this.stranded) this.scheduleLearn();
      return;
    }
    const d = entry && this.dest(entry.shard);
    if (d !== undefined && (this.destQueued.get(d) ?? 0) >= this.options.batchSize) this.pump(d);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.due = true;
      this.kick();
    }, this.options.batchDelayMs);
  }

  /**
   * Starts a request to instance `d` (when it has none in flight) with the oldest events of the shards it holds:
   * whole runs of each shard's queue, oldest shard first, skipping shards with events in flight elsewhere.
   */
  private pump(d: number) {
    if (this.busy.has(d) || !(this.destQueued.get(d))) return;
    const max = Math.min(this.options.batchSize, this.limit.get(d) ?? Infinity);
    const runs: [number, Entry[]][] = [];
    for (const [shard, q] of this.queues) if (this.dest(shard) === d && !this.inFlightOf.has(shard)) runs.push([shard, q]);
    runs.sort((a, b) => a[1][0]!.seq - b[1][0]!.seq);
    const batch: Entry[] = [];
    let bytes = 2;
    fill: for (const [shard, q] of runs) {
      let n = 0;
      while (n < q.length && batch.length < max) {
        const e = q[n]!;
        if (batch.length > 0 && bytes + e.json.length + 1 > this.options.maxBatchBytes) break fill;
        batch.push(e);
        bytes += e.json.length + 1;
        n++;
      }
      if (n === q.length) this.queues.delete(shard);
      else q.splice(0, n);
      if (batch.length >= max) break;
    }
    if (batch.length === 0) return;
    this.queued -= batch.length;
    this.destQueued.set(d, (this.destQueued.get(d) ?? 0) - batch.length);
    void this.send(d, batch);
  }

  private async send(d: number, batch: Entry[]) {
    this.busy.add(d);
    const shards = new Set(batch.map((e) => e.shard));
    for (const s of shards) this.inFlightOf.set(s, (this.inFlightOf.get(s) ?? 0) + 1);
    this.inFlight += batch.length;
    let answer: Answer | undefined;
    let error: CacheError | undefined;
    try {
      this.counters.requests++;
      answer = await this.transports[d]!.send('POST', DISPATCH_PATH, `[${batch.map((e) => e.json).join(',')}]`);
      if (answer.status < 200 || answer.status >= 300) error = answerError(answer, 'POST', DISPATCH_PATH);
    } catch (err) {
      error = err instanceof CacheError ? err : new CacheError(String(err), 0, 'POST', DISPATCH_PATH, undefined, { cause: err });
    }
    for (const s of shards) {
      const n = (this.inFlightOf.get(s) ?? 1) - 1;
      if (n === 0) this.inFlightOf.delete(s);
      else this.inFlightOf.set(s, n);
    }
    this.inFlight -= batch.length;
    this.busy.delete(d);
    this.answered(d, batch, shards, error, answer);
    this.admitWaiting();
    // Events that arrived while this request was in flight have waited long enough.
    this.due = true;
    this.kick();
  }

  /** What an answer does to its batch: settled, back in its queues (shards parked for a new look-up), or split. */
  private answered(d: number, batch: Entry[], shards: Set<number>, error: CacheError | undefined, answer: Answer | undefined) {
    if (this.lifetime.aborted) {
      const destroyed = new CacheError('the client was destroyed before the event was committed', 0, 'POST', DISPATCH_PATH, undefined, { cause: error });
      for (const e of batch) this.settle(e, destroyed);
      return;
    }
    if (!error) {
      this.limit.delete(d);
      this.options.onCommitted?.(answer?.changeId);
      for (const e of batch) this.settle(e);
      return;
    }
    const status = error.statusCode;
    if (status === 421 || error.retryable) {
      // Nothing of it was applied (or, without an answer, maybe all of it: sent again, forwards apply once).
      // A 421 names the shards the instance does not hold; the others of the batch may go back to it.
      const named = status === 421 ? refusedShards(answer).filter((s) => shards.has(s)) : [];
      for (const s of named.length > 0 ? named : shards) this.parked.add(s);
      this.requeue(batch);
      this.counters.retries++;
      this.lastError = error;
      this.retryAfterMs = answer?.retryAfterMs;
      this.scheduleLearn();
      return;
    }
    if (status === 400 && error.code === 'INVALID_EVENT' && error.index !== undefined && error.index < batch.length) {
      const bad = batch[error.index]!;
      const own = new CacheError(error.message.replace(/^body\[\d+\]/, 'body'), status, 'POST', DISPATCH_PATH, error.error, {
        code: error.code,
        index: 0,
        field: error.field?.replace(/^body\[\d+\]/, 'body'),
      });
      this.settle(bad, own);
      this.requeue(batch.filter((e) => e !== bad));
      return;
    }
    if (batch.length > 1 && (status === 400 || status === 413 || status >= 500)) {
      // No index (or too large, or a server error): halve until the culprit stands alone.
      this.limit.set(d, Math.ceil(batch.length / 2));
      this.requeue(batch);
      return;
    }
    for (const e of batch) this.settle(e, error);
  }

  /** Puts a batch back at the head of its shards' queues (nothing of those shards was sent after it). */
  private requeue(entries: Entry[]) {
    const byShard = new Map<number, Entry[]>();
    for (const e of entries) {
      const run = byShard.get(e.shard);
      if (run) run.push(e);
      else byShard.set(e.shard, [e]);
    }
    for (const [shard, run] of byShard) {
      const q = this.queues.get(shard);
      this.queues.set(shard, q ? [...run, ...q] : run);
    }
    this.queued += entries.length;
    this.recount();
  }

  /** Once the shard count is known: the bare payloads that waited for it join their shards' queues in call order. */
  private assign() {
    if (this.unassigned.length === 0 || !this.map.assigns) return;
    const waiting = this.unassigned;
    this.unassigned = [];
    for (const e of waiting) {
      e.shard = shardOf(e.key, this.map.total);
      const q = this.queues.get(e.shard) ?? [];
      let i = q.length;
      while (i > 0 && q[i - 1]!.seq > e.seq) i--;
      q.splice(i, 0, e);
      this.queues.set(e.shard, q);
    }
  }

  /**
   * Learns the map again after a backoff (at once for the first look-up); parked shards are sent again once it
   * is done. While some event has no holder, the backoff grows (a holder's standby takes a few seconds).
   */
  private scheduleLearn(delayMs?: number) {
    if (this.learnTimer || this.lifetime.aborted) return;
    const policy = this.transports[0]!.options.retry;
    const wait = delayMs ?? backoffDelay(this.learnFailures + 1, this.retryAfterMs, policy);
    this.retryAfterMs = undefined;
    if (delayMs === undefined && this.lastError) {
      this.transports[0]!.options.onRetry?.({
        kind: 'dispatch',
        method: 'POST',
        path: DISPATCH_PATH,
        attempt: this.learnFailures + 1,
        delayMs: wait,
        error: this.lastError,
        events: this.queued,
      });
    }
    this.learnTimer = setTimeout(async () => {
      await this.map.learn();
      this.learnTimer = undefined;
      this.parked.clear();
      this.assign();
      this.recount();
      if (this.stranded) {
        this.learnFailures++;
        this.lastError = new CacheError('no instance holds the shard of some events now (a standby takes it over): looking again', 421, 'POST', DISPATCH_PATH);
      } else {
        this.learnFailures = 0;
        this.lastError = undefined;
      }
      this.due = true;
      this.kick();
    }, wait);
  }
}

/** The shards a 421 answer says the instance does not hold. */
function refusedShards(answer: Answer | undefined): number[] {
  const shards = (answer?.body as { shards?: { shard?: unknown }[] } | undefined)?.shards;
  return Array.isArray(shards) ? shards.map((s) => s.shard).filter((s): s is number => typeof s === 'number') : [];
}

/** Resource calls over several instances (see the module comment). */
export class RoutedRequests {
  private next = 0;

  constructor(
    private readonly transports: readonly Transport[],
    private readonly map: ShardMap,
  ) {}

  /** One exchange with some instance (the next in turn): `/v1/events`, `/ready`, `/health`. */
  send(method: string, path: string): Promise<Answer> {
    const t = this.transports[this.next++ % this.transports.length]!;
    return t.send(method, path);
  }

  /** Like `Transport.request`, going to the next instance after no answer or a retryable status. */
  async request(method: string, path: string, attempts: number, body?: string, query?: Query): Promise<Answer> {
    let target = this.next++ % this.transports.length;
    const policy = this.transports[0]!.options;
    let followed = false;
    for (let attempt = 1; ; attempt++) {
      let answer: Answer | undefined;
      let error: CacheError;
      try {
        answer = await this.transports[target]!.send(method, path, body, query);
        const holder = answer.status === 421 && !followed ? await this.holderFor(answer) : undefined;
        if (holder !== undefined && holder !== target) {
          // Misdirected: once straight to the holder, without waiting.
          followed = true;
          target = holder;
          attempt--;
          continue;
        }
        if (!isRetryableStatus(answer.status)) return answer;
        error = answerError(answer, method, path);
      } catch (err) {
        if (!(err instanceof CacheError) || this.transports[0]!.lifetime.signal.aborted) throw err;
        error = err;
      }
      if (attempt >= attempts) {
        if (answer) return answer;
        throw error;
      }
      const delayMs = backoffDelay(attempt, answer?.retryAfterMs, policy.retry);
      policy.onRetry?.({ kind: 'request', method, path, attempt, delayMs, error });
      await sleep(delayMs, this.transports[0]!.lifetime.signal);
      target = (target + 1) % this.transports.length;
    }
  }

  /** The instance holding the first shard a 421 names, after learning the map again. */
  private async holderFor(answer: Answer): Promise<number | undefined> {
    const shard = (answer.body as { shards?: { shard?: unknown }[] } | undefined)?.shards?.[0]?.shard;
    if (typeof shard !== 'number') return undefined;
    await this.map.learn();
    return this.map.destination(shard);
  }
}
