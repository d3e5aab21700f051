/**
 * READ_DATABASE_URL against a real streaming replica that the test makes itself (`helpers/replica.ts`): the
 * service runs as a process with DATABASE_URL = the primary and READ_DATABASE_URL = the replica. Pausing the
 * replica's WAL replay makes its answers visibly stale, which tells which database a GET read.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/db/connect.js';
import { startService, waitHealthy, type Service } from '../helpers/process.js';
import { serverBinDir, startReplicaPair, type Cluster, type ReplicaPair } from '../helpers/replica.js';

const bin = serverBinDir();
const title = bin
  ? 'reads from a streaming replica'
  : 'reads from a streaming replica — SKIPPED: no PostgreSQL server programs (initdb, pg_ctl, pg_basebackup, ' +
    'postgres) under /usr/lib/postgresql/<version>/bin or on PATH';
if (!bin) console.warn(title);

const GUILD = '81384788765712384';
const USER = '80351110224678912';

/** Runs one statement on `cluster`'s database `cache` with a connection of its own. */
async function sql(cluster: Cluster, text: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client(cluster.url('cache'));
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

/** Retries `check` until it passes (replication is asynchronous: "eventually"). */
async function eventually(check: () => Promise<void>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe.skipIf(!bin)(title, () => {
  let pair: ReplicaPair;
  let service: Service;

  const request = async (method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: { ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as any };
  };
  const get = (path: string, headers?: Record<string, string>) => request('GET', path, headers ? { headers } : {});
  const username = async (path: string, headers?: Record<string, string>) => (await get(path, headers)).body?.username;

  /** A member add (member and user) with the user's name: a write through the dispatch route. */
  const dispatchName = async (name: string, userId = USER) => {
    const d = { guild_id: GUILD, user: { id: userId, username: name, discriminator: '0' }, roles: [], joined_at: '2024-01-01T00:00:00+00:00' };
    const res = await request('POST', '/v1/dispatch', { body: { op: 0, t: 'GUILD_MEMBER_ADD', s: 1, d } });
    expect(res).toEqual({ status: 200, body: { applied: 1, ignored: 0, duplicates: 0 } });
  };

  const metric = async (name: string) => {
    const text = await (await fetch(`${service.url}/metrics`)).text();
    const line = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    if (!line) throw new Error(`${name} not in /metrics`);
    return Number(line[1]);
  };

  /** Stops WAL replay on the replica (what it answers stays as it is now) until `resume`. */
  const pauseReplay = async () => {
    await sql(pair.replica, 'SELECT pg_wal_replay_pause()');
    await eventually(async () => {
      expect((await sql(pair.replica, 'SELECT pg_get_wal_replay_pause_state() AS s'))[0]?.s).toBe('paused');
    });
  };
  const resumeReplay = () => sql(pair.replica, 'SELECT pg_wal_replay_resume()');

  const caughtUp = async () => {
    const ready = await get('/ready');
    expect(ready).toEqual({ status: 200, body: { status: 'ready', replica: { reachable: true, lag_seconds: 0, lag_bytes: 0 } } });
  };

  beforeAll(async () => {
    pair = await startReplicaPair(bin!);
    const admin = new pg.Client(pair.primary.url('postgres'));
    await admin.connect();
    await admin.query('CREATE DATABASE cache');
    await admin.end();
    await (await openPostgres({ url: pair.primary.url('cache'), migrate: true })).close();
    service = await startService({ DATABASE_URL: pair.primary.url('cache'), READ_DATABASE_URL: pair.replica.url('cache') });
    if (!(await waitHealthy(service))) throw new Error(`the service did not start:\n${service.output()}`);
  });
  afterAll(async () => {
    try {
      if (service) expect(await service.stop()).toBe(0);
    } finally {
      await pair?.close();
    }
  });

  it('GETs read the replica (stale while its replay is paused); consistency=primary reads the primary; writes go to the primary', async () => {
    await dispatchName('before');
    // The primary has it at once; the replica soon.
    expect(await username(`/v1/users/${USER}?consistency=primary`)).toBe('before');
    await eventually(async () => expect(await username(`/v1/users/${USER}`)).toBe('before'));
    await eventually(caughtUp);

    await pauseReplay();
    try {
      await dispatchName('after');
      await dispatchName('newcomer', '42');

      // Every GET reads the replica, which has not replayed the writes...
      expect(await username(`/v1/users/${USER}`)).toBe('before');
      expect((await get(`/v1/guilds/${GUILD}/members/${USER}`)).body.user.username).toBe('before');
      expect((await get(`/v1/guilds/${GUILD}/members`)).body.map((m: any) => m.user.id)).toEqual([USER]);
      expect((await get('/v1/users/42')).status).toBe(404);
      expect((await get('/v1/stats')).body.tables.users).toBe(1);
      // ...unless it asks for the primary, by query or by header.
      expect(await username(`/v1/users/${USER}?consistency=primary`)).toBe('after');
      expect(await username(`/v1/users/${USER}`, { 'x-consistency': 'primary' })).toBe('after');
      expect((await get(`/v1/guilds/${GUILD}/members?consistency=primary`)).body.map((m: any) => m.user.id)).toEqual(['42', USER]);
      expect((await get('/v1/users/42?consistency=primary')).status).toBe(200);
      // A PUT answers what it stored: read from the primary.
      const put = await request('PUT', '/v1/users/43', { body: { username: 'put', discriminator: '0' } });
      expect(put).toEqual({ status: 200, body: { id: '43', username: 'put', discriminator: '0', global_name: null, avatar: null } });

      // The lag is reported, and the service stays ready.
      const ready = await get('/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.replica.reachable).toBe(true);
      expect(ready.body.replica.lag_bytes).toBeGreaterThan(0);
      expect(ready.body.replica.lag_seconds).toBeGreaterThan(0);
      expect(await metric('dsc_replica_up')).toBe(1);
      expect(await metric('dsc_replica_lag_bytes')).toBeGreaterThan(0);
      expect(await metric('dsc_replica_lag_seconds')).toBeGreaterThan(0);
    } finally {
      await resumeReplay();
    }

    await eventually(async () => expect(await username(`/v1/users/${USER}`)).toBe('after'));
    expect((await get('/v1/users/42')).status).toBe(200);
    await eventually(caughtUp);
    expect(await metric('dsc_replica_lag_bytes')).toBe(0);
    expect(await metric('dsc_replica_lag_seconds')).toBe(0);
  });

  it('a replica going away mid-read or down: GETs read the primary, /ready stays 200; once back, GETs read it again', async () => {
    // A GET blocked on the replica (by a lock the primary holds and the replica replays) when the replica
    // stops: its connection is cut, and it is answered from the primary instead of a 503.
    const locker = new pg.Client(pair.primary.url('cache'));
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
      // The lock's WAL record leaves for the replica when the WAL is flushed: by another transaction's commit.
      await sql(pair.primary, 'SELECT txid_current()');
      const lockedOnReplica = "SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'users'::regclass AND mode = 'AccessExclusiveLock'";
      await eventually(async () => expect((await sql(pair.replica, lockedOnReplica))[0]?.n).toBe(1));
      const blocked = get(`/v1/users/${USER}`);
      const waiting = "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'discord-state-cache' AND wait_event_type = 'Lock'";
      await eventually(async () => expect((await sql(pair.replica, waiting))[0]?.n).toBe(1));
      await pair.replica.stop('fast');
      await locker.query('ROLLBACK');
      expect(await blocked).toMatchObject({ status: 200, body: { username: 'after' } });
    } finally {
      await locker.end();
    }

    await dispatchName('while down');
    expect(await username(`/v1/users/${USER}`)).toBe('while down');
    expect((await get(`/v1/guilds/${GUILD}/members/${USER}`)).body.user.username).toBe('while down');
    expect(await get('/ready')).toEqual({
      status: 200,
      body: { status: 'ready', replica: { reachable: false, lag_seconds: null, lag_bytes: null } },
    });
    expect(await metric('dsc_replica_up')).toBe(0);
    expect(await metric('dsc_replica_lag_seconds')).toBeNaN();

    await pair.replica.start();
    await eventually(caughtUp);
    // Back in use: a paused replica shows the old name again.
    await pauseReplay();
    try {
      await dispatchName('back');
      expect(await username(`/v1/users/${USER}`)).toBe('while down');
      expect(await username(`/v1/users/${USER}?consistency=primary`)).toBe('back');
    } finally {
      await resumeReplay();
    }
    await eventually(async () => expect(await username(`/v1/users/${USER}`)).toBe('back'));
  });
});
