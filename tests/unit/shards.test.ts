/** The shard of an event or a row (cache/shards.ts), and the key order of the shared rows' upserts (plan.ts). */
import { describe, expect, it } from 'vitest';
import { RowBuffers } from '../../src/cache/buffer.js';
import { plan } from '../../src/cache/plan.js';
import { eventShard, parseShardList, shardOfGuild, shardOfRow } from '../../src/cache/shards.js';
import { PayloadError } from '../../src/discord/errors.js';

const G = '81384788765712384'; // (G >> 22) % 16 = 2, % 4 = 2
const forward = (t: string, d: object, shardId?: number) => ({ payload: { op: 0, t, s: 1, d }, ...(shardId === undefined ? {} : { shardId }) });
const bare = (t: string, d: object) => ({ op: 0, t, s: 1, d });
const fails = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof PayloadError) return err.message;
    throw err;
  }
  throw new Error('did not throw');
};

describe('shards', () => {
  it("shardOfGuild is Discord's (guild_id >> 22) % total_shards; rows without a guild are on shard 0", () => {
    expect(shardOfGuild(G, 16)).toBe(Number((BigInt(G) >> 22n) % 16n));
    expect(shardOfGuild(G, 16)).toBe(2);
    expect(shardOfGuild(G, 1)).toBe(0);
    expect(shardOfRow(G, 4)).toBe(2);
    expect(shardOfRow(undefined, 4)).toBe(0);
  });

  it('eventShard: the forward names it and must agree with the guild; a bare payload goes by its guild, else shard 0', () => {
    expect(eventShard(forward('GUILD_MEMBER_ADD', { guild_id: G }, 2), 16, 'body')).toBe(2);
    expect(eventShard(forward('GUILD_CREATE', { id: G }, 2), 16, 'body')).toBe(2);
    expect(eventShard(forward('USER_UPDATE', { id: '1' }, 9), 16, 'body')).toBe(9); // no guild: the forward says
    expect(eventShard(bare('MESSAGE_CREATE', { guild_id: G }), 16, 'body')).toBe(2);
    expect(eventShard(bare('GUILD_DELETE', { id: G }), 16, 'body')).toBe(2);
    expect(eventShard(bare('MESSAGE_CREATE', { channel_id: '5' }), 16, 'body')).toBe(0); // a direct message
    expect(eventShard(forward('MESSAGE_CREATE', { guild_id: G }), 16, 'body')).toBe(2); // a forward without shardId
    expect(fails(() => eventShard(forward('GUILD_MEMBER_ADD', { guild_id: G }, 3), 16, 'body[4]'))).toBe(
      `body[4].shardId is 3, but guild ${G} is on shard 2 of 16`,
    );
    expect(fails(() => eventShard(forward('USER_UPDATE', {}, 16), 16, 'body'))).toBe('body.shardId is 16: must be below TOTAL_SHARDS (16)');
    expect(fails(() => eventShard(bare('MESSAGE_CREATE', { guild_id: 'x' }), 16, 'body'))).toMatch(/^body\.d\.guild_id must be a snowflake/);
  });

  it("eventShard: READY's d.shard is its shard, and its count must be TOTAL_SHARDS", () => {
    expect(eventShard(forward('READY', { shard: [5, 16] }, 5), 16, 'body')).toBe(5);
    expect(eventShard(bare('READY', { shard: [5, 16] }), 16, 'body')).toBe(5);
    expect(eventShard(bare('READY', {}), 1, 'body')).toBe(0);
    expect(fails(() => eventShard(bare('READY', {}), 16, 'body'))).toBe('body.d.shard is [0, 1]: the shard count must be TOTAL_SHARDS (16)');
    expect(fails(() => eventShard(forward('READY', { shard: [5, 16] }, 4), 16, 'body'))).toBe('body.shardId is 4, but its d.shard is [5, 16]');
  });

  it('parseShardList: shards and ranges, sorted, without repeats; problems named', () => {
    expect(parseShardList('0-3,12, 2', 16)).toEqual([0, 1, 2, 3, 12]);
    expect(parseShardList('7', 8)).toEqual([7]);
    expect(parseShardList('8', 8)).toBe('shard 8 is not below TOTAL_SHARDS (8)');
    expect(parseShardList('1-', 8)).toBe('"1-" is not a shard or a range such as 0-7');
    expect(parseShardList('', 8)).toBe('"" is not a shard or a range such as 0-7');
  });

  it('plan: with orderShared, the users (shared by the instances of different shards) are upserted in key order; others as they came', () => {
    const buffers = new RowBuffers(['users', 'members']);
    for (const id of ['300', '1000', '20', '5', '99999999999999999']) {
      buffers.upsert('users', { id, username: `u${id}` });
      buffers.upsert('members', { guild_id: '1', user_id: id });
    }
    const order = (ordered: boolean) => {
      const copy = new RowBuffers(['users', 'members']);
      for (const t of ['users', 'members'] as const) for (const row of buffers.of(t).upserts.values()) copy.upsert(t, { ...row });
      const parts = plan(copy, ['users', 'members'], 100, ordered).phases.flat();
      return parts.map((p) => [p.key.split('|')[1], p.params()[0]]);
    };
    expect(order(true)).toEqual([
      ['users', '{5,20,300,1000,99999999999999999}'],
      ['members', '{1,1,1,1,1}'],
    ]);
    expect(order(false)[0]).toEqual(['users', '{300,1000,20,5,99999999999999999}']);
  });
});
