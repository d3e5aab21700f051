import { describe, expect, it } from 'vitest';
import { READY } from '../../../src/cache/events/ready.js';
import { USER_UPDATE } from '../../../src/cache/events/users.js';
import { PayloadError } from '../../../src/discord/errors.js';
import { captureD, changeAt, ctx, kinds, thrown } from '../_helpers.js';

describe('READY (recorded)', () => {
  const d = captureD('ready');
  const changes = READY(d, ctx());

  it('upserts the bot user, marks it as self, reconciles the shard and marks the guilds unavailable, in order', () => {
    expect(kinds(changes)).toEqual([
      'upsert:users',
      'self',
      'reconcileShard',
      'upsert:unavailable_guilds',
      'upsert:unavailable_guilds',
    ]);
  });

  it('writes the user columns the payload carries (and no unknown keys like clan)', () => {
    expect(changeAt(changes, 0, 'upsert').row).toEqual({
      id: '900000000000000018',
      username: 'username_2',
      discriminator: '7281',
      global_name: null,
      avatar: null,
      bot: true,
      mfa_enabled: true,
      verified: true,
      email: null,
      flags: 0,
      primary_guild: null, // a JSON column's null is SQL NULL, not the JSON text 'null'
    });
  });

  it('records the bot user id', () => {
    expect(changes[1]).toEqual({ kind: 'self', userId: '900000000000000018' });
  });

  it('keeps exactly the guilds READY lists, for the shard READY names', () => {
    expect(changes[2]).toEqual({
      kind: 'reconcileShard',
      shardId: 0,
      numShards: 1,
      keep: ['900000000000000034', '900000000000000008'],
    });
  });

  it('marks each listed guild unavailable until its GUILD_CREATE', () => {
    expect(changes.slice(3)).toEqual([
      { kind: 'upsert', table: 'unavailable_guilds', row: { id: '900000000000000034' } },
      { kind: 'upsert', table: 'unavailable_guilds', row: { id: '900000000000000008' } },
    ]);
  });
});

describe('READY (hand-made)', () => {
  const base = (over: Record<string, unknown> = {}) => ({
    user: { id: '10', username: 'bot', bot: true },
    guilds: [{ id: '20', unavailable: true }],
    ...over,
  });

  it('takes shard id and count from d.shard', () => {
    const c = changeAt(READY(base({ shard: [3, 8] }), ctx()), 2, 'reconcileShard');
    expect(c).toEqual({ kind: 'reconcileShard', shardId: 3, numShards: 8, keep: ['20'] });
  });

  it('defaults to shard [0, 1] when d.shard is absent or null', () => {
    for (const d of [base(), base({ shard: null })]) {
      const c = changeAt(READY(d, ctx()), 2, 'reconcileShard');
      expect([c.shardId, c.numShards]).toEqual([0, 1]);
    }
  });

  it('ignores the forward shardId in favour of d.shard', () => {
    const c = changeAt(READY(base({ shard: [1, 2] }), ctx({ shardId: 0 })), 2, 'reconcileShard');
    expect(c.shardId).toBe(1);
  });

  it.each([
    ['shard id equal to the count', [2, 2]],
    ['negative shard id', [-1, 2]],
    ['zero shards', [0, 0]],
    ['non-integer', [0.5, 2]],
    ['one element', [0]],
    ['three elements', [0, 1, 2]],
    ['strings', ['0', '1']],
    ['a number', 0],
  ])('rejects a bad d.shard (%s)', (_label, shard) => {
    const e = thrown(() => READY(base({ shard }), ctx()));
    expect(e).toBeInstanceOf(PayloadError);
    expect(e.message).toBe('body[0].d.shard must be [shard_id, num_shards] with 0 <= shard_id < num_shards <= 2147483647');
  });

  it('with no guilds, reconciles to an empty keep list and marks nothing unavailable', () => {
    const changes = READY(base({ guilds: [] }), ctx());
    expect(kinds(changes)).toEqual(['upsert:users', 'self', 'reconcileShard']);
    expect(changeAt(changes, 2, 'reconcileShard').keep).toEqual([]);
  });

  it('requires guilds and names the bad guild id path', () => {
    expect(thrown(() => READY(base({ guilds: undefined }), ctx())).message).toBe(
      'body[0].d.guilds is required (an array)',
    );
    expect(thrown(() => READY(base({ guilds: [{ id: '1' }, { id: 2 }] }), ctx())).message).toBe(
      'body[0].d.guilds[1].id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
    expect(thrown(() => READY(base({ guilds: ['1'] }), ctx())).message).toBe('body[0].d.guilds[0] must be an object');
  });

  it('requires a user with a snowflake id', () => {
    expect(thrown(() => READY(base({ user: undefined }), ctx())).message).toBe('body[0].d.user is required (an object)');
    expect(thrown(() => READY(base({ user: { id: 10 } }), ctx())).message).toBe(
      'body[0].d.user.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
  });
});

describe('USER_UPDATE', () => {
  it('upserts the user and records it as self', () => {
    const changes = USER_UPDATE({ id: '10', username: 'renamed', avatar: null, clan: null }, ctx());
    expect(changes).toEqual([
      { kind: 'upsert', table: 'users', row: { id: '10', username: 'renamed', avatar: null } },
      { kind: 'self', userId: '10' },
    ]);
  });

  it('rejects a numeric id', () => {
    expect(thrown(() => USER_UPDATE({ id: 10 }, ctx())).message).toBe(
      'body[0].d.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
  });
});
