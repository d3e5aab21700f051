/**
 * Workload (5)'s input: ordinary GUILD_CREATEs as a bot receives them at startup, forwarded the way a Discordeno
 * big bot's gateway workers hand them to the event handler, `{ payload, shardId }`, with a sequence number `s`
 * per shard (READY is 1) and shard = (guild_id >> 22) % shards.
 *
 * Each guild carries every property a real GUILD_CREATE has (the key set of the capture in
 * tests/fixtures/discord-captures/gateway_guild_create.json, checked by `missingGuildKeys`), and the shape of
 * the issue: 30 channels (3 categories, text, an announcement channel, a forum, voice, a stage) with 3
 * permission overwrites each, 20 roles, 30 emojis, a sticker, 2 threads, 20 members with their users and 10
 * presences. Ids are snowflakes of their own kinds (low bits 6–11), so they never meet the other workloads' ids.
 * Each user is a member of two guilds (as in real bots, users are shared).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { GuildSetCounts } from './db.js';
import { hash, iso, snowflake, userObject } from './payloads.js';

export const STORM_SHAPE = { channels: 30, overwrites: 3, roles: 20, emojis: 30, threads: 2, members: 20, presences: 10 } as const;

const D2017 = Date.UTC(2017, 0, 1);
const D2019 = Date.UTC(2019, 0, 1);
const D2025 = Date.UTC(2025, 0, 1);
const DAY = 86_400_000;

/** Ids of guild `k` (`k` < 10^6 for the timed guilds; the warm-up takes k ≥ 10^6) and of storm user `u`. */
export const stormIds = {
  /** Consecutive guilds are 1,013 ms apart: odd, so their shards cycle through every shard. */
  guild: (k: number) => snowflake(D2019 + k * 1_013, 6),
  channel: (k: number, c: number) => snowflake(D2019 + 90 * DAY + k * 100 + c, 7),
  role: (k: number, r: number) => (r === 0 ? stormIds.guild(k) : snowflake(D2019 + 30 * DAY + k * 100 + r, 8)),
  emoji: (k: number, e: number) => snowflake(D2019 + 60 * DAY + k * 100 + e, 9),
  thread: (k: number, t: number) => snowflake(D2025 + k * 100 + t, 10),
  user: (u: number) => snowflake(D2017 + u * 1_000, 11),
  /** A message id for `last_message_id`s (no such message is cached: the service keeps the id as sent). */
  message: (k: number, c: number) => snowflake(D2025 + 200 * DAY + k * 100 + c, 12),
};

export const shardOf = (guildId: string, shards: number) => Number((BigInt(guildId) >> 22n) % BigInt(shards));

const perms = (n: number) => String(n);
const VIEW = 1 << 10;
const SEND = 1 << 11;

function overwrites(k: number, c: number, memberUser: string): Record<string, unknown>[] {
  return [
    { id: stormIds.guild(k), type: 0, allow: perms(c % 10 === 1 ? VIEW : 0), deny: perms(c % 10 === 1 ? SEND : 0) },
    { id: stormIds.role(k, 2 + (c % (STORM_SHAPE.roles - 2))), type: 0, allow: perms(VIEW | SEND), deny: '0' },
    { id: memberUser, type: 1, allow: perms(VIEW | SEND | (1 << 13)), deny: '0' },
  ];
}

/** Channel `c` of guild `k`: 0, 10, 20 categories; 2 announcement; 19 forum; 21–28 voice; 29 stage; the rest text. */
function channel(k: number, c: number, memberUser: string): Record<string, unknown> {
  const common = {
    version: 1_770_595_006_719 + c,
    id: stormIds.channel(k, c),
    name: `channel-${c}`,
    position: c % 10,
    permission_overwrites: overwrites(k, c, memberUser),
    flags: 0,
  };
  if (c % 10 === 0) return { ...common, type: 4, name: ['Information', 'Community', 'Voice'][c / 10] ?? `category-${c}` };
  const parent_id = stormIds.channel(k, c - (c % 10));
  if (c === 19) {
    return {
      ...common,
      type: 15,
      parent_id,
      topic: 'Ask anything',
      template: '',
      rate_limit_per_user: 0,
      nsfw: false,
      last_message_id: stormIds.message(k, c),
      default_tag_setting: 'match_some',
      default_reaction_emoji: { emoji_id: null, emoji_name: '👍' },
      available_tags: [
        { id: stormIds.message(k, 90), name: 'question', moderated: false, emoji_id: null, emoji_name: null, color: null },
        { id: stormIds.message(k, 91), name: 'solved', moderated: true, emoji_id: null, emoji_name: '✅', color: null },
      ],
      default_sort_order: null,
      default_forum_layout: 0,
    };
  }
  if (c > 20) {
    return {
      ...common,
      type: c === 29 ? 13 : 2,
      parent_id,
      bitrate: 64_000,
      user_limit: c % 3 === 0 ? 10 : 0,
      rtc_region: null,
      rate_limit_per_user: 0,
      nsfw: false,
      last_message_id: c % 2 === 0 ? stormIds.message(k, c) : null,
      status: null,
      theme_color: null,
      icon_emoji: { id: null, name: 'loud_sound' },
    };
  }
  return {
    ...common,
    type: c === 2 ? 5 : 0,
    parent_id,
    topic: c % 2 === 0 ? `topic of channel ${c}` : null,
    nsfw: false,
    rate_limit_per_user: c === 11 ? 5 : 0,
    last_message_id: stormIds.message(k, c),
    last_pin_timestamp: c % 3 === 0 ? iso(D2025 + k * 1_000 + c) : null,
    theme_color: null,
    icon_emoji: { id: null, name: 'speech_balloon' },
  };
}

function role(k: number, r: number): Record<string, unknown> {
  return {
    version: 1_770_581_841_005 + r,
    id: stormIds.role(k, r),
    name: r === 0 ? '@everyone' : r === 1 ? 'Bot' : `role ${r}`,
    color: r < 2 ? 0 : r * 104_729,
    colors: { primary_color: r < 2 ? 0 : r * 104_729, secondary_color: null, tertiary_color: null },
    hoist: r % 4 === 0 && r > 0,
    icon: null,
    unicode_emoji: null,
    position: r,
    permissions: r === 0 ? '2248473465835073' : r === 1 ? '36700160' : String(104_320 * r),
    managed: r === 1,
    mentionable: r % 2 === 0,
    flags: 0,
    tags: r === 1 ? { bot_id: stormIds.user(999_999) } : {},
  };
}

const STATUSES = ['online', 'idle', 'dnd', 'online', 'offline'] as const;

function presence(k: number, u: number, userId: string): Record<string, unknown> {
  const status = STATUSES[(k + u) % STATUSES.length]!;
  const start = D2025 + ((k * 7 + u) % 100_000) * 1_000;
  const activities =
    status === 'offline'
      ? []
      : [
          { type: 4, state: `status ${u % 100}`, name: 'Custom Status', id: 'custom', created_at: start },
          { type: 0, name: 'Minecraft', id: hash(u).slice(0, 16), created_at: start, timestamps: { start }, application_id: stormIds.user(999_000) },
        ];
  return {
    user: { id: userId },
    status,
    client_status: status === 'offline' ? {} : { [u % 3 === 0 ? 'mobile' : 'desktop']: status },
    broadcast: null,
    activities,
  };
}

/** Guild `k` with members `users` (storm user numbers; the first one owns the guild). */
export function stormGuild(k: number, users: readonly number[]): Record<string, unknown> {
  const guildId = stormIds.guild(k);
  const userIds = users.map((u) => stormIds.user(u));
  const roleIds = Array.from({ length: STORM_SHAPE.roles }, (_, r) => stormIds.role(k, r));
  const members = users.map((u, i) => ({
    user: { ...userObject(u, userIds[i]!), display_name: null },
    roles: i === 0 ? [] : [roleIds[2 + (i % (STORM_SHAPE.roles - 2))]!, ...(i % 3 === 0 ? [roleIds[2 + ((i * 7) % (STORM_SHAPE.roles - 2))]!] : [])].filter((r, j, a) => a.indexOf(r) === j),
    nick: i % 4 === 0 ? `nick ${u}` : null,
    avatar: null,
    banner: null,
    joined_at: iso(D2019 + ((k * 31 + u) % 200_000_000) * 1_000),
    premium_since: i % 9 === 0 ? iso(D2025 + ((k + u) % 1_000) * 60_000) : null,
    deaf: false,
    mute: false,
    pending: false,
    flags: 0,
    communication_disabled_until: null,
  }));
  const threads = Array.from({ length: STORM_SHAPE.threads }, (_, t) => ({
    id: stormIds.thread(k, t),
    guild_id: guildId,
    parent_id: stormIds.channel(k, t === 0 ? 3 : 11),
    owner_id: userIds[t + 1 < userIds.length ? t + 1 : 0],
    type: 11,
    name: `thread ${t}`,
    last_message_id: stormIds.thread(k, t + 50),
    message_count: 2 + t,
    total_message_sent: 3 + t,
    member_count: 1 + t,
    rate_limit_per_user: 0,
    flags: 0,
    thread_metadata: {
      locked: false,
      invitable: true,
      archived: false,
      auto_archive_duration: 4320,
      create_timestamp: iso(D2025 + k * 1_000),
      archive_timestamp: iso(D2025 + k * 1_000),
    },
  }));
  return {
    id: guildId,
    name: `Storm guild ${k}`,
    icon: k % 3 === 0 ? null : hash(k + 7),
    splash: null,
    discovery_splash: null,
    banner: k % 5 === 0 ? hash(k + 8) : null,
    description: k % 2 === 0 ? `A community, number ${k}` : null,
    home_header: null,
    owner_id: userIds[0],
    application_id: null,
    afk_channel_id: stormIds.channel(k, 21),
    afk_timeout: 300,
    verification_level: 1 + (k % 3),
    default_message_notifications: 1,
    explicit_content_filter: 2,
    mfa_level: 0,
    nsfw: false,
    nsfw_level: 0,
    owner_configured_content_level: 0,
    premium_tier: k % 4,
    premium_subscription_count: (k % 4) * 7,
    premium_progress_bar_enabled: false,
    premium_progress_bar_enabled_user_updated_at: null,
    premium_features: null,
    preferred_locale: k % 2 === 0 ? 'en-US' : 'de',
    system_channel_id: stormIds.channel(k, 3),
    system_channel_flags: 0,
    rules_channel_id: stormIds.channel(k, 1),
    public_updates_channel_id: stormIds.channel(k, 2),
    safety_alerts_channel_id: stormIds.channel(k, 2),
    latest_onboarding_question_id: null,
    max_members: 500_000,
    max_video_channel_users: 25,
    max_stage_video_channel_users: 50,
    vanity_url_code: null,
    region: 'deprecated',
    hub_type: null,
    features: k % 2 === 0 ? ['COMMUNITY', 'NEWS', 'GUILD_ONBOARDING', 'SOUNDBOARD'] : ['SOUNDBOARD'],
    incidents_data: null,
    inventory_settings: null,
    moderator_reporting: null,
    profile: null,
    application_command_counts: {},
    activity_instances: [],
    embedded_activities: [],
    roles: roleIds.map((_, r) => role(k, r)),
    emojis: Array.from({ length: STORM_SHAPE.emojis }, (_, e) => ({
      version: 1_767_461_272_845 + e,
      id: stormIds.emoji(k, e),
      name: `emoji_${e}`,
      animated: e % 5 === 0,
      managed: false,
      available: true,
      require_colons: true,
      roles: [],
    })),
    stickers: [
      {
        version: 1_767_617_855_099,
        id: stormIds.emoji(k, 99),
        guild_id: guildId,
        name: 'wave',
        tags: 'wave',
        description: 'hello',
        asset: '',
        format_type: 1,
        type: 2,
        available: true,
      },
    ],
    channels: Array.from({ length: STORM_SHAPE.channels }, (_, c) => channel(k, c, userIds[c % userIds.length]!)),
    threads,
    members,
    presences: users.slice(0, STORM_SHAPE.presences).map((u, i) => presence(k, u, userIds[i]!)),
    voice_states: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
    joined_at: iso(D2025 + k * 60_000),
    large: false,
    lazy: true,
    unavailable: false,
    member_count: STORM_SHAPE.members + (k % 1_000) * 3,
    version: 1_772_236_515_588 + k,
  };
}

export interface StormPlan {
  /** JSON request bodies: arrays of `{ payload, shardId }`. */
  bodies: string[];
  /** Guilds in each body. */
  sizes: number[];
  guildIds: string[];
  /** Distinct member users. */
  userIds: string[];
  /** The rows the cache must hold for these guilds and users afterwards. */
  expected: GuildSetCounts;
  bytes: number;
}

/**
 * `count` guilds from guild number `first`, members drawn from `count × members / 2` users numbered from
 * `userBase` (so every user is in two guilds), in arrays of `arraySize` forwards.
 */
/**
 * `seqBase`: sequence numbers start above it on every shard. The service applies each `s` of a shard once
 * (exactly once for forwards), so passes over the same guilds (a reconnect re-sends them) and the warm-up
 * carry numbers above the previous ones, as a gateway session's do.
 */
export function stormPlan(first: number, count: number, userBase: number, shards: number, arraySize: number, seqBase = 1): StormPlan {
  const users = Math.max(STORM_SHAPE.members, Math.floor((count * STORM_SHAPE.members) / 2));
  const seq = new Array<number>(shards).fill(seqBase);
  const bodies: string[] = [];
  const sizes: number[] = [];
  const guildIds: string[] = [];
  const userSet = new Set<string>();
  const expected: GuildSetCounts = { guilds: 0, channels: 0, threads: 0, members: 0, presences: 0, users: 0, roles: 0, emojis: 0, overwrites: 0 };
  let bytes = 0;
  for (let start = 0; start < count; start += arraySize) {
    const forwards = [];
    for (let i = start; i < Math.min(count, start + arraySize); i++) {
      const memberUsers = Array.from({ length: STORM_SHAPE.members }, (_, m) => userBase + ((i * STORM_SHAPE.members + m) % users));
      const d = stormGuild(first + i, memberUsers);
      const id = d.id as string;
      const shardId = shardOf(id, shards);
      forwards.push({ payload: { op: 0, t: 'GUILD_CREATE', s: ++seq[shardId]!, d }, shardId });
      guildIds.push(id);
      for (const u of memberUsers) userSet.add(stormIds.user(u));
      const channels = d.channels as { permission_overwrites: unknown[] }[];
      expected.guilds++;
      expected.channels += channels.length;
      expected.overwrites += channels.reduce((n, c) => n + c.permission_overwrites.length, 0);
      expected.threads += (d.threads as unknown[]).length;
      expected.members += (d.members as unknown[]).length;
      expected.presences += (d.presences as unknown[]).length;
      expected.roles += (d.roles as unknown[]).length;
      expected.emojis += (d.emojis as unknown[]).length;
    }
    const body = JSON.stringify(forwards);
    bytes += Buffer.byteLength(body);
    bodies.push(body);
    sizes.push(forwards.length);
  }
  expected.users = userSet.size;
  return { bodies, sizes, guildIds, userIds: [...userSet], expected, bytes };
}

/** Keys of the captured real GUILD_CREATEs that `guild` lacks (the storm promises every guild field). */
export function missingGuildKeys(root: string, guild: Record<string, unknown>): string[] {
  const file = path.join(root, 'tests/fixtures/discord-captures/gateway_guild_create.json');
  const captures = JSON.parse(readFileSync(file, 'utf8')) as { d: Record<string, unknown> }[];
  const keys = new Set(captures.flatMap((c) => Object.keys(c.d)));
  return [...keys].filter((k) => !(k in guild)).sort();
}
