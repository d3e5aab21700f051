import { describe, expect, it } from 'vitest';
import {
  MESSAGE_REACTION_ADD,
  MESSAGE_REACTION_REMOVE,
  MESSAGE_REACTION_REMOVE_ALL,
  MESSAGE_REACTION_REMOVE_EMOJI,
} from '../../../src/cache/events/reactions.js';
import { captureD, changeAt, ctx, kinds, thrown } from '../_helpers.js';

describe('MESSAGE_REACTION_ADD (recorded)', () => {
  const changes = MESSAGE_REACTION_ADD(captureD('message_reaction_add'), ctx());

  it('upserts the member user, the member, then counts the reaction', () => {
    expect(kinds(changes)).toEqual(['upsert:users', 'upsert:members', 'reaction']);
  });

  it('upserts the user from member.user', () => {
    expect(changeAt(changes, 0, 'upsert').row).toMatchObject({
      id: '900000000000000002',
      username: 'username_1',
      global_name: 'global_name_1',
      bot: false,
    });
  });

  it('keys the member by guild_id and user_id', () => {
    expect(changeAt(changes, 1, 'upsert').row).toEqual({
      guild_id: '900000000000000008',
      user_id: '900000000000000002',
      nick: null,
      avatar: null,
      banner: null,
      roles: '{900000000000000005}',
      joined_at: '2024-02-27T19:50:51.701000+00:00',
      premium_since: null,
      deaf: false,
      mute: false,
      pending: false,
      flags: 0,
      communication_disabled_until: null,
    });
  });

  it('adds a normal (non-burst) reaction by the user to the message', () => {
    expect(changes[2]).toEqual({
      kind: 'reaction',
      messageId: '900000000000000006',
      op: { type: 'add', emoji: { name: 'name_2', id: null }, burst: false, userId: '900000000000000002' },
    });
  });
});

describe('MESSAGE_REACTION_ADD (hand-made)', () => {
  const base = { user_id: '200', message_id: '500', channel_id: '50', emoji: { id: '900', name: 'custom', animated: true } };

  it('in a DM (no guild, no member) is only the reaction', () => {
    expect(MESSAGE_REACTION_ADD(base, ctx())).toEqual([
      { kind: 'reaction', messageId: '500', op: { type: 'add', emoji: base.emoji, burst: false, userId: '200' } },
    ]);
  });

  it('a burst reaction says so', () => {
    const c = changeAt(MESSAGE_REACTION_ADD({ ...base, burst: true, burst_colors: ['#fff'] }, ctx()), 0, 'reaction');
    expect(c.op).toEqual({ type: 'add', emoji: base.emoji, burst: true, userId: '200' });
  });

  it('a member without user upserts the member only', () => {
    expect(kinds(MESSAGE_REACTION_ADD({ ...base, guild_id: '100', member: { roles: [] } }, ctx()))).toEqual([
      'upsert:members',
      'reaction',
    ]);
  });

  it('a member without guild_id is ignored', () => {
    expect(kinds(MESSAGE_REACTION_ADD({ ...base, member: { roles: [] } }, ctx()))).toEqual(['reaction']);
  });

  it('names the offending field', () => {
    expect(thrown(() => MESSAGE_REACTION_ADD({ ...base, emoji: { id: 900, name: 'x' } }, ctx())).message).toBe(
      'body[0].d.emoji.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
    expect(thrown(() => MESSAGE_REACTION_ADD({ ...base, emoji: undefined }, ctx())).message).toBe(
      'body[0].d.emoji is required (an object)',
    );
    expect(thrown(() => MESSAGE_REACTION_ADD({ ...base, user_id: undefined }, ctx())).message).toBe(
      'body[0].d.user_id is required (a snowflake string)',
    );
    expect(thrown(() => MESSAGE_REACTION_ADD({ ...base, guild_id: '100', member: 'x' }, ctx())).message).toBe(
      'body[0].d.member must be an object',
    );
  });
});

describe('MESSAGE_REACTION_REMOVE / REMOVE_ALL / REMOVE_EMOJI', () => {
  it('remove carries emoji, burst and user', () => {
    expect(
      MESSAGE_REACTION_REMOVE({ user_id: '200', message_id: '500', emoji: { id: null, name: '👍' }, burst: true }, ctx()),
    ).toEqual([
      { kind: 'reaction', messageId: '500', op: { type: 'remove', emoji: { id: null, name: '👍' }, burst: true, userId: '200' } },
    ]);
  });

  it('remove without burst is a normal removal', () => {
    const c = changeAt(MESSAGE_REACTION_REMOVE({ user_id: '200', message_id: '500', emoji: { name: '👍' } }, ctx()), 0, 'reaction');
    expect(c.op).toEqual({ type: 'remove', emoji: { name: '👍' }, burst: false, userId: '200' });
  });

  it('remove all', () => {
    expect(MESSAGE_REACTION_REMOVE_ALL({ message_id: '500', channel_id: '50' }, ctx())).toEqual([
      { kind: 'reaction', messageId: '500', op: { type: 'removeAll' } },
    ]);
  });

  it('remove emoji', () => {
    expect(MESSAGE_REACTION_REMOVE_EMOJI({ message_id: '500', emoji: { id: '900', name: 'c' } }, ctx())).toEqual([
      { kind: 'reaction', messageId: '500', op: { type: 'removeEmoji', emoji: { id: '900', name: 'c' } } },
    ]);
  });

  it('name bad fields', () => {
    expect(thrown(() => MESSAGE_REACTION_REMOVE({ message_id: '500', emoji: { name: 'x' } }, ctx())).message).toBe(
      'body[0].d.user_id is required (a snowflake string)',
    );
    expect(thrown(() => MESSAGE_REACTION_REMOVE_ALL({}, ctx())).message).toBe(
      'body[0].d.message_id is required (a snowflake string)',
    );
    expect(thrown(() => MESSAGE_REACTION_REMOVE_EMOJI({ message_id: '500', emoji: [] }, ctx())).message).toBe(
      'body[0].d.emoji must be an object',
    );
  });
});
