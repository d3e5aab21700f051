import { describe, expect, it } from 'vitest';
import { PRESENCE_UPDATE, presenceChanges } from '../../../src/cache/events/presences.js';
import { partialUserChanges, userChanges } from '../../../src/cache/events/users.js';
import { ctx, kinds, thrown } from '../_helpers.js';

const presence = (over: Record<string, unknown> = {}) => ({
  user: { id: '200' },
  guild_id: '100',
  status: 'online',
  activities: [{ name: 'Custom Status', type: 4, state: 'hi' }],
  client_status: { desktop: 'online' },
  ...over,
});

describe('PRESENCE_UPDATE', () => {
  it('with an id-only user upserts only the presence (no user stub)', () => {
    expect(PRESENCE_UPDATE(presence(), ctx())).toEqual([
      {
        kind: 'upsert',
        table: 'presences',
        row: {
          guild_id: '100',
          user_id: '200',
          status: 'online',
          activities: '[{"name":"Custom Status","type":4,"state":"hi"}]',
          client_status: '{"desktop":"online"}',
        },
      },
    ]);
  });

  it('with more user keys upserts the user with only those keys', () => {
    const changes = PRESENCE_UPDATE(presence({ user: { id: '200', username: 'new', avatar: null } }), ctx());
    expect(kinds(changes)).toEqual(['upsert:users', 'upsert:presences']);
    expect(changes[0]).toEqual({ kind: 'upsert', table: 'users', row: { id: '200', username: 'new', avatar: null } });
  });

  it('user keys that are not columns do not count as more than an id', () => {
    const changes = PRESENCE_UPDATE(presence({ user: { id: '200', clan: null, display_name_styles: null } }), ctx());
    expect(kinds(changes)).toEqual(['upsert:presences']);
  });

  it('writes only the presence keys present', () => {
    const changes = PRESENCE_UPDATE({ user: { id: '200' }, guild_id: '100', status: 'idle' }, ctx());
    expect(changes).toEqual([
      { kind: 'upsert', table: 'presences', row: { guild_id: '100', user_id: '200', status: 'idle' } },
    ]);
  });

  it('status offline with deleteOfflinePresences deletes the presence', () => {
    expect(PRESENCE_UPDATE(presence({ status: 'offline', activities: [] }), ctx({ deleteOfflinePresences: true }))).toEqual([
      { kind: 'delete', table: 'presences', key: { guild_id: '100', user_id: '200' } },
    ]);
  });

  it('still upserts the partial user of an offline presence that is deleted', () => {
    const changes = PRESENCE_UPDATE(
      presence({ status: 'offline', user: { id: '200', username: 'u' } }),
      ctx({ deleteOfflinePresences: true }),
    );
    expect(changes).toEqual([
      { kind: 'upsert', table: 'users', row: { id: '200', username: 'u' } },
      { kind: 'delete', table: 'presences', key: { guild_id: '100', user_id: '200' } },
    ]);
  });

  it('status offline without the option stores the offline presence', () => {
    const changes = PRESENCE_UPDATE(presence({ status: 'offline', activities: [] }), ctx());
    expect(changes).toEqual([
      {
        kind: 'upsert',
        table: 'presences',
        row: { guild_id: '100', user_id: '200', status: 'offline', activities: '[]', client_status: '{"desktop":"online"}' },
      },
    ]);
  });

  it('other statuses are stored even with the option', () => {
    for (const status of ['online', 'idle', 'dnd', 'invisible']) {
      expect(kinds(PRESENCE_UPDATE(presence({ status }), ctx({ deleteOfflinePresences: true })))).toEqual(['upsert:presences']);
    }
  });

  it('names the offending field', () => {
    expect(thrown(() => PRESENCE_UPDATE(presence({ guild_id: undefined }), ctx())).message).toBe(
      'body[0].d.guild_id is required (a snowflake string)',
    );
    expect(thrown(() => PRESENCE_UPDATE(presence({ user: undefined }), ctx())).message).toBe(
      'body[0].d.user is required (an object)',
    );
    expect(thrown(() => PRESENCE_UPDATE(presence({ user: { id: 200 } }), ctx())).message).toBe(
      'body[0].d.user.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
    expect(thrown(() => PRESENCE_UPDATE(presence({ status: 1 }), ctx())).message).toBe('body[0].d.status must be a string or null');
  });
});

describe('presenceChanges', () => {
  it('takes the guild id from the parent, ignoring a guild_id on the presence', () => {
    expect(presenceChanges({ user: { id: '200' }, guild_id: '999', status: 'dnd' }, '100', 'p', false)).toEqual([
      { kind: 'upsert', table: 'presences', row: { guild_id: '100', user_id: '200', status: 'dnd' } },
    ]);
  });
});

describe('userChanges / partialUserChanges', () => {
  it('userChanges writes an id-only user (as a full user object it is still a row)', () => {
    expect(userChanges({ id: '200' }, 'p')).toEqual([{ kind: 'upsert', table: 'users', row: { id: '200' } }]);
  });

  it('partialUserChanges writes nothing for an id-only user, but still validates the id', () => {
    expect(partialUserChanges({ id: '200' }, 'p')).toEqual([]);
    expect(thrown(() => partialUserChanges({}, 'p.user')).message).toBe('p.user.id is required (a snowflake string)');
    expect(thrown(() => partialUserChanges({ id: '200', bot: 'no' }, 'p.user')).message).toBe(
      'p.user.bot must be a boolean or null',
    );
  });

  it('partialUserChanges with a null-valued key writes it (null is a value)', () => {
    expect(partialUserChanges({ id: '200', avatar: null }, 'p')).toEqual([
      { kind: 'upsert', table: 'users', row: { id: '200', avatar: null } },
    ]);
  });
});
