import { describe, expect, it } from 'vitest';
import { mapDispatch } from '../../../src/cache/events/index.js';
import {
  THREAD_CREATE,
  THREAD_DELETE,
  THREAD_LIST_SYNC,
  THREAD_MEMBERS_UPDATE,
  THREAD_UPDATE,
} from '../../../src/cache/events/threads.js';
import { captureD, changeAt, ctx, kinds, loadCapture, thrown, upsertRows } from '../_helpers.js';

describe('THREAD_CREATE (recorded)', () => {
  const d = captureD('thread_create');
  const changes = THREAD_CREATE(d, ctx());

  it('upserts the thread with its columns, and drops newly_created', () => {
    expect(changes).toEqual([
      {
        kind: 'upsert',
        table: 'threads',
        row: {
          id: '900000000000000088',
          type: 11,
          guild_id: '900000000000000009',
          parent_id: '900000000000000004',
          owner_id: '900000000000000026',
          name: 'name_50',
          last_message_id: null,
          rate_limit_per_user: 0,
          message_count: 0,
          member_count: 1,
          total_message_sent: 0,
          thread_metadata:
            '{"locked":false,"archived":false,"create_timestamp":"2026-02-14T02:17:22.812537+00:00",' +
            '"archive_timestamp":"2026-02-14T02:17:22.812537+00:00","auto_archive_duration":4320}',
          flags: 0,
        },
      },
    ]);
  });

  it('THREAD_UPDATE maps the same way', () => {
    expect(THREAD_UPDATE(captureD('thread_create'), ctx())).toEqual(changes);
  });

  it('through the envelope, the path names the field', () => {
    const payload = loadCapture('thread_create')[0]!;
    (payload.d as Record<string, unknown>).owner_id = 26;
    expect(thrown(() => mapDispatch(payload, 'body[4]', { deleteOfflinePresences: false })).message).toBe(
      'body[4].d.owner_id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
  });

  it('the member of a thread the bot joined is stored as JSON', () => {
    const member = { id: '7', user_id: '10', join_timestamp: '2026-01-01T00:00:00Z', flags: 1 };
    const row = changeAt(THREAD_CREATE({ id: '7', type: 11, member }, ctx()), 0, 'upsert').row;
    expect(JSON.parse(row.member as string)).toEqual(member);
  });
});

describe('THREAD_DELETE', () => {
  it('deletes the thread and never upserts it', () => {
    const changes = THREAD_DELETE({ id: '900000000000000088', guild_id: '1', parent_id: '4', type: 11 }, ctx());
    expect(changes).toEqual([{ kind: 'cascade', table: 'threads', ids: ['900000000000000088'], guildId: '1' }]);
  });

  it('requires the id', () => {
    expect(thrown(() => THREAD_DELETE({ guild_id: '1' }, ctx())).message).toBe('body[0].d.id is required (a snowflake string)');
  });
});

describe('THREAD_LIST_SYNC', () => {
  const threads = [
    { id: '700', type: 11, parent_id: '50', name: 'a' },
    { id: '701', type: 12, parent_id: '51', name: 'b', guild_id: '100' },
  ];

  it('retains the listed threads of the given parents, then upserts them with the guild id', () => {
    const changes = THREAD_LIST_SYNC({ guild_id: '100', channel_ids: ['50', '51'], threads, members: [] }, ctx());
    expect(changes).toEqual([
      { kind: 'retain', table: 'threads', guildId: '100', keep: ['700', '701'], parentIds: ['50', '51'] },
      { kind: 'upsert', table: 'threads', row: { id: '700', type: 11, parent_id: '50', name: 'a', guild_id: '100' } },
      { kind: 'upsert', table: 'threads', row: { id: '701', type: 12, parent_id: '51', name: 'b', guild_id: '100' } },
    ]);
  });

  it('without channel_ids syncs the whole guild (no parentIds key)', () => {
    const retain = changeAt(THREAD_LIST_SYNC({ guild_id: '100', threads }, ctx()), 0, 'retain');
    expect(retain).toEqual({ kind: 'retain', table: 'threads', guildId: '100', keep: ['700', '701'] });
    expect('parentIds' in retain).toBe(false);
  });

  it('an empty sync retains nothing', () => {
    expect(THREAD_LIST_SYNC({ guild_id: '100', channel_ids: ['50'], threads: [] }, ctx())).toEqual([
      { kind: 'retain', table: 'threads', guildId: '100', keep: [], parentIds: ['50'] },
    ]);
  });

  it("updates the bot's own membership of each synced thread (update, not upsert)", () => {
    const members = [{ id: '700', user_id: '10', join_timestamp: '2026-01-01T00:00:00Z', flags: 0 }];
    const changes = THREAD_LIST_SYNC({ guild_id: '100', threads, members }, ctx());
    expect(kinds(changes)).toEqual(['retain:threads', 'upsert:threads', 'upsert:threads', 'update:threads']);
    expect(changes[3]).toEqual({
      kind: 'update',
      table: 'threads',
      row: { id: '700', member: JSON.stringify(members[0]) },
      guildId: '100',
    });
  });

  it('names bad fields', () => {
    expect(thrown(() => THREAD_LIST_SYNC({ guild_id: '100' }, ctx())).message).toBe('body[0].d.threads is required (an array)');
    expect(thrown(() => THREAD_LIST_SYNC({ guild_id: '100', channel_ids: ['50', 51], threads }, ctx())).message).toBe(
      'body[0].d.channel_ids[1] must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
    expect(thrown(() => THREAD_LIST_SYNC({ guild_id: '100', threads: [{ type: 11 }] }, ctx())).message).toBe(
      'body[0].d.threads[0].id is required (a snowflake string)',
    );
    expect(thrown(() => THREAD_LIST_SYNC({ guild_id: '100', threads, members: [{}] }, ctx())).message).toBe(
      'body[0].d.members[0].id is required (a snowflake string)',
    );
  });
});

describe('THREAD_MEMBERS_UPDATE', () => {
  it('upserts added members (with user) and presences, then updates the member count', () => {
    const changes = THREAD_MEMBERS_UPDATE(
      {
        id: '700',
        guild_id: '100',
        member_count: 3,
        added_members: [
          {
            id: '700',
            user_id: '200',
            member: { user: { id: '200', username: 'a' }, roles: [] },
            presence: { user: { id: '200' }, status: 'dnd', activities: [] },
          },
          { id: '700', user_id: '201' },
        ],
        removed_member_ids: ['202'],
      },
      ctx(),
    );
    expect(changes).toEqual([
      { kind: 'upsert', table: 'users', row: { id: '200', username: 'a' } },
      { kind: 'upsert', table: 'members', row: { guild_id: '100', user_id: '200', roles: '{}' } },
      { kind: 'upsert', table: 'presences', row: { guild_id: '100', user_id: '200', status: 'dnd', activities: '[]' } },
      { kind: 'update', table: 'threads', row: { id: '700', member_count: 3 }, guildId: '100' },
    ]);
  });

  it('with nothing added and no count, changes nothing', () => {
    expect(THREAD_MEMBERS_UPDATE({ id: '700', guild_id: '100', removed_member_ids: ['1'] }, ctx())).toEqual([]);
  });

  it('deletes an offline presence of an added member when configured to', () => {
    const changes = THREAD_MEMBERS_UPDATE(
      { id: '700', guild_id: '100', added_members: [{ presence: { user: { id: '200' }, status: 'offline' } }] },
      ctx({ deleteOfflinePresences: true }),
    );
    expect(changes).toEqual([{ kind: 'delete', table: 'presences', key: { guild_id: '100', user_id: '200' } }]);
    expect(upsertRows(changes, 'presences')).toEqual([]);
  });

  it('names bad fields', () => {
    expect(thrown(() => THREAD_MEMBERS_UPDATE({ id: '700' }, ctx())).message).toBe(
      'body[0].d.guild_id is required (a snowflake string)',
    );
    expect(
      thrown(() => THREAD_MEMBERS_UPDATE({ id: '700', guild_id: '100', added_members: [{ member: { user: { id: 1 } } }] }, ctx()))
        .message,
    ).toBe('body[0].d.added_members[0].member.user.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)');
    expect(thrown(() => THREAD_MEMBERS_UPDATE({ id: '700', guild_id: '100', member_count: 1.5 }, ctx())).message).toBe(
      'body[0].d.member_count must be a 32-bit integer or null',
    );
  });
});
