import { describe, expect, it } from 'vitest';
import {
  GUILD_MEMBER_ADD,
  GUILD_MEMBER_REMOVE,
  GUILD_MEMBER_UPDATE,
  GUILD_MEMBERS_CHUNK,
  memberRow,
} from '../../../src/cache/events/members.js';
import { captureD, changeAt, ctx, kinds, onlyUpsert, thrown, upsertRows } from '../_helpers.js';

/** A GUILD_MEMBER_ADD modelled on the recorded GUILD_MEMBER_UPDATE (same member, as it joined). */
const memberAdd = () => {
  const d = captureD('guild_member_update');
  return { ...d, deaf: false, mute: false };
};

describe('GUILD_MEMBER_ADD', () => {
  const changes = GUILD_MEMBER_ADD(memberAdd(), ctx());

  it('counts the member BEFORE upserting the user and the member', () => {
    expect(kinds(changes)).toEqual(['countMember', 'upsert:users', 'upsert:members']);
    expect(changes[0]).toEqual({
      kind: 'countMember',
      guildId: '900000000000000008',
      userId: '900000000000000007',
      delta: 1,
    });
  });

  it('upserts the user with the user columns it carries', () => {
    expect(changeAt(changes, 1, 'upsert').row).toEqual({
      id: '900000000000000007',
      username: 'username_4',
      global_name: 'global_name_2',
      discriminator: '0',
      avatar: '00000000000000000000000000000012',
      public_flags: 0,
      avatar_decoration_data: null,
      collectibles: null,
      primary_guild: null,
    });
  });

  it('upserts the member keyed by guild_id and user.id, with roles as an array literal', () => {
    expect(changeAt(changes, 2, 'upsert').row).toEqual({
      guild_id: '900000000000000008',
      user_id: '900000000000000007',
      nick: 'nick_1',
      avatar: null,
      banner: null,
      roles: '{}',
      joined_at: '2026-02-27T23:53:35.495000+00:00',
      premium_since: null,
      deaf: false,
      mute: false,
      pending: false,
      flags: 0,
      communication_disabled_until: null,
    });
  });

  it('validates before producing anything', () => {
    expect(thrown(() => GUILD_MEMBER_ADD({ ...memberAdd(), guild_id: undefined }, ctx())).message).toBe(
      'body[0].d.guild_id is required (a snowflake string)',
    );
    expect(thrown(() => GUILD_MEMBER_ADD({ ...memberAdd(), user: undefined }, ctx())).message).toBe(
      'body[0].d.user is required (an object)',
    );
    expect(thrown(() => GUILD_MEMBER_ADD({ guild_id: '1', user: { id: 7 } }, ctx())).message).toBe(
      'body[0].d.user.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
    expect(thrown(() => GUILD_MEMBER_ADD({ guild_id: '1', user: { id: '7' }, roles: [7] }, ctx())).message).toBe(
      'body[0].d.roles[0] must be a snowflake string',
    );
  });
});

describe('GUILD_MEMBER_UPDATE (recorded)', () => {
  const changes = GUILD_MEMBER_UPDATE(captureD('guild_member_update'), ctx());

  it('upserts the user then the member, without counting', () => {
    expect(kinds(changes)).toEqual(['upsert:users', 'upsert:members']);
  });

  it('writes only the member keys present (no deaf/mute: the update does not carry them)', () => {
    const row = onlyUpsert(changes, 'members');
    expect(row).toMatchObject({ guild_id: '900000000000000008', user_id: '900000000000000007', nick: 'nick_1' });
    expect('deaf' in row).toBe(false);
    expect('mute' in row).toBe(false);
    expect('unusual_dm_activity_until' in row).toBe(false);
    expect('collectibles' in row).toBe(false);
  });
});

describe('GUILD_MEMBER_REMOVE', () => {
  it('uncounts, deletes the member and deletes the presence, in that order', () => {
    expect(GUILD_MEMBER_REMOVE({ guild_id: '100', user: { id: '200', username: 'u' } }, ctx())).toEqual([
      { kind: 'countMember', guildId: '100', userId: '200', delta: -1 },
      { kind: 'delete', table: 'members', key: { guild_id: '100', user_id: '200' } },
      { kind: 'delete', table: 'presences', key: { guild_id: '100', user_id: '200' } },
    ]);
  });

  it('never touches the user row', () => {
    const changes = GUILD_MEMBER_REMOVE({ guild_id: '100', user: { id: '200', username: 'u' } }, ctx());
    expect(changes.some((c) => 'table' in c && c.table === 'users')).toBe(false);
  });

  it('requires the user id', () => {
    expect(thrown(() => GUILD_MEMBER_REMOVE({ guild_id: '100', user: {} }, ctx())).message).toBe(
      'body[0].d.user.id is required (a snowflake string)',
    );
  });
});

describe('GUILD_MEMBERS_CHUNK', () => {
  const chunk = {
    guild_id: '100',
    chunk_index: 0,
    chunk_count: 1,
    members: [
      { user: { id: '200', username: 'a' }, roles: ['300'], nick: null },
      { user: { id: '201', username: 'b' }, roles: [] },
    ],
    presences: [
      { user: { id: '200' }, status: 'idle', activities: [] },
      { user: { id: '201' }, status: 'offline', activities: [] },
    ],
  };

  it('upserts each member with its user, then the presences with the chunk guild id', () => {
    const changes = GUILD_MEMBERS_CHUNK(chunk, ctx());
    expect(kinds(changes)).toEqual([
      'upsert:users',
      'upsert:members',
      'upsert:users',
      'upsert:members',
      'upsert:presences',
      'upsert:presences',
    ]);
    expect(upsertRows(changes, 'members')).toEqual([
      { guild_id: '100', user_id: '200', roles: '{300}', nick: null },
      { guild_id: '100', user_id: '201', roles: '{}' },
    ]);
    expect(upsertRows(changes, 'presences')).toEqual([
      { guild_id: '100', user_id: '200', status: 'idle', activities: '[]' },
      { guild_id: '100', user_id: '201', status: 'offline', activities: '[]' },
    ]);
  });

  it('deletes offline presences when configured to', () => {
    const changes = GUILD_MEMBERS_CHUNK(chunk, ctx({ deleteOfflinePresences: true }));
    expect(changes.at(-1)).toEqual({ kind: 'delete', table: 'presences', key: { guild_id: '100', user_id: '201' } });
  });

  it('accepts a chunk without presences, requires members, and names a bad member', () => {
    expect(kinds(GUILD_MEMBERS_CHUNK({ guild_id: '100', members: [] }, ctx()))).toEqual([]);
    expect(thrown(() => GUILD_MEMBERS_CHUNK({ guild_id: '100' }, ctx())).message).toBe(
      'body[0].d.members is required (an array)',
    );
    expect(
      thrown(() => GUILD_MEMBERS_CHUNK({ guild_id: '100', members: [chunk.members[0], { user: { id: '1.5' } }] }, ctx()))
        .message,
    ).toBe('body[0].d.members[1].user.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)');
  });
});

describe('memberRow', () => {
  it('keys the row by the given ids, ignoring guild_id/user_id in the member object', () => {
    expect(memberRow({ guild_id: '999', user_id: '998', nick: 'n' }, '100', '200', 'p')).toEqual({
      nick: 'n',
      guild_id: '100',
      user_id: '200',
    });
  });
});
