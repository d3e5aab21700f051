/** The writer itself: queueing, group commit, back-pressure, large-batch pipelining. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsert } from '../../src/cache/changes.js';
import { Writer } from '../../src/cache/writer.js';
import type { Database } from '../../src/db/connect.js';
import { RejectedDataError, UnavailableError } from '../../src/cache/errors.js';
import { createPglite, createPostgres } from '../helpers/db.js';

const user = (id: number) => upsert('users', { id: String(id), username: `u${id}` });

describe('writer', () => {
  let db: Database;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ db, close } = await createPostgres());
  });
  afterAll(async () => {
    await close();
  });

  it('a request submitted right after the previous one resolved is applied (no lost wake-up)', { timeout: 15_000 }, async () => {
    const writer = new Writer(db, { queueLimit: 100, messageLimit: 0 });
    // Awaited back to back: the next submit lands while the previous drain is finishing.
    for (let i = 0; i < 50; i++) await writer.submit([user(i)]);
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users'))[0]!.n).toBe(50);
    await writer.close();
  });

  it('retention: a channel far over the limit is pruned in bounded steps until it holds the newest messages', { timeout: 30_000 }, async () => {
    const writer = new Writer(db, { queueLimit: 10_000, messageLimit: 3 });
    const channel = '9000';
    // 2,500 messages at once: a pruning deletes at most 1,000 per channel, so it takes three.
    await writer.submit(Array.from({ length: 2_500 }, (_, i) => upsert('messages', { id: String(10_000 + i), channel_id: channel })));
    await writer.close(); // waits for the housekeeping too
    const kept = await db.query<{ id: string }>('SELECT id::text AS id FROM messages WHERE channel_id = $1 ORDER BY id', [channel]);
    expect(kept.map((r) => r.id)).toEqual(['12497', '12498', '12499']);
  });

  it('a group that fails is retried request by request with each request as it was sent (merging copies rows)', async () => {
    const writer = new Writer(db, { queueLimit: 100, messageLimit: 0 });
    const first = writer.submit([user(4000)]);
    // Queued while the first one runs: one transaction for both, where B's row merges into A's.
    const a = writer.submit([upsert('users', { id: '4001', username: 'a' })]);
    const b = writer.submit([upsert('users', { id: '4001', username: 'b', accent_color: 'not a number' })]);
    await first;
    await a;
    await expect(b).rejects.toBeInstanceOf(RejectedDataError);
    const [row] = await db.query<{ username: string; accent_color: number | null }>('SELECT username, accent_color FROM users WHERE id = 4001');
    expect(row).toEqual({ username: 'a', accent_color: null });
    await writer.close();
  });

  it('one bad request in a group: the rest commit in a few groups (bisected), not one transaction each', async () => {
    let commits = 0;
    const writer = new Writer(db, { queueLimit: 1000, messageLimit: 0 }, { onCommit: () => commits++ });
    const first = writer.submit([user(5000)]);
    // 64 requests queued while the first runs: one group, whose request 40 the database refuses.
    const queued = Array.from({ length: 64 }, (_, i) =>
      writer.submit([i === 40 ? upsert('users', { id: String(5001 + i), accent_color: 'not a number' }) : user(5001 + i)]),
    );
    await first;
    const results = await Promise.allSettled(queued);
    expect(results.map((r) => r.status).filter((s) => s === 'rejected')).toHaveLength(1);
    expect(results[40]).toMatchObject({ status: 'rejected', reason: expect.any(RejectedDataError) });
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE id BETWEEN 5001 AND 5064'))[0]!.n).toBe(63);
    // Request by request would be 1 + 63 commits; halving the failed groups takes 1 + 6.
    expect(commits).toBeLessThanOrEqual(8);
    await writer.close();
  });

  it('merges requests queued during a transaction into one, and answers 503 past the queue limit', async () => {
    let commits = 0;
    const writer = new Writer(db, { queueLimit: 10, messageLimit: 0 }, { onCommit: () => commits++ });
    const first = writer.submit([user(1000)]);
    const queued = Array.from({ length: 10 }, (_, i) => writer.submit([user(1001 + i)]));
    await expect(writer.submit([user(2000)])).rejects.toBeInstanceOf(UnavailableError);
    await Promise.all([first, ...queued]);
    expect(commits).toBe(2);
    await writer.close();
    await expect(writer.submit([user(3000)])).rejects.toBeInstanceOf(UnavailableError);
  });
});

describe.each([
  ['PostgreSQL', async () => createPostgres()],
  ['PGlite', async () => {
    const db = await createPglite();
    return { db, close: () => db.close() };
  }],
] as const)('large batches, pipelined (%s)', (_name, open) => {
  let db: Database;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ db, close } = await open());
  });
  afterAll(async () => {
    await close();
  });
  const count = async (from: number, to: number) =>
    (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE id BETWEEN $1 AND $2', [from, to]))[0]!.n;

  it('splits rows across statements sent back to back, all in one transaction', async () => {
    const statements: number[] = [];
    const writer = new Writer(db, { queueLimit: 1000, messageLimit: 0, pipelineRows: 1, chunkRows: 3 }, { onCommit: (c) => statements.push(c.statements) });
    await writer.submit(Array.from({ length: 10 }, (_, i) => user(100 + i)));
    expect(await count(100, 109)).toBe(10);
    expect(statements).toEqual([4]);
    await writer.close();
  });

  it('a statement the database refuses late in the pipeline leaves nothing of the request, and the writer goes on', async () => {
    const writer = new Writer(db, { queueLimit: 1000, messageLimit: 0, pipelineRows: 1, chunkRows: 3 });
    // Bypasses validation on purpose: the last row's integer column is not an integer.
    const bad = upsert('users', { id: '299', username: 'bad', accent_color: 'not a number' });
    const changes = [...Array.from({ length: 10 }, (_, i) => user(200 + i)), bad];
    await expect(writer.submit(changes)).rejects.toBeInstanceOf(RejectedDataError);
    expect(await count(200, 299)).toBe(0);
    await writer.submit([user(300)]);
    expect(await count(300, 300)).toBe(1);
    await writer.close();
  });
});
