/**
 * The local cache's bookkeeping, driven by feed events in a set order (the races the integration tests
 * cannot time): a read from the service that a change overtakes is not kept, nor one that a reset or a
 * disconnection overtakes; concurrent misses share one read; whole-table scopes; the feed position.
 */
import { describe, expect, test } from 'vitest';
import type { FeedChange } from '../../src/cache/feed-protocol.js';
import { LocalCache } from '../../src/client/local-cache.js';

const G = '1';
const U = '2';

/** A read the test answers when it wants. */
function pending<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  let calls = 0;
  return {
    load: () => {
      calls++;
      return promise;
    },
    answer: (value: T) => resolve(value),
    calls: () => calls,
  };
}

function live(position = 10) {
  const cache = new LocalCache(100);
  cache.reset(position);
  cache.ready(position);
  return cache;
}

const member = (nick: string) => ({ nick, user: { id: U } });

describe('LocalCache', () => {
  test('a read overtaken by a change of its row is answered but not kept', async () => {
    const cache = live();
    const read = pending<object>();
    const answer = cache.get('members', [G, U], read.load);
    cache.change({ id: 11, changes: [{ table: 'members', op: 'upsert', key: { guild_id: G, user_id: U } }] });
    read.answer(member('old'));
    expect(await answer).toEqual(member('old'));
    const again = pending<object>();
    const second = cache.get('members', [G, U], again.load);
    again.answer(member('new'));
    expect(await second).toEqual(member('new'));
    expect(again.calls()).toBe(1);
    expect(await cache.get('members', [G, U], () => Promise.reject(new Error('not asked')))).toEqual(member('new'));
  });

  test('a read overtaken by a change of the user a member embeds, or by a scope over its table, is not kept', async () => {
    const changes: FeedChange[] = [
      { table: 'users', op: 'upsert', key: { id: U } },
      { table: 'members', scope: { guild_id: '99' } },
      { table: 'users', scope: {} },
    ];
    for (const change of changes) {
      const cache = live();
      const read = pending<object>();
      const answer = cache.get('members', [G, U], read.load);
      cache.change({ id: 11, changes: [change] });
      read.answer(member('old'));
      await answer;
      expect(cache.stats.entries, JSON.stringify(change)).toBe(0);
    }
  });

  test('a read overtaken by a disconnection or a reset is not kept; nothing is served while down', async () => {
    const cache = live();
    const read = pending<object>();
    const answer = cache.get('users', [U], read.load);
    cache.down();
    read.answer({ id: U });
    await answer;
    cache.ready(10);
    expect(cache.stats.entries).toBe(0);

    await cache.get('users', [U], async () => ({ id: U }));
    expect(cache.stats.entries).toBe(1);
    cache.down();
    expect(cache.serving).toBe(false);
    expect(await cache.get('users', [U], async () => ({ id: U, username: 'fresh' }))).toEqual({ id: U, username: 'fresh' });
    cache.ready(10); // back without a gap: kept entries are good again
    expect(cache.peek('users', [U])).toEqual({ value: { id: U } });
    cache.reset(12);
    expect(cache.peek('users', [U])).toBeUndefined();
  });

  test('concurrent misses of one object share one read', async () => {
    const cache = live();
    const read = pending<object>();
    const answers = [cache.get('users', [U], read.load), cache.get('users', [U], read.load)];
    read.answer({ id: U });
    expect(await Promise.all(answers)).toEqual([{ id: U }, { id: U }]);
    expect(read.calls()).toBe(1);
  });

  test('a write of this process: reads go through until the feed passes its id', async () => {
    const cache = live(10);
    await cache.get('users', [U], async () => ({ id: U }));
    cache.written(12);
    expect(cache.serving).toBe(false);
    cache.change({ id: 11, changes: [] });
    expect(cache.serving).toBe(false);
    cache.heartbeat(12);
    expect(cache.serving).toBe(true);
    cache.written(undefined); // a write that changed nothing
    expect(cache.serving).toBe(true);
  });

  test('a whole-table scope of users drops users, members and presences; channel scopes drop what belongs to the channel', async () => {
    const cache = live();
    await cache.get('users', [U], async () => ({ id: U }));
    await cache.get('members', [G, U], async () => member('m'));
    await cache.get('presences', [G, U], async () => ({ status: 'online', user: { id: U } }));
    await cache.get('guilds', [G], async () => ({ id: G }));
    await cache.get('messages', ['5', '6'], async () => ({ id: '6', channel_id: '5' }));
    await cache.get('threads', ['7'], async () => ({ id: '7', parent_id: '5', guild_id: G }));
    expect(cache.stats.entries).toBe(6);
    cache.change({ id: 11, changes: [{ table: 'users', scope: {} }] });
    expect(cache.stats.entries).toBe(3);
    cache.change({ id: 12, changes: [{ table: 'messages', scope: { channel_id: '5' } }, { table: 'threads', scope: { channel_id: '5' } }] });
    expect(cache.stats.entries).toBe(1);
    expect(cache.peek('guilds', [G])).toEqual({ value: { id: G } });
  });
});
