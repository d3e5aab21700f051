/**
 * The cache tables: the single source of the schema (what the code knows about each: `tables.ts`).
 *
 * Conventions (the rest of the code relies on them):
 * - The TypeScript key of every column equals its SQL name, and for the columns that mirror a Discord property
 *   it equals Discord's own `snake_case` key. `src/discord/columns.ts` derives the payload → row mapping from
 *   these definitions, so adding a column here is all it takes to start caching a property.
 * - Snowflakes are `bigint` (`mode: 'bigint'`, never JS numbers); permissions are `text` (decimal strings).
 * - Nested structures with no query need are `jsonb`; member role ids are `bigint[]`.
 * - No foreign keys: events arrive out of order (a member before its guild). Cascades are the writer's job.
 */
import type {
  DiscordAttachment,
  DiscordAvatarDecorationData,
  DiscordEmbed,
  DiscordEmoji,
  DiscordOverwrite,
  DiscordReaction,
  DiscordRole,
  DiscordThreadMember,
  DiscordThreadMetadata,
  DiscordUser,
} from '@discordeno/types';
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgSequence,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

const snowflake = (name: string) => bigint(name, { mode: 'bigint' });
const time = (name: string) => timestamp(name, { withTimezone: true, mode: 'string' });
const updatedAt = () =>
  timestamp('updated_at', { withTimezone: true, mode: 'string' }).notNull().default(sql`now()`);

export const users = pgTable('users', {
  id: snowflake('id').primaryKey(),
  username: text('username'),
  discriminator: text('discriminator'),
  global_name: text('global_name'),
  avatar: text('avatar'),
  bot: boolean('bot'),
  system: boolean('system'),
  mfa_enabled: boolean('mfa_enabled'),
  banner: text('banner'),
  accent_color: integer('accent_color'),
  locale: text('locale'),
  verified: boolean('verified'),
  email: text('email'),
  flags: integer('flags'),
  premium_type: integer('premium_type'),
  public_flags: integer('public_flags'),
  avatar_decoration_data: jsonb('avatar_decoration_data').$type<DiscordAvatarDecorationData | null>(),
  collectibles: jsonb('collectibles').$type<Record<string, unknown> | null>(),
  primary_guild: jsonb('primary_guild').$type<Record<string, unknown> | null>(),
  updated_at: updatedAt(),
});

export const members = pgTable(
  'members',
  {
    guild_id: snowflake('guild_id').notNull(),
    user_id: snowflake('user_id').notNull(),
    nick: text('nick'),
    avatar: text('avatar'),
    banner: text('banner'),
    roles: bigint('roles', { mode: 'bigint' }).array(),
    joined_at: time('joined_at'),
    premium_since: time('premium_since'),
    deaf: boolean('deaf'),
    mute: boolean('mute'),
    pending: boolean('pending'),
    flags: integer('flags'),
    permissions: text('permissions'),
    communication_disabled_until: time('communication_disabled_until'),
    avatar_decoration_data: jsonb('avatar_decoration_data').$type<DiscordAvatarDecorationData | null>(),
    updated_at: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.guild_id, t.user_id] })],
);

export const guilds = pgTable('guilds', {
  id: snowflake('id').primaryKey(),
  name: text('name'),
  icon: text('icon'),
  icon_hash: text('icon_hash'),
  splash: text('splash'),
  discovery_splash: text('discovery_splash'),
  owner_id: snowflake('owner_id'),
  permissions: text('permissions'),
  afk_channel_id: snowflake('afk_channel_id'),
  afk_timeout: integer('afk_timeout'),
  widget_enabled: boolean('widget_enabled'),
  widget_channel_id: snowflake('widget_channel_id'),
  verification_level: integer('verification_level'),
  default_message_notifications: integer('default_message_notifications'),
  explicit_content_filter: integer('explicit_content_filter'),
  roles: jsonb('roles').$type<DiscordRole[]>(),
  emojis: jsonb('emojis').$type<DiscordEmoji[]>(),
  features: jsonb('features').$type<string[]>(),
  mfa_level: integer('mfa_level'),
  application_id: snowflake('application_id'),
  system_channel_id: snowflake('system_channel_id'),
  system_channel_flags: integer('system_channel_flags'),
  rules_channel_id: snowflake('rules_channel_id'),
  max_presences: integer('max_presences'),
  max_members: integer('max_members'),
  vanity_url_code: text('vanity_url_code'),
  description: text('description'),
  banner: text('banner'),
  premium_tier: integer('premium_tier'),
  premium_subscription_count: integer('premium_subscription_count'),
  preferred_locale: text('preferred_locale'),
  public_updates_channel_id: snowflake('public_updates_channel_id'),
  max_video_channel_users: integer('max_video_channel_users'),
  max_stage_video_channel_users: integer('max_stage_video_channel_users'),
  approximate_member_count: integer('approximate_member_count'),
  approximate_presence_count: integer('approximate_presence_count'),
  welcome_screen: jsonb('welcome_screen').$type<Record<string, unknown> | null>(),
  nsfw_level: integer('nsfw_level'),
  stickers: jsonb('stickers').$type<Record<string, unknown>[]>(),
  premium_progress_bar_enabled: boolean('premium_progress_bar_enabled'),
  safety_alerts_channel_id: snowflake('safety_alerts_channel_id'),
  joined_at: time('joined_at'),
  large: boolean('large'),
  member_count: integer('member_count'),
  updated_at: updatedAt(),
});

export const channels = pgTable(
  'channels',
  {
    id: snowflake('id').primaryKey(),
    type: integer('type'),
    guild_id: snowflake('guild_id'),
    position: integer('position'),
    permission_overwrites: jsonb('permission_overwrites').$type<DiscordOverwrite[]>(),
    name: text('name'),
    topic: text('topic'),
    nsfw: boolean('nsfw'),
    last_message_id: snowflake('last_message_id'),
    bitrate: integer('bitrate'),
    user_limit: integer('user_limit'),
    rate_limit_per_user: integer('rate_limit_per_user'),
    recipients: jsonb('recipients').$type<DiscordUser[]>(),
    icon: text('icon'),
    owner_id: snowflake('owner_id'),
    application_id: snowflake('application_id'),
    managed: boolean('managed'),
    parent_id: snowflake('parent_id'),
    last_pin_timestamp: time('last_pin_timestamp'),
    rtc_region: text('rtc_region'),
    video_quality_mode: integer('video_quality_mode'),
    default_auto_archive_duration: integer('default_auto_archive_duration'),
    permissions: text('permissions'),
    flags: integer('flags'),
    available_tags: jsonb('available_tags').$type<Record<string, unknown>[]>(),
    default_reaction_emoji: jsonb('default_reaction_emoji').$type<Record<string, unknown> | null>(),
    default_thread_rate_limit_per_user: integer('default_thread_rate_limit_per_user'),
    default_sort_order: integer('default_sort_order'),
    default_forum_layout: integer('default_forum_layout'),
    status: text('status'),
    icon_emoji: jsonb('icon_emoji').$type<Record<string, unknown> | null>(),
    updated_at: updatedAt(),
  },
  (t) => [index('channels_guild_id_idx').on(t.guild_id)],
);

export const threads = pgTable(
  'threads',
  {
    id: snowflake('id').primaryKey(),
    type: integer('type'),
    guild_id: snowflake('guild_id'),
    parent_id: snowflake('parent_id'),
    owner_id: snowflake('owner_id'),
    name: text('name'),
    last_message_id: snowflake('last_message_id'),
    last_pin_timestamp: time('last_pin_timestamp'),
    rate_limit_per_user: integer('rate_limit_per_user'),
    message_count: integer('message_count'),
    member_count: integer('member_count'),
    total_message_sent: integer('total_message_sent'),
    thread_metadata: jsonb('thread_metadata').$type<DiscordThreadMetadata>(),
    member: jsonb('member').$type<DiscordThreadMember | null>(),
    flags: integer('flags'),
    applied_tags: jsonb('applied_tags').$type<string[]>(),
    permissions: text('permissions'),
    updated_at: updatedAt(),
  },
  (t) => [index('threads_guild_id_idx').on(t.guild_id), index('threads_parent_id_idx').on(t.parent_id)],
);

export const messages = pgTable(
  'messages',
  {
    id: snowflake('id').primaryKey(),
    channel_id: snowflake('channel_id').notNull(),
    guild_id: snowflake('guild_id'),
    author_id: snowflake('author_id'),
    author: jsonb('author').$type<DiscordUser>(),
    content: text('content'),
    timestamp: time('timestamp'),
    edited_timestamp: time('edited_timestamp'),
    tts: boolean('tts'),
    mention_everyone: boolean('mention_everyone'),
    mentions: jsonb('mentions').$type<DiscordUser[]>(),
    mention_roles: jsonb('mention_roles').$type<string[]>(),
    mention_channels: jsonb('mention_channels').$type<Record<string, unknown>[]>(),
    attachments: jsonb('attachments').$type<DiscordAttachment[]>(),
    embeds: jsonb('embeds').$type<DiscordEmbed[]>(),
    reactions: jsonb('reactions').$type<DiscordReaction[]>(),
    pinned: boolean('pinned'),
    webhook_id: snowflake('webhook_id'),
    type: integer('type'),
    activity: jsonb('activity').$type<Record<string, unknown> | null>(),
    application: jsonb('application').$type<Record<string, unknown> | null>(),
    application_id: snowflake('application_id'),
    message_reference: jsonb('message_reference').$type<Record<string, unknown> | null>(),
    flags: integer('flags'),
    referenced_message: jsonb('referenced_message').$type<Record<string, unknown> | null>(),
    message_snapshots: jsonb('message_snapshots').$type<Record<string, unknown>[]>(),
    interaction_metadata: jsonb('interaction_metadata').$type<Record<string, unknown> | null>(),
    interaction: jsonb('interaction').$type<Record<string, unknown> | null>(),
    components: jsonb('components').$type<Record<string, unknown>[]>(),
    sticker_items: jsonb('sticker_items').$type<Record<string, unknown>[]>(),
    position: integer('position'),
    poll: jsonb('poll').$type<Record<string, unknown> | null>(),
    call: jsonb('call').$type<Record<string, unknown> | null>(),
    updated_at: updatedAt(),
  },
  (t) => [
    index('messages_channel_id_id_idx').on(t.channel_id, t.id),
    index('messages_guild_id_idx').on(t.guild_id),
  ],
);

export const presences = pgTable(
  'presences',
  {
    guild_id: snowflake('guild_id').notNull(),
    user_id: snowflake('user_id').notNull(),
    status: text('status'),
    activities: jsonb('activities').$type<Record<string, unknown>[]>(),
    client_status: jsonb('client_status').$type<Record<string, unknown>>(),
    updated_at: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.guild_id, t.user_id] })],
);

export const voiceStates = pgTable(
  'voice_states',
  {
    guild_id: snowflake('guild_id').notNull(),
    user_id: snowflake('user_id').notNull(),
    channel_id: snowflake('channel_id'),
    session_id: text('session_id'),
    deaf: boolean('deaf'),
    mute: boolean('mute'),
    self_deaf: boolean('self_deaf'),
    self_mute: boolean('self_mute'),
    self_stream: boolean('self_stream'),
    self_video: boolean('self_video'),
    suppress: boolean('suppress'),
    request_to_speak_timestamp: time('request_to_speak_timestamp'),
    updated_at: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.guild_id, t.user_id] }), index('voice_states_channel_id_idx').on(t.channel_id)],
);

export const unavailableGuilds = pgTable('unavailable_guilds', {
  id: snowflake('id').primaryKey(),
  updated_at: updatedAt(),
});

/**
 * Not a cache table: per shard, the gateway session and the last sequence number applied from it, written in
 * the transaction of the events it counts (exactly once for `{ payload, shardId }` forwards; see
 * `cache/sequence.ts`).
 */
export const shardSessions = pgTable('shard_sessions', {
  shard_id: integer('shard_id').primaryKey(),
  session_id: text('session_id'),
  last_sequence: bigint('last_sequence', { mode: 'number' }).notNull(),
  /** Which of the sequence numbers below `last_sequence` were applied (a bit set, hex): forwards may arrive out of order. */
  applied_window: text('applied_window').notNull().default('0'),
  last_event_at: timestamp('last_event_at', { withTimezone: true, mode: 'string' }).notNull().default(sql`now()`),
  events_applied: bigint('events_applied', { mode: 'number' }).notNull().default(0),
});

/**
 * Not a cache table: per guild and GUILD_CREATE part (channels, members, …), a digest of the part last
 * written, written in the same transaction, so an unchanged part of a later GUILD_CREATE is not written
 * again (see `cache/snapshots.ts`). Rows go when anything else writes that part's tables for that guild.
 */
export const guildSnapshots = pgTable(
  'guild_snapshots',
  {
    guild_id: snowflake('guild_id').notNull(),
    part: text('part').notNull(),
    digest: text('digest').notNull(),
  },
  (t) => [primaryKey({ columns: [t.guild_id, t.part] })],
);

/**
 * Not a cache table: the instances that write shards (TOTAL_SHARDS set), one row per running instance. The
 * leases themselves are PostgreSQL advisory locks held by each instance's lease session (`db/leases.ts`);
 * this row says which session is whose (`session_pid`), where the instance answers (`advertise_url`, for 421
 * answers and GET /v1/shards) and which shards it was started for (it is a standby for those it does not hold).
 */
export const shardWriters = pgTable('shard_writers', {
  instance_id: text('instance_id').primaryKey(),
  advertise_url: text('advertise_url'),
  total_shards: integer('total_shards').notNull(),
  shards: integer('shards').array().notNull(),
  session_pid: integer('session_pid').notNull(),
  session_started: timestamp('session_started', { withTimezone: true, mode: 'string' }),
  started_at: timestamp('started_at', { withTimezone: true, mode: 'string' }).notNull().default(sql`now()`),
});

/**
 * The ids of the change feed (`GET /v1/changes`): every commit that changed something takes the next value in
 * its own transaction. One sequence for every instance on the database, so ids are comparable across them.
 */
export const changeFeedIds = pgSequence('change_feed_id');

/** Every cache table by its SQL name. */
export const tables = {
  users,
  members,
  guilds,
  channels,
  threads,
  messages,
  presences,
  unavailable_guilds: unavailableGuilds,
  voice_states: voiceStates,
} as const;

export type TableName = keyof typeof tables;
export const tableNames = Object.keys(tables) as TableName[];
