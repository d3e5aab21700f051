import { describe, expect, it } from 'vitest';
import {
  CHANNEL_CREATE,
  CHANNEL_DELETE,
  CHANNEL_PINS_UPDATE,
  CHANNEL_UPDATE,
  channelChanges,
  isThreadType,
} from '../../../src/cache/events/channels.js';
import { captureD, ctx, kinds, onlyUpsert, thrown, upsertRows } from '../_helpers.js';

/** The recorded voice channel of the first GUILD_CREATE, as a CHANNEL_CREATE would carry it (with guild_id). */
const voiceChannel = () => {
  const channels = captureD('guild_create', 0).channels as Record<string, unknown>[];
  return { ...channels[3]!, guild_id: '900000000000000008' };
};

describe('CHANNEL_CREATE / CHANNEL_UPDATE of a guild channel', () => {
  it('upserts the channel row with its columns (recorded voice channel)', () => {
    const changes = CHANNEL_CREATE(voiceChannel(), ctx());
    expect(changes).toEqual([
      {
        kind: 'upsert',
        table: 'channels',
        row: {
          id: '900000000000000022',
          type: 2,
          guild_id: '900000000000000008',
          position: 0,
          permission_overwrites: '[]',
          name: 'name_15',
          last_message_id: '900000000000000023',
          bitrate: 64000,
          user_limit: 0,
          rate_limit_per_user: 0,
          parent_id: '900000000000000021',
          rtc_region: null,
          flags: 0,
          status: null,
          icon_emoji: '{"name":"name_16","id":null}',
        },
      },
    ]);
  });

  it('CHANNEL_UPDATE maps the same way', () => {
    expect(CHANNEL_UPDATE(voiceChannel(), ctx())).toEqual(CHANNEL_CREATE(voiceChannel(), ctx()));
  });

  it('does not invent a guild_id when the event has none', () => {
    const row = onlyUpsert(CHANNEL_UPDATE({ id: '5', type: 0, name: 'x' }, ctx()), 'channels');
    expect(row).toEqual({ id: '5', type: 0, name: 'x' });
    expect('guild_id' in row).toBe(false);
  });

  it('keeps a forum channel (type 15) in channels', () => {
    expect(kinds(CHANNEL_CREATE({ id: '5', type: 15, guild_id: '1' }, ctx()))).toEqual(['upsert:channels']);
  });

  it('names the offending field', () => {
    expect(thrown(() => CHANNEL_CREATE({ type: 0 }, ctx())).message).toBe('body[0].d.id is required (a snowflake string)');
    expect(thrown(() => CHANNEL_CREATE({ id: '5', type: 0, position: '1' }, ctx())).message).toBe(
      'body[0].d.position must be a 32-bit integer or null',
    );
  });
});

describe('CHANNEL_CREATE of a thread type goes to threads', () => {
  it.each([10, 11, 12])('type %i', (type) => {
    const changes = CHANNEL_CREATE({ id: '7', type, guild_id: '1', parent_id: '5', name: 't', message_count: 0 }, ctx());
    expect(changes).toEqual([
      { kind: 'upsert', table: 'threads', row: { id: '7', type, guild_id: '1', parent_id: '5', name: 't', message_count: 0 } },
    ]);
  });

  it('isThreadType holds for 10, 11, 12 only, as numbers', () => {
    expect([9, 10, 11, 12, 13, 0, 15].map(isThreadType)).toEqual([false, true, true, true, false, false, false]);
    expect(isThreadType('11')).toBe(false);
    expect(isThreadType(undefined)).toBe(false);
  });

  it('channelChanges injects the parent guild into a thread without one', () => {
    expect(onlyUpsert(channelChanges({ id: '7', type: 11 }, '1', 'p'), 'threads')).toEqual({ id: '7', type: 11, guild_id: '1' });
  });
});

describe('DM channels', () => {
  const recipients = [
    { id: '200', username: 'a', global_name: 'A', avatar: null, discriminator: '0', clan: null },
    { id: '201', username: 'b' },
  ];

  it.each([1, 3])('type %i upserts each recipient user before the channel', (type) => {
    const changes = CHANNEL_CREATE({ id: '8', type, last_message_id: null, recipients }, ctx());
    expect(kinds(changes)).toEqual(['upsert:users', 'upsert:users', 'upsert:channels']);
    expect(upsertRows(changes, 'users')).toEqual([
      { id: '200', username: 'a', global_name: 'A', avatar: null, discriminator: '0' },
      { id: '201', username: 'b' },
    ]);
    const channel = onlyUpsert(changes, 'channels');
    expect(channel).toMatchObject({ id: '8', type, last_message_id: null });
    expect(JSON.parse(channel.recipients as string)).toEqual(recipients);
    expect('guild_id' in channel).toBe(false);
  });

  it('a guild channel with recipients does not upsert them', () => {
    expect(kinds(CHANNEL_CREATE({ id: '8', type: 0, recipients }, ctx()))).toEqual(['upsert:channels']);
  });

  it('a DM without recipients is just the channel', () => {
    expect(kinds(CHANNEL_CREATE({ id: '8', type: 1 }, ctx()))).toEqual(['upsert:channels']);
  });

  it('names a bad recipient', () => {
    expect(thrown(() => CHANNEL_CREATE({ id: '8', type: 1, recipients: [recipients[0], { id: 201 }] }, ctx())).message).toBe(
      'body[0].d.recipients[1].id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
    expect(thrown(() => CHANNEL_CREATE({ id: '8', type: 3, recipients: {} }, ctx())).message).toBe(
      'body[0].d.recipients must be an array',
    );
  });
});

describe('CHANNEL_DELETE', () => {
  it('deletes a guild channel (with its threads and messages, done by the writer)', () => {
    expect(CHANNEL_DELETE({ id: '900000000000000022', type: 2, guild_id: '1' }, ctx())).toEqual([
      { kind: 'cascade', table: 'channels', ids: ['900000000000000022'], guildId: '1' },
    ]);
  });

  it.each([10, 11, 12])('deletes threads for thread type %i', (type) => {
    expect(CHANNEL_DELETE({ id: '7', type, guild_id: '1', parent_id: '5' }, ctx())).toEqual([
      { kind: 'cascade', table: 'threads', ids: ['7'], guildId: '1' },
    ]);
  });

  it('never upserts', () => {
    const changes = CHANNEL_DELETE({ id: '7', type: 0, name: 'x', guild_id: '1' }, ctx());
    expect(changes.some((c) => c.kind === 'upsert' || c.kind === 'update')).toBe(false);
  });

  it('requires the id', () => {
    expect(thrown(() => CHANNEL_DELETE({ type: 0 }, ctx())).message).toBe('body[0].d.id is required (a snowflake string)');
  });
});

describe('CHANNEL_PINS_UPDATE', () => {
  it('updates (never inserts) last_pin_timestamp on the channel or the thread', () => {
    const row = { id: '5', last_pin_timestamp: '2025-12-30T21:05:57.113000+00:00' };
    expect(CHANNEL_PINS_UPDATE({ guild_id: '1', channel_id: '5', last_pin_timestamp: row.last_pin_timestamp }, ctx())).toEqual([
      { kind: 'update', table: 'channels', row, guildId: '1' },
      { kind: 'update', table: 'threads', row, guildId: '1' },
    ]);
  });

  it('clears the timestamp when the last pin is gone (absent or null)', () => {
    for (const d of [{ channel_id: '5' }, { channel_id: '5', last_pin_timestamp: null }]) {
      expect(CHANNEL_PINS_UPDATE(d, ctx())).toEqual([
        { kind: 'update', table: 'channels', row: { id: '5', last_pin_timestamp: null } },
        { kind: 'update', table: 'threads', row: { id: '5', last_pin_timestamp: null } },
      ]);
    }
  });

  it('validates the channel id and the timestamp', () => {
    expect(thrown(() => CHANNEL_PINS_UPDATE({}, ctx())).message).toBe('body[0].d.channel_id is required (a snowflake string)');
    expect(thrown(() => CHANNEL_PINS_UPDATE({ channel_id: '5', last_pin_timestamp: 'soon' }, ctx())).message).toBe(
      'body[0].d.last_pin_timestamp must be an ISO-8601 timestamp string or null',
    );
  });
});
