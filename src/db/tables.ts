/**
 * One description per cache table: what the rest of the code needs to know about it beyond its columns
 * (those are in `schema.ts`). Cascades, the cached scope, the resource routes and their OpenAPI document,
 * the shape of the objects returned and the typed client's methods are all derived from it.
 *
 * Plain data with type-only imports: the typed client (`src/client/`) imports it too, without pulling in
 * Drizzle or the service.
 */
import type {
  DiscordChannel,
  DiscordGuild,
  DiscordMember,
  DiscordMessage,
  DiscordPresenceUpdate,
  DiscordUnavailableGuild,
  DiscordUser,
  DiscordVoiceState,
} from '@discordeno/types';
import type {
  channels,
  guilds,
  members,
  messages,
  presences,
  threads,
  unavailableGuilds,
  users,
  voiceStates,
} from './schema.js';

/** The GET of one object (and its PUT and DELETE). Each `:param` of `path` stands for the column `params[param]`. */
export interface OneRoute {
  path: string;
  params: Readonly<Record<string, string>>;
}

/** A list. Its `:params` are column filters; `filters` are optional `?column=` filters. */
export interface ListRoute {
  path: string;
  params: Readonly<Record<string, string>>;
  /** Order (and keyset paging) column. */
  key: string;
  order: 'asc' | 'desc';
  /** Keyset paged (`limit` and `after`, or `before` for descending lists), or returned whole. */
  paged: boolean;
  filters?: readonly string[];
  summary: string;
  /** Name of the client's method that walks every page (paged lists only). */
  iterate?: string;
}

export interface TableDescriptor {
  /** What one row is called in messages (`member 42 is not cached`). */
  kind: string;
  /** OpenAPI tag, and the name of the object's schema. */
  tag: string;
  object: string;
  /** The typed client's group (`cache.voiceStates`). */
  client: string;
  /** Owner columns: a guild's rows go with the guild; a channel's (or thread's) rows go with it. */
  guild?: string;
  channel?: string;
  /** Rows that are channels: deleting them takes the rows that belong to them (`channel` of other tables). */
  isChannel?: boolean;
  /** Columns that are not properties of the Discord object (keys it renders otherwise, e.g. as `user`). */
  hidden: readonly string[];
  /** Columns computed from the object, never taken as sent (`messages.author_id` from `author.id`). */
  derived: readonly string[];
  /**
   * Discord's "present, nullable" properties (`T | null`): returned as `null` when the column is NULL. Other
   * properties are optional in Discord's types (`T?`) and left out when NULL. Derived from `@discordeno/types`
   * by `nullableOf` (the compiler checks the list).
   */
  nullable: readonly string[];
  one: OneRoute;
  /** Client method name → list. */
  lists: Readonly<Record<string, ListRoute>>;
  /** A PUT without a body (`PUT /v1/unavailable-guilds/:guildId`). */
  emptyBody?: boolean;
}

/** Keys of `T` that are required and may be null. */
type RequiredNullable<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : null extends T[K] ? K : never }[keyof T];

/**
 * The nullable columns of a table, checked against Discordeno's type of its object: the record must name
 * exactly the required-and-nullable properties that have a column (one missing, or one too many, is a type
 * error, so a change in `@discordeno/types` is noticed).
 */
const nullableOf =
  <Discord, Row>() =>
  (keys: Record<Extract<RequiredNullable<Discord>, keyof Row>, true>): string[] =>
    Object.keys(keys);

type Select<T extends { $inferSelect: unknown }> = T['$inferSelect'];

export const TABLES = {
  users: {
    kind: 'user',
    tag: 'users',
    object: 'User',
    client: 'users',
    hidden: [],
    derived: [],
    nullable: nullableOf<DiscordUser, Select<typeof users>>()({ global_name: true, avatar: true }),
    one: { path: '/users/:userId', params: { userId: 'id' } },
    lists: {},
  },
  guilds: {
    kind: 'guild',
    tag: 'guilds',
    object: 'Guild',
    client: 'guilds',
    guild: 'id',
    hidden: [],
    derived: [],
    nullable: nullableOf<DiscordGuild, Select<typeof guilds>>()({
      icon: true,
      splash: true,
      discovery_splash: true,
      afk_channel_id: true,
      application_id: true,
      system_channel_id: true,
      rules_channel_id: true,
      vanity_url_code: true,
      description: true,
      banner: true,
      public_updates_channel_id: true,
      safety_alerts_channel_id: true,
    }),
    one: { path: '/guilds/:guildId', params: { guildId: 'id' } },
    lists: {
      list: { path: '/guilds', params: {}, key: 'id', order: 'asc', paged: true, iterate: 'iterate', summary: 'Cached guilds, by id ascending' },
    },
  },
  members: {
    kind: 'member',
    tag: 'members',
    object: 'Member',
    client: 'members',
    guild: 'guild_id',
    hidden: ['guild_id', 'user_id'],
    derived: [],
    nullable: nullableOf<DiscordMember, Select<typeof members>>()({}),
    one: { path: '/guilds/:guildId/members/:userId', params: { guildId: 'guild_id', userId: 'user_id' } },
    lists: {
      list: {
        path: '/guilds/:guildId/members',
        params: { guildId: 'guild_id' },
        key: 'user_id',
        order: 'asc',
        paged: true,
        iterate: 'iterate',
        summary: "A guild's cached members, by user id ascending (`user` is the cached user or `{ id }`)",
      },
    },
  },
  channels: {
    kind: 'channel',
    tag: 'channels',
    object: 'Channel',
    client: 'channels',
    guild: 'guild_id',
    isChannel: true,
    hidden: [],
    derived: [],
    nullable: nullableOf<DiscordChannel, Select<typeof channels>>()({}),
    one: { path: '/channels/:channelId', params: { channelId: 'id' } },
    lists: {
      // Not paged: Discord caps a guild at 500 channels.
      list: {
        path: '/guilds/:guildId/channels',
        params: { guildId: 'guild_id' },
        key: 'id',
        order: 'asc',
        paged: false,
        summary: 'Every cached channel of a guild, by id (threads: /v1/guilds/:guildId/threads)',
      },
    },
  },
  threads: {
    kind: 'thread',
    tag: 'threads',
    object: 'Thread',
    client: 'threads',
    guild: 'guild_id',
    channel: 'parent_id',
    isChannel: true,
    hidden: [],
    derived: [],
    nullable: nullableOf<DiscordChannel, Select<typeof threads>>()({}),
    one: { path: '/threads/:threadId', params: { threadId: 'id' } },
    lists: {
      // Not paged: the cache holds the threads the gateway reports (active ones, and those updated since).
      list: {
        path: '/guilds/:guildId/threads',
        params: { guildId: 'guild_id' },
        key: 'id',
        order: 'asc',
        paged: false,
        filters: ['parent_id'],
        summary: 'Every cached thread of a guild, by id; `parent_id` keeps those of one channel',
      },
    },
  },
  messages: {
    kind: 'message',
    tag: 'messages',
    object: 'Message',
    client: 'messages',
    guild: 'guild_id',
    channel: 'channel_id',
    hidden: ['author_id'],
    derived: ['author_id'],
    nullable: nullableOf<DiscordMessage, Select<typeof messages>>()({ edited_timestamp: true }),
    one: { path: '/channels/:channelId/messages/:messageId', params: { channelId: 'channel_id', messageId: 'id' } },
    lists: {
      list: {
        path: '/channels/:channelId/messages',
        params: { channelId: 'channel_id' },
        key: 'id',
        order: 'desc',
        paged: true,
        iterate: 'iterate',
        summary: "A channel's (or thread's) cached messages, newest first",
      },
    },
  },
  presences: {
    kind: 'presence',
    tag: 'presences',
    object: 'Presence',
    client: 'presences',
    guild: 'guild_id',
    hidden: ['user_id'],
    derived: [],
    nullable: nullableOf<DiscordPresenceUpdate, Select<typeof presences>>()({}),
    one: { path: '/guilds/:guildId/presences/:userId', params: { guildId: 'guild_id', userId: 'user_id' } },
    lists: {
      list: {
        path: '/guilds/:guildId/presences',
        params: { guildId: 'guild_id' },
        key: 'user_id',
        order: 'asc',
        paged: true,
        iterate: 'iterate',
        summary: "A guild's cached presences, by user id ascending",
      },
    },
  },
  unavailable_guilds: {
    kind: 'unavailable guild',
    tag: 'unavailable guilds',
    object: 'UnavailableGuild',
    client: 'unavailableGuilds',
    guild: 'id',
    hidden: [],
    derived: [],
    nullable: nullableOf<DiscordUnavailableGuild, Select<typeof unavailableGuilds>>()({}),
    one: { path: '/unavailable-guilds/:guildId', params: { guildId: 'id' } },
    lists: {
      // Paged like the other id-ordered lists: a large bot can have many guilds in an outage.
      list: { path: '/unavailable-guilds', params: {}, key: 'id', order: 'asc', paged: true, iterate: 'iterate', summary: 'Guilds in an outage, by id ascending' },
    },
    emptyBody: true,
  },
  voice_states: {
    kind: 'voice state',
    tag: 'voice states',
    object: 'VoiceState',
    client: 'voiceStates',
    guild: 'guild_id',
    channel: 'channel_id',
    hidden: [],
    derived: [],
    nullable: nullableOf<DiscordVoiceState, Select<typeof voiceStates>>()({ channel_id: true, request_to_speak_timestamp: true }),
    one: { path: '/guilds/:guildId/voice-states/:userId', params: { guildId: 'guild_id', userId: 'user_id' } },
    lists: {
      list: {
        path: '/guilds/:guildId/voice-states',
        params: { guildId: 'guild_id' },
        key: 'user_id',
        order: 'asc',
        paged: true,
        iterate: 'iterate',
        summary: "A guild's voice states (who is connected where), by user id ascending",
      },
      inChannel: {
        path: '/channels/:channelId/voice-states',
        params: { channelId: 'channel_id' },
        key: 'user_id',
        order: 'asc',
        paged: true,
        summary: 'Who is in a voice or stage channel, by user id ascending',
      },
    },
  },
} as const satisfies Record<string, TableDescriptor>;

export type TableName = keyof typeof TABLES;

/** A member as the cache returns it: `user` is the cached user, or only `{ id }` when the user is not cached. */
export type CachedMember = DiscordMember & { user: DiscordUser | { id: string } };

/**
 * The object each table's rows are returned as, in Discordeno's types (the typed client's return types).
 * They hold the properties the cache stores: a property the interface declares as required may be absent.
 */
export interface DiscordObjects {
  users: DiscordUser;
  guilds: DiscordGuild;
  members: CachedMember;
  channels: DiscordChannel;
  threads: DiscordChannel;
  messages: DiscordMessage;
  presences: DiscordPresenceUpdate;
  unavailable_guilds: DiscordUnavailableGuild;
  voice_states: DiscordVoiceState;
}

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Every table of the schema is described, and nothing else (a type error otherwise). */
export const DESCRIBES_EVERY_TABLE: Equals<TableName, keyof typeof import('./schema.js').tables> = true;
/** …and every table has its object type. */
export const TYPES_EVERY_TABLE: Equals<TableName, keyof DiscordObjects> = true;
export const TABLE_NAMES = Object.keys(TABLES) as TableName[];

/** The descriptor of `name` (widened: code that works on any table). */
export const describe = (name: TableName): TableDescriptor => TABLES[name];
