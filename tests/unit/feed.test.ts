/**
 * The change feed's pure parts: the primary keys it names rows by, the commit's change list (`ChangeLog`,
 * collapsing large tables), the NOTIFY encoding (split under PostgreSQL's 8,000-byte limit, put back
 * together, gaps noticed) and the instance's window (resume, reset, out-of-order ids).
 */
import { describe, expect, test } from 'vitest';
import { ChangeLog } from '../../src/cache/changelog.js';
import { cascadeStatement, retainStatement } from '../../src/cache/cascade.js';
import { Feed, type FeedEvent, type FeedSink } from '../../src/cache/feed.js';
import { KEY_COLUMNS, type FeedChange } from '../../src/cache/feed-protocol.js';
import { Reassembly, decodeChange, encodeChange, encodeParts } from '../../src/cache/feed-publish.js';
import { TABLE_NAMES } from '../../src/db/tables.js';
import { specs } from '../../src/discord/columns.js';

const ALL = new Set(TABLE_NAMES);

describe('keys', () => {
  test('KEY_COLUMNS are the primary keys of the schema', () => {
    for (const t of TABLE_NAMES) expect(KEY_COLUMNS[t], t).toEqual(specs[t].primaryKey);
  });
});

describe('ChangeLog', () => {
  test('one change per row, the last write winning; an update is an upsert; the guild of a channel rides along', () => {
    const log = new ChangeLog();
    log.row('members', { guild_id: '1', user_id: '2', nick: 'a' }, 'upsert');
    log.row('members', { guild_id: '1', user_id: '2' }, 'delete');
    log.row('channels', { id: '5', guild_id: '1', name: 'x' }, 'upsert');
    log.row('users', { id: '2' }, 'upsert');
    expect(log.changes()).toEqual([
      { table: 'members', op: 'delete', key: { guild_id: '1', user_id: '2' } },
      { table: 'channels', op: 'upsert', key: { id: '5' }, guild_id: '1' },
      { table: 'users', op: 'upsert', key: { id: '2' } },
    ]);
  });

  test('a guild cascade: the guild and its unavailable mark by key, owned tables by guild, deleted channels by key with their rows by channel', () => {
    const log = new ChangeLog();
    const statement = cascadeStatement('guilds', ALL);
    log.setOperation(statement, [['1']], [
      { t: 'channels', id: '5' },
      { t: 'threads', id: '6' },
    ]);
    const changes = log.changes();
    expect(changes).toEqual(
      expect.arrayContaining([
        { table: 'guilds', op: 'delete', key: { id: '1' } },
        { table: 'unavailable_guilds', op: 'delete', key: { id: '1' } },
        { table: 'channels', op: 'delete', key: { id: '5' } },
        { table: 'threads', op: 'delete', key: { id: '6' } },
        { table: 'members', scope: { guild_id: '1' } },
        { table: 'presences', scope: { guild_id: '1' } },
        { table: 'messages', scope: { guild_id: '1' } },
        { table: 'messages', scope: { channel_id: '5' } },
        { table: 'messages', scope: { channel_id: '6' } },
        { table: 'voice_states', scope: { channel_id: '6' } },
      ]),
    );
  });

  test("a channel cascade and a retain of voice states: what they deleted, by key", () => {
    const log = new ChangeLog();
    log.setOperation(cascadeStatement('channels', ALL), [['5']], [{ t: 'threads', id: '6' }]);
    log.setOperation(retainStatement('voice_states', ALL), [['1'], ['7'], ['1']], [{ t: 'voice_states', id: '8', g: '1' }]);
    expect(log.changes()).toEqual(
      expect.arrayContaining([
        { table: 'channels', op: 'delete', key: { id: '5' } },
        { table: 'threads', op: 'delete', key: { id: '6' } },
        { table: 'voice_states', op: 'delete', key: { guild_id: '1', user_id: '8' } },
        { table: 'messages', scope: { channel_id: '5' } },
        { table: 'messages', scope: { channel_id: '6' } },
      ]),
    );
  });

  test('a large table becomes scopes: per guild when every row names it, else the whole table', () => {
    const log = new ChangeLog(3);
    for (let u = 0; u < 4; u++) {
      log.row('members', { guild_id: String(1 + (u % 2)), user_id: String(10 + u) }, 'upsert');
      log.row('users', { id: String(10 + u) }, 'upsert');
    }
    log.row('channels', { id: '5', guild_id: '1' }, 'upsert');
    expect(log.changes()).toEqual([
      { table: 'channels', op: 'upsert', key: { id: '5' }, guild_id: '1' },
      { table: 'members', scope: { guild_id: '1' } },
      { table: 'members', scope: { guild_id: '2' } },
      { table: 'users', scope: {} },
    ]);
  });
});

describe('NOTIFY encoding', () => {
  const changes: FeedChange[] = [
    { table: 'members', op: 'upsert', key: { guild_id: '1', user_id: '2' } },
    { table: 'channels', op: 'delete', key: { id: '5' }, guild_id: '1' },
    { table: 'messages', scope: { channel_id: '5' } },
    { table: 'members', scope: { guild_id: '1' } },
    { table: 'users', scope: {} },
  ];

  test('every kind of change survives the round trip', () => {
    for (const c of changes) expect(decodeChange(encodeChange(c))).toEqual(c);
  });

  test('a large commit is split into parts under the limit, and put back together', () => {
    const many: FeedChange[] = Array.from({ length: 2_000 }, (_, i) => ({
      table: 'members',
      op: 'upsert',
      key: { guild_id: '81384788765712384', user_id: String(80351110224678912n + BigInt(i)) },
    }));
    const parts = encodeParts(many);
    expect(parts.length).toBeGreaterThan(5);
    for (const p of parts) expect(Buffer.byteLength(p) + 40).toBeLessThan(8_000);
    const assembly = new Reassembly();
    const results = parts.map((p, i) => assembly.accept(`42 ${i + 1} ${parts.length}\n${p}`));
    expect(results.slice(0, -1).every((r) => r === undefined)).toBe(true);
    expect(results.at(-1)).toEqual({ id: 42, changes: many });
  });

  test('a missing part is a gap at an id covering what was lost; the next commit is still read', () => {
    const [a, b] = encodeParts(changes, 60);
    expect(b).toBeDefined();
    const assembly = new Reassembly();
    expect(assembly.accept(`7 1 3\n${a}`)).toBeUndefined();
    expect(assembly.accept(`7 3 3\n${b}`)).toEqual({ gap: 7 }); // part 2 lost
    expect(assembly.accept(`8 1 1\n${a}`)).toEqual({ id: 8, changes: a!.split('\n').map(decodeChange) });
    expect(assembly.accept(`9 1 2\n${a}`)).toBeUndefined();
    expect(assembly.accept(`10 1 1\n${b}`)).toEqual({ gap: 10 }); // commit 9 never finished
  });
});

class Sink implements FeedSink {
  got: string[] = [];
  change(e: FeedEvent) {
    this.got.push(`change ${e.id}`);
  }
  reset(position: number) {
    this.got.push(`reset ${position}`);
  }
  close() {
    this.got.push('close');
  }
}

describe('Feed (one instance)', () => {
  const c: FeedChange[] = [{ table: 'users', op: 'upsert', key: { id: '1' } }];

  test('resume inside the window replays what was missed; outside, or without an id, reset', () => {
    const feed = new Feed({ windowEvents: 3 });
    feed.start(10);
    for (const id of [11, 12, 14, 15]) feed.publish(id, c);
    const ids = (s: { replay: FeedEvent[] } | { reset: number }) => ('replay' in s ? s.replay.map((e) => e.id) : `reset ${s.reset}`);
    expect(ids(feed.subscribe(new Sink(), 12))).toEqual([14, 15]);
    expect(ids(feed.subscribe(new Sink(), 11))).toEqual([12, 14, 15]); // 11 left the window: it is its floor
    expect(ids(feed.subscribe(new Sink(), 10))).toEqual('reset 15'); // whatever came after 10 may be lost
    expect(ids(feed.subscribe(new Sink(), 16))).toEqual('reset 15'); // from the future (another database?)
    expect(ids(feed.subscribe(new Sink(), undefined))).toEqual('reset 15');
  });

  test('live commits reach subscribers; an id out of order resets everyone; stop closes every stream', () => {
    const feed = new Feed();
    feed.start(0);
    const sink = new Sink();
    feed.subscribe(sink, undefined);
    feed.publish(1, c);
    feed.publish(3, c);
    feed.publish(2, c); // two writers: 2 committed after 3
    feed.publish(4, c);
    feed.stop();
    expect(sink.got).toEqual(['change 1', 'change 3', 'reset 3', 'change 4', 'close']);
    expect(feed.live).toBe(false);
  });
});
