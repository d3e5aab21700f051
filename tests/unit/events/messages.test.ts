import { describe, expect, it } from 'vitest';
import { MESSAGE_CREATE, MESSAGE_DELETE, MESSAGE_DELETE_BULK, MESSAGE_UPDATE } from '../../../src/cache/events/messages.js';
import { specs } from '../../../src/discord/columns.js';
import { captureD, changeAt, ctx, kinds, onlyUpsert, thrown, upsertRows } from '../_helpers.js';

describe('MESSAGE_CREATE (recorded, guild message)', () => {
  const d = captureD('message_create', 0);
  const changes = MESSAGE_CREATE(d, ctx());

  it('upserts author, author member, message, then moves the channel or thread on', () => {
    expect(kinds(changes)).toEqual([
      'upsert:users',
      'upsert:members',
      'upsert:messages',
      'update:channels',
      'update:threads',
    ]);
  });

  it('upserts the author user from its user columns', () => {
    expect(changeAt(changes, 0, 'upsert').row).toEqual({
      id: '900000000000000002',
      username: 'username_1',
      discriminator: '0',
      global_name: 'global_name_1',
      avatar: '0000000000000000000000000000000d',
      public_flags: 0,
      avatar_decoration_data:
        '{"expires_at":null,"asset":"00000000000000000000000000000008","sku_id":"900000000000000004"}',
      collectibles: null,
      primary_guild:
        '{"identity_guild_id":"900000000000000003","tag":"tag_1","badge":"0000000000000000000000000000000c","identity_enabled":true}',
    });
  });

  it('keys the member (which has no user) by author.id and guild_id', () => {
    expect((d.member as Record<string, unknown>).user).toBeUndefined();
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

  it('stores the message with author_id and the author snapshot as JSON', () => {
    const row = changeAt(changes, 2, 'upsert').row;
    expect(row).toEqual({
      id: '900000000000000087',
      channel_id: '900000000000000009',
      guild_id: '900000000000000008',
      author_id: '900000000000000002',
      author: JSON.stringify(d.author),
      content: 'content_2',
      timestamp: '2026-02-27T23:56:48.287000+00:00',
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: '[]',
      mention_roles: '[]',
      attachments: '[]',
      embeds: '[]',
      pinned: false,
      type: 0,
      flags: 0,
      components: '[]',
    });
    // Keys that are not columns (nonce, channel_type, member) are not stored.
    for (const key of Object.keys(row)) expect(specs.messages.byName.has(key)).toBe(true);
  });

  it("sets the channel's last_message_id and the thread's, counting one more message in the thread", () => {
    expect(changes.slice(3)).toEqual([
      { kind: 'update', table: 'channels', row: { id: '900000000000000009', last_message_id: '900000000000000087' }, guildId: '900000000000000008' },
      {
        kind: 'update',
        table: 'threads',
        row: { id: '900000000000000009', last_message_id: '900000000000000087' },
        inc: { message_count: 1, total_message_sent: 1 },
        guildId: '900000000000000008',
      },
    ]);
  });
});

describe('MESSAGE_CREATE (recorded reply with a mention and a sticker)', () => {
  const d = captureD('message_create', 1);
  const changes = MESSAGE_CREATE(d, ctx());

  it('upserts the mentioned users after the author and its member', () => {
    expect(kinds(changes)).toEqual([
      'upsert:users',
      'upsert:members',
      'upsert:users',
      'upsert:messages',
      'update:channels',
      'update:threads',
    ]);
    expect(upsertRows(changes, 'users').map((u) => u.id)).toEqual(['900000000000000002', '900000000000000007']);
  });

  it("does not store the mention's partial member as a user column", () => {
    const mention = upsertRows(changes, 'users')[1]!;
    expect(mention).toEqual({
      id: '900000000000000007',
      username: 'username_4',
      global_name: 'global_name_2',
      discriminator: '0',
      avatar: '00000000000000000000000000000010',
      public_flags: 0,
      avatar_decoration_data: null,
      collectibles: null,
      primary_guild: null,
    });
  });

  it('stores reference, referenced message and stickers as JSON', () => {
    const row = onlyUpsert(changes, 'messages');
    expect(row.type).toBe(19);
    expect(JSON.parse(row.message_reference as string)).toEqual({
      message_id: '900000000000000088',
      guild_id: '900000000000000008',
      channel_id: '900000000000000009',
      type: 0,
    });
    expect(row.referenced_message).toBe(JSON.stringify(d.referenced_message));
    expect(JSON.parse(row.sticker_items as string)).toEqual([{ name: 'name_50', id: '900000000000000090', format_type: 3 }]);
  });
});

describe('MESSAGE_CREATE (hand-made)', () => {
  const author = { id: '300', username: 'hook', bot: true, discriminator: '0000', avatar: null };
  const webhookMessage = {
    id: '500',
    channel_id: '50',
    guild_id: '100',
    webhook_id: '300',
    author,
    content: 'from a webhook',
    mentions: [{ id: '200', username: 'mentioned' }],
    timestamp: '2026-01-01T00:00:00Z',
  };

  it('a webhook message creates no users and no members, but stores the author snapshot', () => {
    const changes = MESSAGE_CREATE(webhookMessage, ctx());
    expect(kinds(changes)).toEqual(['upsert:messages', 'update:channels', 'update:threads']);
    expect(onlyUpsert(changes, 'messages')).toMatchObject({
      id: '500',
      webhook_id: '300',
      author_id: '300',
      author: JSON.stringify(author),
    });
  });

  it('a webhook message with a member still creates no member', () => {
    const changes = MESSAGE_CREATE({ ...webhookMessage, member: { roles: [] } }, ctx());
    expect(upsertRows(changes, 'members')).toEqual([]);
    expect(upsertRows(changes, 'users')).toEqual([]);
  });

  it('webhook_id: null is not a webhook message', () => {
    const changes = MESSAGE_CREATE({ ...webhookMessage, webhook_id: null }, ctx());
    expect(upsertRows(changes, 'users').map((u) => u.id)).toEqual(['300', '200']);
  });

  it('a DM message (no guild_id) creates the user but no member', () => {
    const changes = MESSAGE_CREATE(
      { id: '501', channel_id: '8', author: { id: '200', username: 'u' }, member: { roles: [] }, content: 'hi' },
      ctx(),
    );
    expect(kinds(changes)).toEqual(['upsert:users', 'upsert:messages', 'update:channels', 'update:threads']);
    expect('guild_id' in onlyUpsert(changes, 'messages')).toBe(false);
  });

  it('names the offending field', () => {
    const base = { id: '501', channel_id: '8', author: { id: '200' } };
    expect(thrown(() => MESSAGE_CREATE({ ...base, id: 501 }, ctx())).message).toBe(
      'body[0].d.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
    expect(thrown(() => MESSAGE_CREATE({ ...base, channel_id: undefined }, ctx())).message).toBe(
      'body[0].d.channel_id is required (a snowflake string)',
    );
    expect(thrown(() => MESSAGE_CREATE({ ...base, author: { id: '2x' } }, ctx())).message).toBe(
      'body[0].d.author.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
    expect(thrown(() => MESSAGE_CREATE({ ...base, mentions: [{ id: '1' }, { id: 2 }] }, ctx())).message).toBe(
      'body[0].d.mentions[1].id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
    expect(thrown(() => MESSAGE_CREATE({ ...base, guild_id: '1', member: { joined_at: 'never' } }, ctx())).message).toBe(
      'body[0].d.member.joined_at must be an ISO-8601 timestamp string or null',
    );
  });
});

describe('MESSAGE_UPDATE (recorded)', () => {
  it('edited_timestamp: null is a real update: the message row is upserted with the null', () => {
    const changes = MESSAGE_UPDATE(captureD('message_update', 0), ctx());
    expect(kinds(changes)).toEqual(['upsert:users', 'upsert:members', 'upsert:messages']);
    const row = onlyUpsert(changes, 'messages');
    expect('edited_timestamp' in row).toBe(true);
    expect(row.edited_timestamp).toBeNull();
    expect(row).toMatchObject({ id: '900000000000000088', channel_id: '900000000000000004', flags: 32, content: 'content_5' });
  });

  it('does not move last_message_id or counts (an update is not a new message)', () => {
    const changes = MESSAGE_UPDATE(captureD('message_update', 1), ctx());
    expect(changes.some((c) => c.kind === 'update')).toBe(false);
  });

  it('ignores the thread the update carries (not a message column)', () => {
    const row = onlyUpsert(MESSAGE_UPDATE(captureD('message_update', 1), ctx()), 'messages');
    expect('thread' in row).toBe(false);
    expect(row.flags).toBe(0);
  });
});

describe('MESSAGE_UPDATE (partial, hand-made)', () => {
  it('writes only the keys present', () => {
    expect(MESSAGE_UPDATE({ id: '500', channel_id: '50', content: 'edited' }, ctx())).toEqual([
      { kind: 'upsert', table: 'messages', row: { id: '500', channel_id: '50', content: 'edited' } },
    ]);
  });

  it('a key present with null sets null', () => {
    const row = onlyUpsert(
      MESSAGE_UPDATE({ id: '500', channel_id: '50', embeds: null, edited_timestamp: null, pinned: null }, ctx()),
      'messages',
    );
    expect(row).toEqual({ id: '500', channel_id: '50', embeds: null, edited_timestamp: null, pinned: null });
  });

  it('an update with an author upserts the user and sets author_id', () => {
    const changes = MESSAGE_UPDATE({ id: '500', channel_id: '50', author: { id: '200', username: 'u' } }, ctx());
    expect(changes).toEqual([
      { kind: 'upsert', table: 'users', row: { id: '200', username: 'u' } },
      {
        kind: 'upsert',
        table: 'messages',
        row: { id: '500', channel_id: '50', author_id: '200', author: '{"id":"200","username":"u"}' },
      },
    ]);
  });

  it('author: null is not an author', () => {
    const changes = MESSAGE_UPDATE({ id: '500', channel_id: '50', author: null }, ctx());
    expect(changes).toEqual([{ kind: 'upsert', table: 'messages', row: { id: '500', channel_id: '50', author: null } }]);
  });
});

describe('MESSAGE_DELETE / MESSAGE_DELETE_BULK', () => {
  it('deletes the recorded message by id', () => {
    expect(MESSAGE_DELETE(captureD('message_delete'), ctx())).toEqual([
      { kind: 'delete', table: 'messages', key: { id: '900000000000000090' } },
    ]);
  });

  it('deletes each listed id in order', () => {
    expect(MESSAGE_DELETE_BULK({ ids: ['1', '2', '3'], channel_id: '50' }, ctx())).toEqual([
      { kind: 'delete', table: 'messages', key: { id: '1' } },
      { kind: 'delete', table: 'messages', key: { id: '2' } },
      { kind: 'delete', table: 'messages', key: { id: '3' } },
    ]);
    expect(MESSAGE_DELETE_BULK({ ids: [], channel_id: '50' }, ctx())).toEqual([]);
  });

  it('names a bad id', () => {
    expect(thrown(() => MESSAGE_DELETE_BULK({ ids: ['1', 2] }, ctx())).message).toBe(
      'body[0].d.ids[1] must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
    expect(thrown(() => MESSAGE_DELETE_BULK({}, ctx())).message).toBe('body[0].d.ids is required (an array)');
    expect(thrown(() => MESSAGE_DELETE({}, ctx())).message).toBe('body[0].d.id is required (a snowflake string)');
  });
});
