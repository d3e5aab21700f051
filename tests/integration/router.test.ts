/**
 * The client over several instances (src/client/router.ts), against real apps with shard leases listening on
 * 127.0.0.1 over one real PostgreSQL database: A writes shards 0-1, B shards 2-3, C stands by for 0-1. Every
 * request the client sends is watched (its `fetch` option): a shard's events are never in flight at two
 * instances at once, and each shard's events are committed in call order, also while shard 0 and 1 move from
 * A to C.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CacheClient, type DispatchPacket } from '../../src/client/index.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { makeApp } from '../helpers/app.js';
import { createPostgres } from '../helpers/db.js';
import { freePort } from '../helpers/process.js';
import { guildOn, user } from '../helpers/shard-traffic.js';

const TOTAL = 4;
const shardOf = (guild: string) => Number((BigInt(guild) >> 22n) % BigInt(TOTAL));

/** A `fetch` that checks the routing invariants on every POST /v1/dispatch (see the file comment). */
class Watch {
  readonly inFlight = new Map<number, string>();
  /** Per shard, the `n` of the events committed, in commit order. */
  readonly committed = new Map<number, number[]>();
  readonly requests = new Map<string, number>();
  violations: string[] = [];
  /** Requests to this origin wait here (in flight, not yet sent) until `release()`. */
  hold: string | undefined;
  held = 0;
  private released: Promise<void> = Promise.resolve();
  release: () => void = () => {};
  /** The next request to this origin gets no answer (as when the connection is reset). */
  failNext: string | undefined;

  holdRequestsTo(origin: string) {
    this.hold = origin;
    this.released = new Promise((r) => (this.release = r));
  }

  readonly fetch: typeof fetch = async (input, init) => {
    const url = String(input);
    const origin = new URL(url).origin;
    if (!url.endsWith('/v1/dispatch') || init?.method !== 'POST') return fetch(input, init);
    const events = JSON.parse(String(init.body)) as { payload?: { d: Record<string, unknown> }; d?: Record<string, unknown> }[];
    const shards = new Set<number>();
    const ns: [number, number][] = [];
    for (const e of events) {
      const d = (e.payload ?? e).d!;
      const shard = shardOf(String(d.id ?? d.guild_id));
      shards.add(shard);
      ns.push([shard, Number(String(d.name ?? '').slice(1))]);
    }
    for (const s of shards) {
      const other = this.inFlight.get(s);
      if (other !== undefined) this.violations.push(`shard ${s} sent to ${origin} while in flight at ${other}`);
      this.inFlight.set(s, origin);
    }
    this.requests.set(origin, (this.requests.get(origin) ?? 0) + 1);
    try {
      if (this.failNext === origin) {
        this.failNext = undefined;
        throw new TypeError('fetch failed', { cause: new Error('ECONNRESET (injected by the test)') });
      }
      if (this.hold === origin) {
        this.held++;
        await this.released;
      }
      const res = await fetch(input, init);
      if (res.ok) for (const [s, n] of ns) if (!Number.isNaN(n)) this.committed.set(s, [...(this.committed.get(s) ?? []), n]);
      return res;
    } finally {
      for (const s of shards) this.inFlight.delete(s);
    }
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A (shards 0-1, slow to retry: when its session is cut, C takes its shards), B (2-3), C (standing by for 0-1). */
async function cluster() {
  const pg = await createPostgres();
  const apps: FastifyInstance[] = [];
  const start = async (shards: number[], pollMs = 50) => {
    const app = await makeApp(pg.db, { shardLeases: { url: pg.test.url, totalShards: TOTAL, shards, pollMs } });
    apps.push(app);
    return { app, url: await app.listen({ host: '127.0.0.1', port: 0 }) };
  };
  const a = await start([0, 1], 1_000);
  const b = await start([2, 3]);
  const c = await start([0, 1]);
  return {
    pg,
    a,
    b,
    c,
    urls: [a.url, b.url, c.url],
    name: async (guild: string) => (await pg.db.query<{ name: string }>('SELECT name FROM guilds WHERE id = $1', [guild]))[0]?.name,
    /** Cuts A's lease session: C takes shards 0-1. */
    async cutA() {
      const [row] = await pg.db.query<{ pid: number }>('SELECT session_pid AS pid FROM shard_writers WHERE instance_id = $1', [a.app.cache.leases!.instanceId]);
      await pg.db.query('SELECT pg_terminate_backend($1)', [row!.pid]);
      await until('C holds shards 0-1', () => c.app.cache.leases!.holds(0) && c.app.cache.leases!.holds(1));
    },
    async close() {
      for (const app of apps) await app.close().catch(() => {});
      await pg.close();
    },
  };
}

type Cluster = Awaited<ReturnType<typeof cluster>>;

describe('routing over several instances', () => {
  const clusters: Cluster[] = [];
  const fresh = async () => {
    const made = await cluster();
    clusters.push(made);
    return made;
  };
  afterAll(async () => {
    for (const c of clusters) await c.close();
  });

  it("forwards and bare payloads go to their shard's holder; a shard is never in flight twice; each shard's events commit in call order, also while it moves", async () => {
    const k = await fresh();
    const watch = new Watch();
    const client = new CacheClient({ url: k.urls, fetch: watch.fetch, retryDelayMs: 20, maxRetryDelayMs: 200, dispatch: { batchSize: 20 } });
    const guilds = [0, 1, 2, 3].map((s) => guildOn(s, TOTAL));
    // GUILD_UPDATE names n0, n1, … per guild: bare payloads (no s, applied however often they come), so only
    // the order decides the final name.
    const update = (g: string, n: number, bare: boolean): DispatchPacket => {
      const payload = { op: 0, t: 'GUILD_UPDATE', s: null, d: { id: g, name: `n${n}` } };
      return (bare ? payload : { payload, shardId: shardOf(g) }) as DispatchPacket;
    };
    const sent: Promise<void>[] = [];
    const last = new Map<string, number>();
    let moved: Promise<void> | undefined;
    for (let n = 0; n < 600; n++) {
      const g = guilds[n % 4]!;
      sent.push(client.dispatch(update(g, n, n % 3 === 0)));
      last.set(g, n);
      if (n === 300) moved = k.cutA(); // C takes shards 0-1 while events keep coming
      if (n % 10 === 9) await new Promise((r) => setTimeout(r, 2));
    }
    await moved;
    await Promise.all(sent);
    await client.close();
    expect(watch.violations).toEqual([]);
    for (const [s, ns] of watch.committed) expect(ns, `shard ${s}`).toEqual([...ns].sort((x, y) => x - y));
    for (const g of guilds) expect(await k.name(g)).toBe(`n${last.get(g)}`);
    expect(watch.requests.get(k.b.url)).toBeGreaterThan(0);
  });

  it('a shard whose holder changes while a request of it is in flight waits for that answer before going to the new holder', async () => {
    const k = await fresh();
    const watch = new Watch();
    const client = new CacheClient({ url: k.urls, fetch: watch.fetch, retryDelayMs: 20, maxRetryDelayMs: 100, dispatch: { batchSize: 5 } });
    const g0 = guildOn(0, TOTAL, 3);
    const g2 = guildOn(2, TOTAL, 3);
    const update = (g: string, n: number) => client.dispatch({ op: 0, t: 'GUILD_UPDATE', s: null, d: { id: g, name: `n${n}` } } as DispatchPacket);
    await Promise.all([update(g0, 0), update(g2, 0)]); // the map is known; shard 0 is at A

    // A request of shard 0 is in flight at A (held before it reaches A), and more of shard 0 wait behind it.
    watch.holdRequestsTo(k.a.url);
    const sent = [1, 2, 3].map((n) => update(g0, n));
    await until('a request to A in flight', () => watch.held > 0);
    sent.push(...[4, 5, 6].map((n) => update(g0, n)));
    // Meanwhile A loses shards 0-1 to C, and a failed request to B makes the client learn the map again.
    await k.cutA();
    watch.failNext = k.b.url;
    sent.push(update(g2, 1));
    await until('the request to B failed and was sent again', () => (watch.requests.get(k.b.url) ?? 0) >= 3);
    await new Promise((r) => setTimeout(r, 100)); // the new map says C: shard 0's waiting events must still wait
    watch.release();
    await Promise.all(sent);
    await client.close();
    expect(watch.violations).toEqual([]);
    expect(watch.committed.get(0)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(await k.name(g0)).toBe('n6');
  });

  it('a PUT or DELETE answered 421 goes to the holder; reads go to any instance', async () => {
    const k = clusters[0]!;
    const client = new CacheClient({ url: k.urls, retryDelayMs: 20 });
    const g = guildOn(2, TOTAL, 5);
    for (let i = 0; i < 3; i++) await client.guilds.put(g, { id: g, name: `put ${i}` }); // starts at a, b and c in turn
    expect(await k.name(g)).toBe('put 2');
    const seen = await Promise.all([0, 1, 2].map(() => client.guilds.get(g)));
    expect(seen.map((x) => x?.name)).toEqual(['put 2', 'put 2', 'put 2']);
    await client.guilds.delete(g);
    expect(await client.guilds.get(g)).toBeUndefined();
    await client.close();
  });

  it('a bare payload dispatched before the map is known waits for the shard count, then goes to its holder in call order', async () => {
    const k = clusters[0]!;
    const client = new CacheClient({ url: [k.c.url, k.b.url], retryDelayMs: 20 });
    const g = guildOn(3, TOTAL, 6);
    await Promise.all([
      client.dispatch({ op: 0, t: 'GUILD_CREATE', s: null, d: { id: g, name: 'first', roles: [], channels: [], threads: [], members: [] } } as DispatchPacket),
      client.dispatch({ op: 0, t: 'GUILD_UPDATE', s: null, d: { id: g, name: 'second' } } as DispatchPacket),
    ]);
    expect(await k.name(g)).toBe('second');
    await client.close();
  });

  it('bare payloads dispatched while no instance answers wait for the shard count, then go to their holder', async () => {
    const pg = await createPostgres();
    const ports = [await freePort(), await freePort()];
    const client = new CacheClient({ url: ports.map((p) => `http://127.0.0.1:${p}`), retryDelayMs: 20, maxRetryDelayMs: 200 });
    const g = guildOn(3, TOTAL, 8);
    const sent = Promise.all([
      client.dispatch({ op: 0, t: 'GUILD_CREATE', s: null, d: { id: g, name: 'first', roles: [], channels: [], threads: [], members: [] } } as DispatchPacket),
      client.dispatch({ op: 0, t: 'GUILD_UPDATE', s: null, d: { id: g, name: 'second' } } as DispatchPacket),
    ]);
    await new Promise((r) => setTimeout(r, 300)); // looked up, nobody answered: the shard count is unknown
    const apps: FastifyInstance[] = [];
    try {
      for (const [i, shards] of [[0, 1], [2, 3]].entries()) {
        const app = await makeApp(pg.db, { shardLeases: { url: pg.test.url, totalShards: TOTAL, shards, pollMs: 50 } });
        apps.push(app);
        await app.listen({ host: '127.0.0.1', port: ports[i]! });
      }
      await sent;
      expect((await pg.db.query<{ name: string }>('SELECT name FROM guilds WHERE id = $1', [g]))[0]?.name).toBe('second');
      await client.close();
    } finally {
      for (const app of apps) await app.close();
      await pg.close();
    }
  });

  it('one URL: the same client as ever (no routing); a 421 is an error to see', async () => {
    const k = clusters[0]!;
    const client = new CacheClient({ url: k.b.url });
    const g0 = guildOn(0, TOTAL, 7);
    await expect(client.dispatch({ payload: { op: 0, t: 'GUILD_UPDATE', s: null, d: { id: g0, name: 'x' } }, shardId: 0 } as DispatchPacket)).rejects.toMatchObject({
      statusCode: 421,
      code: 'SHARD_NOT_HELD',
    });
    await expect(client.dispatch({ op: 0, t: 'USER_UPDATE', s: null, d: user('9100') } as DispatchPacket)).rejects.toThrow(/holds no lease on shard 0 \(held by /);
    await client.close();
  });
});
