/** The writer itself: queueing, group commit, back-pressure, against PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsert } from '../../src/cache/changes.js';
import { Writer } from '../../src/cache/writer.js';
import type { Database } from '../../src/db/connect.js';
import { UnavailableError } from '../../src/cache/errors.js';
import { createPostgres } from '../helpers/db.js';

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
