import { describe, expect, it } from 'vitest';
import type { Change } from '../../../src/cache/changes.js';
import { EXPAND_MEMBERS, GUILD_CREATE as GUILD_CREATE_PARTS, GUILD_DELETE, GUILD_EMOJIS_UPDATE, GUILD_UPDATE } from '../../../src/cache/events/guilds.js';
import { mapDispatch, mappers } from '../../../src/cache/events/index.js';
import { GUILD_ROLE_CREATE, GUILD_ROLE_DELETE, GUILD_ROLE_UPDATE } from '../../../src/cache/events/roles.js';
import { specs } from '../../../src/discord/columns.js';
import { captureD, changeAt, ctx, flat, kinds, onlyUpsert, thrown, upsertRows } from '../_helpers.js';

/** GUILD_CREATE's changes with its snapshot parts spread out (their order of application). */
const GUILD_CREATE = (d: Record<string, unknown>, c: Parameters<typeof GUILD_CREATE_PARTS>[1]) => flat(GUILD_CREATE_PARTS(d, c));

const GUILD_COLUMNS_IN_CAPTURE = [
  'afk_channel_id',
  'afk_timeout',
  'application_id',
  'banner',
  'default_message_notifications',
  'description',
  'discovery_splash',
  'emojis',
  'explicit_content_filter',
  'features',
  'icon',
  'id',
  'joined_at',
  'large',
  'max_members',
  'max_stage_video_channel_users',
  'max_video_channel_users',
  'member_count',
  'mfa_level',
  'name',
  'nsfw_level',
  'owner_id',
  'preferred_locale',
  'premium_progress_bar_enabled',
  'premium_subscription_count',
  'premium_tier',
  'public_updates_channel_id',
  'roles',
  'rules_channel_id',
  'safety_alerts_channel_id',
  'splash',
  'stickers',
  'system_channel_flags',
  'system_channel_id',
  'vanity_url_code',
  'verification_level',
];

describe('GUILD_CREATE (recorded guild with one member, seven channels, no threads)', () => {
  const d = captureD('guild_create', 0);
  const changes = GUILD_CREATE(d, ctx());
  const channelIds = [
    '900000000000000020',
    '900000000000000021',
    '900000000000000009',
    '900000000000000022',
    '900000000000000024',
    '900000000000000026',
    '900000000000000029',
  ];

  it('emits guild, unavailable delete, each list after its retain, the member, then its user (users are outside the parts)', () => {
    expect(kinds(changes)).toEqual([
      'upsert:guilds',
      'delete:unavailable_guilds',
      'retain:channels',
      ...channelIds.map(() => 'upsert:channels'),
      'retain:threads',
      'retain:voice_states',
      'upsert:members',
      'upsert:users',
    ]);
  });

  it('cuts the guild into parts with digests of what Discord sent: the same payload, the same digests', () => {
    const [snapshot] = GUILD_CREATE_PARTS(d, ctx());
    expect(snapshot?.kind).toBe('snapshot');
    const parts = snapshot!.kind === 'snapshot' ? snapshot!.parts : [];
    expect(parts.map((p) => p.name)).toEqual(['guild', 'channels', 'threads', 'voice_states', 'members', 'presences']);
    const again = GUILD_CREATE_PARTS(captureD('guild_create', 0), ctx());
    expect(again[0]!.kind === 'snapshot' && again[0]!.parts.map((p) => p.digest)).toEqual(parts.map((p) => p.digest));
    const renamed = GUILD_CREATE_PARTS({ ...captureD('guild_create', 0), name: 'other' }, ctx());
    const digests = renamed[0]!.kind === 'snapshot' ? renamed[0]!.parts.map((p) => p.digest) : [];
    expect(digests[0]).not.toBe(parts[0]!.digest);
    expect(digests.slice(1)).toEqual(parts.slice(1).map((p) => p.digest));
  });

  it('upserts the guild with exactly its cached columns', () => {
    const row = changeAt(changes, 0, 'upsert').row;
    expect(Object.keys(row).sort()).toEqual(GUILD_COLUMNS_IN_CAPTURE);
    expect(row).toMatchObject({
      id: '900000000000000008',
      name: 'name_10',
      member_count: 6,
      owner_id: '900000000000000002',
      system_channel_id: '900000000000000009',
      joined_at: '2026-02-08T18:34:51.331000+00:00',
      large: false,
      afk_channel_id: null,
      max_members: 25000000,
    });
  });

  it('stores roles, emojis, features and stickers as JSON strings of the payload arrays', () => {
    const row = changeAt(changes, 0, 'upsert').row;
    expect(typeof row.roles).toBe('string');
    expect(row.roles).toBe(JSON.stringify(d.roles));
    expect((JSON.parse(row.roles as string) as unknown[]).length).toBe(6);
    expect(row.emojis).toBe(JSON.stringify(d.emojis));
    expect(JSON.parse(row.emojis as string)).toEqual([
      {
        name: 'name_1',
        animated: false,
        managed: false,
        id: '900000000000000001',
        roles: [],
        version: 1767461272845,
        available: true,
        require_colons: true,
      },
    ]);
    expect(JSON.parse(row.features as string)).toEqual([
      'AUTO_MODERATION',
      'BYPASS_SLOWMODE_PERMISSION_MIGRATION_COMPLETE',
      'PIN_PERMISSION_MIGRATION_COMPLETE',
    ]);
  });

  it('deletes the unavailable_guilds row', () => {
    expect(changes[1]).toEqual({ kind: 'delete', table: 'unavailable_guilds', key: { id: '900000000000000008' } });
  });

  it('retains exactly the listed channels and (no) threads', () => {
    expect(changes[2]).toEqual({ kind: 'retain', table: 'channels', guildId: '900000000000000008', keep: channelIds });
    expect(changes[3 + channelIds.length]).toEqual({ kind: 'retain', table: 'threads', guildId: '900000000000000008', keep: [] });
  });

  it('injects the guild id into every channel (real payloads have none)', () => {
    const rows = upsertRows(changes, 'channels');
    expect(rows.map((r) => r.id)).toEqual(channelIds);
    for (const r of rows) expect(r.guild_id).toBe('900000000000000008');
    for (const c of d.channels as Record<string, unknown>[]) expect(c.guild_id).toBeUndefined();
  });

  it('maps a text channel with its JSON columns, and drops keys that are not columns', () => {
    const text = upsertRows(changes, 'channels')[2]!;
    expect(text).toEqual({
      id: '900000000000000009',
      type: 0,
      guild_id: '900000000000000008',
      position: 0,
      permission_overwrites: '[]',
      name: 'name_13',
      topic: null,
      last_message_id: '900000000000000019',
      rate_limit_per_user: 0,
      parent_id: '900000000000000020',
      last_pin_timestamp: '2025-12-30T21:05:57.113000+00:00',
      flags: 0,
      icon_emoji: '{"name":"name_14","id":null}',
    });
    expect('version' in text).toBe(false);
  });

  it('upserts the member user and the member keyed by guild and user', () => {
    expect(onlyUpsert(changes, 'users')).toMatchObject({ id: '900000000000000018', username: 'username_2', bot: true });
    expect(onlyUpsert(changes, 'members')).toEqual({
      guild_id: '900000000000000008',
      user_id: '900000000000000018',
      nick: null,
      avatar: null,
      banner: null,
      roles: '{900000000000000017}',
      joined_at: '2026-02-08T18:34:51.331000+00:00',
      premium_since: null,
      deaf: false,
      mute: false,
      pending: false,
      flags: 0,
      communication_disabled_until: null,
    });
  });

  it('never deletes members or presences', () => {
    const deletes = changes.filter((c) => c.kind === 'delete');
    expect(deletes).toEqual([{ kind: 'delete', table: 'unavailable_guilds', key: { id: '900000000000000008' } }]);
    expect(changes.some((c) => c.kind === 'cascade')).toBe(false);
  });

  it('does not modify the payload', () => {
    const fresh = captureD('guild_create', 0);
    GUILD_CREATE(fresh, ctx());
    expect(fresh).toEqual(captureD('guild_create', 0));
  });
});

describe('GUILD_CREATE (recorded guild with a thread and a repeated member)', () => {
  const d = captureD('guild_create', 1);
  const changes = GUILD_CREATE(d, ctx());

  it('retains the listed thread and upserts it after the channels', () => {
    expect(changeAt(changes, 18, 'retain')).toEqual({
      kind: 'retain', table: 'threads',
      guildId: '900000000000000034',
      keep: ['900000000000000081'],
    });
    expect(changeAt(changes, 2, 'retain').keep).toHaveLength(15);
    expect(kinds(changes).slice(3, 20)).toEqual([...Array(15).fill('upsert:channels'), 'retain:threads', 'upsert:threads']);
  });

  it('maps the thread row, metadata as JSON', () => {
    expect(onlyUpsert(changes, 'threads')).toEqual({
      id: '900000000000000081',
      type: 11,
      guild_id: '900000000000000034',
      parent_id: '900000000000000033',
      owner_id: '900000000000000002',
      name: 'name_45',
      last_message_id: '900000000000000082',
      rate_limit_per_user: 0,
      message_count: 2,
      member_count: 0,
      total_message_sent: 3,
      thread_metadata: JSON.stringify((d.threads as Record<string, unknown>[])[0]!.thread_metadata),
      flags: 0,
    });
  });

  it('upserts every listed member in order (duplicates included) with member_count from the payload', () => {
    expect(upsertRows(changes, 'members').map((m) => m.user_id)).toEqual([
      '900000000000000065',
      '900000000000000018',
      '900000000000000065',
    ]);
    expect(changeAt(changes, 0, 'upsert').row.member_count).toBe(63);
  });
});

describe('GUILD_CREATE (hand-made)', () => {
  const guild = (over: Record<string, unknown> = {}) => ({
    id: '100',
    name: 'g',
    channels: [
      { id: '101', type: 0, name: 'general' },
      { id: '102', type: 2, name: 'voice', guild_id: '100' },
    ],
    threads: [{ id: '103', type: 11, parent_id: '101', name: 't' }],
    members: [{ user: { id: '200', username: 'u' }, roles: [], joined_at: '2026-01-01T00:00:00Z' }],
    presences: [
      { user: { id: '200' }, status: 'online', client_status: { desktop: 'online' }, activities: [] },
      { user: { id: '201', username: 'other' }, status: 'offline', activities: [] },
    ],
    ...over,
  });

  it('injects guild_id into threads and presences that have none', () => {
    const changes = GUILD_CREATE(guild(), ctx());
    expect(onlyUpsert(changes, 'threads')).toEqual({ id: '103', type: 11, parent_id: '101', name: 't', guild_id: '100' });
    expect(upsertRows(changes, 'presences')).toEqual([
      {
        guild_id: '100',
        user_id: '200',
        status: 'online',
        activities: '[]',
        client_status: '{"desktop":"online"}',
      },
      { guild_id: '100', user_id: '201', status: 'offline', activities: '[]' },
    ]);
  });

  it('writes presence users only when they carry more than an id', () => {
    const changes = GUILD_CREATE(guild(), ctx());
    expect(upsertRows(changes, 'users')).toEqual([
      { id: '200', username: 'u' },
      { id: '201', username: 'other' },
    ]);
  });

  it('emits members before presences, and channels/threads before both; the users after, in their order', () => {
    const changes = GUILD_CREATE(guild(), ctx());
    expect(kinds(changes)).toEqual([
      'upsert:guilds',
      'delete:unavailable_guilds',
      'retain:channels',
      'upsert:channels',
      'upsert:channels',
      'retain:threads',
      'upsert:threads',
      'upsert:members',
      'upsert:presences',
      'upsert:presences',
      'upsert:users',
      'upsert:users',
    ]);
    // The member's user, then the presence's (partial) user: a presence merges over the member.
    expect(upsertRows(changes, 'users').map((u) => u.id)).toEqual(['200', '201']);
  });

  it('deletes offline presences instead of storing them when asked to', () => {
    const changes = GUILD_CREATE(guild(), ctx({ deleteOfflinePresences: true }));
    expect(changes.filter((c) => c.kind === 'delete' && c.table === 'presences')).toEqual([
      { kind: 'delete', table: 'presences', key: { guild_id: '100', user_id: '201' } },
    ]);
    expect(upsertRows(changes, 'presences').map((p) => p.user_id)).toEqual(['200']);
  });

  it('keeps a guild_id a channel or thread already carries', () => {
    const changes = GUILD_CREATE(
      guild({ channels: [{ id: '101', type: 0, guild_id: '999' }], threads: [{ id: '103', type: 11, guild_id: '998' }] }),
      ctx(),
    );
    expect(onlyUpsert(changes, 'channels').guild_id).toBe('999');
    expect(onlyUpsert(changes, 'threads').guild_id).toBe('998');
  });

  it('sends thread-typed entries of channels to threads and keeps them among the retained threads', () => {
    const changes = GUILD_CREATE(
      guild({ channels: [{ id: '101', type: 0 }, { id: '104', type: 12 }], threads: [{ id: '103', type: 11 }] }),
      ctx(),
    );
    expect(changeAt(changes, 2, 'retain').keep).toEqual(['101']);
    expect(changeAt(changes, 5, 'retain').keep).toEqual(['104', '103']);
    expect(upsertRows(changes, 'threads').map((t) => [t.id, t.guild_id])).toEqual([
      ['104', '100'],
      ['103', '100'],
    ]);
  });

  it('retains nothing for lists the payload does not carry', () => {
    const changes = GUILD_CREATE({ id: '100', name: 'g' }, ctx());
    expect(changes).toEqual([
      { kind: 'upsert', table: 'guilds', row: { id: '100', name: 'g' } },
      { kind: 'delete', table: 'unavailable_guilds', key: { id: '100' } },
    ]);
  });

  it('retains an empty list when the payload lists no channels or threads', () => {
    const changes = GUILD_CREATE({ id: '100', channels: [], threads: [] }, ctx());
    expect(changes.slice(2)).toEqual([
      { kind: 'retain', table: 'channels', guildId: '100', keep: [] },
      { kind: 'retain', table: 'threads', guildId: '100', keep: [] },
    ]);
  });

  it('does not treat channels: null / threads: null as an empty (complete) list', () => {
    const changes = GUILD_CREATE({ id: '100', channels: null, threads: null }, ctx());
    expect(kinds(changes)).toEqual(['upsert:guilds', 'delete:unavailable_guilds']);
  });

  it('with unavailable: true only marks the guild unavailable', () => {
    expect(GUILD_CREATE({ id: '100', unavailable: true }, ctx())).toEqual([
      { kind: 'upsert', table: 'unavailable_guilds', row: { id: '100' } },
    ]);
    // Even if other data were present.
    expect(GUILD_CREATE(guild({ unavailable: true }), ctx())).toEqual([
      { kind: 'upsert', table: 'unavailable_guilds', row: { id: '100' } },
    ]);
  });

  it('with unavailable: false is a full create', () => {
    expect(kinds(GUILD_CREATE({ id: '100', unavailable: false }, ctx()))).toEqual([
      'upsert:guilds',
      'delete:unavailable_guilds',
    ]);
  });

  it('names the offending field', () => {
    expect(thrown(() => GUILD_CREATE({ id: 100 }, ctx())).message).toBe(
      'body[0].d.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
    expect(thrown(() => GUILD_CREATE(guild({ channels: [{ id: '1', type: 0 }, { id: 2, type: 0 }] }), ctx())).message).toBe(
      'body[0].d.channels[1].id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
    expect(thrown(() => GUILD_CREATE(guild({ members: [{ user: { id: '1' } }, {}] }), ctx())).message).toBe(
      'body[0].d.members[1].user is required (an object)',
    );
    expect(thrown(() => GUILD_CREATE(guild({ presences: [{ user: { id: 'x' } }] }), ctx())).message).toBe(
      'body[0].d.presences[0].user.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
    expect(thrown(() => GUILD_CREATE(guild({ member_count: '6' }), ctx())).message).toBe(
      'body[0].d.member_count must be a 32-bit integer or null',
    );
  });
});

describe('GUILD_LOADED_DD', () => {
  it('is mapped exactly like GUILD_CREATE', () => {
    expect(mappers.GUILD_LOADED_DD).toBe(GUILD_CREATE_PARTS);
    const d = captureD('guild_create', 0);
    const viaDd = mapDispatch({ op: 0, t: 'GUILD_LOADED_DD', s: 1, d }, 'body[0]', { deleteOfflinePresences: false });
    expect(viaDd.tracked).toBe(true);
    expect(viaDd.type).toBe('GUILD_LOADED_DD');
    expect(viaDd.changes).toEqual(GUILD_CREATE_PARTS(captureD('guild_create', 0), ctx()));
  });
});

describe('GUILD_UPDATE', () => {
  it('upserts only the guild columns present, without touching channels or members', () => {
    const changes = GUILD_UPDATE(
      { id: '100', name: 'renamed', icon: null, roles: [{ id: '100', name: '@everyone' }], version: 5, region: 'x' },
      ctx(),
    );
    expect(changes).toEqual([
      {
        kind: 'upsert',
        table: 'guilds',
        row: { id: '100', name: 'renamed', icon: null, roles: '[{"id":"100","name":"@everyone"}]' },
      },
    ]);
  });

  it('requires the id', () => {
    expect(thrown(() => GUILD_UPDATE({ name: 'x' }, ctx())).message).toBe('body[0].d.id is required (a snowflake string)');
  });
});

describe('GUILD_DELETE', () => {
  it('unavailable: true (an outage) only marks the guild unavailable, keeping everything', () => {
    const changes = GUILD_DELETE({ id: '100', unavailable: true }, ctx());
    expect(changes).toEqual([{ kind: 'upsert', table: 'unavailable_guilds', row: { id: '100' } }]);
  });

  it('otherwise removes the guild with everything that belongs to it (its unavailable row too)', () => {
    const expected: Change[] = [{ kind: 'cascade', table: 'guilds', ids: ['100'] }];
    expect(GUILD_DELETE({ id: '100' }, ctx())).toEqual(expected);
    expect(GUILD_DELETE({ id: '100', unavailable: false }, ctx())).toEqual(expected);
  });

  it('rejects a numeric id', () => {
    expect(() => GUILD_DELETE({ id: 100 }, ctx())).toThrow('body[0].d.id must be a snowflake');
  });
});

describe('GUILD_EMOJIS_UPDATE', () => {
  it('is an update (no insert) of the guild emojis, as JSON', () => {
    const emojis = [{ id: '300', name: 'e', animated: false }];
    expect(GUILD_EMOJIS_UPDATE({ guild_id: '100', emojis }, ctx())).toEqual([
      { kind: 'update', table: 'guilds', row: { id: '100', emojis: '[{"id":"300","name":"e","animated":false}]' } },
    ]);
  });

  it('sets an empty list when all emojis are gone', () => {
    expect(GUILD_EMOJIS_UPDATE({ guild_id: '100', emojis: [] }, ctx())).toEqual([
      { kind: 'update', table: 'guilds', row: { id: '100', emojis: '[]' } },
    ]);
  });

  it('requires guild_id and emojis', () => {
    expect(thrown(() => GUILD_EMOJIS_UPDATE({ emojis: [] }, ctx())).message).toBe(
      'body[0].d.guild_id is required (a snowflake string)',
    );
    expect(thrown(() => GUILD_EMOJIS_UPDATE({ guild_id: '100' }, ctx())).message).toBe(
      'body[0].d.emojis is required (an array)',
    );
  });
});

describe('GUILD_ROLE_CREATE / UPDATE / DELETE', () => {
  const role = { id: '400', name: 'mod', permissions: '8', color: 0, position: 2, tags: {} };

  it('create and update put the role object into the guild', () => {
    for (const mapper of [GUILD_ROLE_CREATE, GUILD_ROLE_UPDATE]) {
      expect(mapper({ guild_id: '100', role }, ctx())).toEqual([{ kind: 'putRole', guildId: '100', role }]);
    }
  });

  it('delete removes the role by id', () => {
    expect(GUILD_ROLE_DELETE({ guild_id: '100', role_id: '400' }, ctx())).toEqual([
      { kind: 'removeRole', guildId: '100', roleId: '400' },
    ]);
  });

  it('validates the guild, the role object and role ids', () => {
    expect(thrown(() => GUILD_ROLE_CREATE({ guild_id: '100' }, ctx())).message).toBe('body[0].d.role is required (an object)');
    expect(thrown(() => GUILD_ROLE_UPDATE({ guild_id: '100', role: { ...role, id: 400 } }, ctx())).message).toBe(
      'body[0].d.role.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
    expect(thrown(() => GUILD_ROLE_DELETE({ guild_id: '100' }, ctx())).message).toBe(
      'body[0].d.role_id is required (a snowflake string)',
    );
    expect(thrown(() => GUILD_ROLE_DELETE({ role_id: '400' }, ctx())).message).toBe(
      'body[0].d.guild_id is required (a snowflake string)',
    );
  });
});

describe('guild rows hold guild columns only', () => {
  it('every key of every guilds upsert is a guilds column', () => {
    for (const i of [0, 1]) {
      for (const row of upsertRows(GUILD_CREATE(captureD('guild_create', i), ctx()), 'guilds')) {
        for (const key of Object.keys(row)) expect(specs.guilds.byName.has(key)).toBe(true);
      }
    }
  });
});

describe('GUILD_CREATE of a giant guild: members mapped while they are written', () => {
  const memberOf = (i: number) => ({ user: { id: String(1_000_000 + i), username: `u${i}` }, roles: [], joined_at: null, deaf: false, mute: false, flags: 0 });
  const big = (n: number, patch?: (members: Record<string, unknown>[]) => void) => {
    const members = Array.from({ length: n }, (_, i) => memberOf(i));
    patch?.(members);
    return { id: '42', name: 'big', channels: [], members };
  };

  it(`up to ${EXPAND_MEMBERS} members are mapped at once; beyond, one re-iterable expand change yields the same changes`, () => {
    expect(GUILD_CREATE(big(EXPAND_MEMBERS), ctx()).some((c) => c.kind === 'expand')).toBe(false);
    const n = EXPAND_MEMBERS + 1;
    const changes = GUILD_CREATE(big(n), ctx());
    const expand = changes.find((c): c is Extract<Change, { kind: 'expand' }> => c.kind === 'expand')!;
    expect(expand.size).toBe(2 * n);
    const produced = [...expand.changes()];
    expect(produced).toHaveLength(2 * n);
    expect([...expand.changes()]).toEqual(produced); // starts over
    // The same changes as the members mapped one by one (member rows and user rows alike).
    const eager = Array.from({ length: n }, (_, i) => GUILD_CREATE({ id: '42', name: 'big', channels: [], members: [memberOf(i)] }, ctx()).slice(-2)).flat();
    const key = (c: Change) => JSON.stringify(c);
    expect(produced.map(key).sort()).toEqual(eager.map(key).sort());
    // Every member is there (the giant path writes each user with its member, the eager one after the parts).
    expect(produced.filter((c) => c.kind === 'upsert' && c.table === 'members')).toHaveLength(n);
  });

  it('a bad member is not found by the mapping: iterating the expand change throws, naming the field', () => {
    const changes = GUILD_CREATE(big(EXPAND_MEMBERS + 1, (m) => ((m[EXPAND_MEMBERS]!.user as Record<string, unknown>).id = 5)), ctx());
    const expand = changes.find((c): c is Extract<Change, { kind: 'expand' }> => c.kind === 'expand')!;
    expect(thrown(() => [...expand.changes()]).message).toBe(`body[0].d.members[${EXPAND_MEMBERS}].user.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)`);
  });
});
