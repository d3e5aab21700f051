/**
 * Synthetic gateway payloads for the benchmark, generated in code (deterministic, seeded). Shapes follow real
 * Discord dispatches (extra keys such as `collectibles`, `display_name_styles`, `nonce`, `version` included),
 * over a fixed id space: guilds × channels × roles, and a user population.
 */

export interface GatewayPayload {
  op: 0;
  t: string;
  s: number;
  d: Record<string, unknown>;
}

export interface IdSpace {
  guilds: number;
  users: number;
  /** Channel 0 of each guild is a category (type 4), the others are text channels (type 0). */
  channelsPerGuild: number;
  rolesPerGuild: number;
}

export const DEFAULT_SPACE: IdSpace = { guilds: 20, users: 50_000, channelsPerGuild: 10, rolesPerGuild: 10 };

/** Share of each event type in the mixed workloads (the rest is MESSAGE_CREATE). */
export const MIX = { presence: 0.4, memberUpdate: 0.2 } as const;
export const MIX_LABEL = '40% PRESENCE_UPDATE, 20% GUILD_MEMBER_UPDATE, 40% MESSAGE_CREATE';

const DISCORD_EPOCH = 1_420_070_400_000n;

/** A snowflake for a millisecond timestamp; `tag` (< 2^22) fills the low bits so id kinds never collide. */
export function snowflake(ms: number, tag: number): string {
  return (((BigInt(ms) - DISCORD_EPOCH) << 22n) | BigInt(tag)).toString();
}

const D2016 = Date.UTC(2016, 0, 1);
const D2018 = Date.UTC(2018, 0, 1);
const D2020 = Date.UTC(2020, 0, 1);
const D2026 = Date.UTC(2026, 0, 1);

export const ids = {
  guild: (g: number) => snowflake(D2018 + g * 3_600_000, 1),
  channel: (g: number, c: number) => snowflake(D2018 + 400 * 86_400_000 + g * 10_000 + c, 2),
  role: (g: number, r: number) => snowflake(D2018 + 200 * 86_400_000 + g * 10_000 + r, 3),
  user: (u: number) => snowflake(D2016 + u * 1_000, 4),
  message: (seq: number) => snowflake(D2026 + seq, 5),
};

/** mulberry32: small, fast, deterministic. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** A 32-hex-digit asset hash derived from `n`. */
export function hash(n: number): string {
  let out = '';
  let x = (n * 2_654_435_761) >>> 0;
  for (let i = 0; i < 4; i++) {
    x = (Math.imul(x ^ (x >>> 13), 0x5bd1e995) + i) >>> 0;
    out += x.toString(16).padStart(8, '0');
  }
  return out;
}

export const iso = (ms: number) => new Date(ms).toISOString();

/** A full user object as carried by members, message authors and mentions (`id` defaults to `ids.user(u)`). */
export function userObject(u: number, id = ids.user(u)): Record<string, unknown> {
  return {
    id,
    username: `user_${u}`,
    discriminator: '0',
    global_name: u % 3 === 0 ? null : `Display Name ${u}`,
    avatar: u % 4 === 0 ? null : hash(u),
    avatar_decoration_data: u % 7 === 0 ? { asset: hash(u + 1), sku_id: ids.role(999, u % 1000), expires_at: null } : null,
    collectibles: null,
    display_name_styles: null,
    primary_guild:
      u % 5 === 0
        ? { identity_guild_id: ids.guild(u % 20), identity_enabled: true, tag: `T${u % 100}`, badge: hash(u + 2) }
        : null,
    clan: null,
    public_flags: u % 11 === 0 ? 64 : 0,
    ...(u % 97 === 0 ? { bot: true } : {}),
  };
}

/** Deterministic join date of user `u` in guild `g`. */
const joinedAt = (g: number, u: number) => iso(D2020 + ((u * 31 + g * 17) % 100_000_000) * 1_000);

function memberRoles(rng: Rng, space: IdSpace, g: number): string[] {
  const n = rng.int(4);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = ids.role(g, 1 + rng.int(space.rolesPerGuild - 1));
    if (!out.includes(r)) out.push(r);
  }
  return out;
}

/** The member fields every member object carries (without `user`). */
function memberFields(rng: Rng, space: IdSpace, g: number, u: number): Record<string, unknown> {
  return {
    roles: memberRoles(rng, space, g),
    nick: rng.next() < 0.2 ? `nick_${u}_${rng.int(10)}` : null,
    avatar: null,
    banner: null,
    joined_at: joinedAt(g, u),
    premium_since: u % 50 === 0 ? joinedAt(g + 1, u) : null,
    pending: false,
    flags: 0,
    communication_disabled_until: null,
  };
}

const STATUSES = ['online', 'online', 'online', 'idle', 'dnd', 'offline'] as const;
const GAMES = ['Minecraft', 'Visual Studio Code', 'Spotify', 'Counter-Strike 2', 'Elden Ring', 'Factorio'] as const;

export interface EventGenOptions {
  seed: number;
  /** First message sequence number: give each generator its own range so message ids never repeat. */
  messageSeqStart: number;
  space?: IdSpace;
}

/** An endless stream of the mixed workload: PRESENCE_UPDATE, GUILD_MEMBER_UPDATE, MESSAGE_CREATE. */
export class EventGen {
  private readonly rng: Rng;
  private readonly space: IdSpace;
  private messageSeq: number;
  private s = 100;

  constructor(options: EventGenOptions) {
    this.rng = new Rng(options.seed);
    this.space = options.space ?? DEFAULT_SPACE;
    this.messageSeq = options.messageSeqStart;
  }

  /** A user and one of the two guilds the user is a member of. */
  private userAndGuild(): [number, number] {
    const u = this.rng.int(this.space.users);
    const g = this.rng.next() < 0.5 ? u % this.space.guilds : (u * 7 + 3) % this.space.guilds;
    return [u, g];
  }

  next(): GatewayPayload {
    const r = this.rng.next();
    if (r < MIX.presence) return this.presenceUpdate();
    if (r < MIX.presence + MIX.memberUpdate) return this.memberUpdate();
    return this.messageCreate();
  }

  take(n: number): GatewayPayload[] {
    const out: GatewayPayload[] = [];
    for (let i = 0; i < n; i++) out.push(this.next());
    return out;
  }

  presenceUpdate(): GatewayPayload {
    const [u, g] = this.userAndGuild();
    const status = this.rng.pick(STATUSES);
    const activities: Record<string, unknown>[] = [];
    if (status !== 'offline' && this.rng.next() < 0.6) {
      activities.push({
        name: this.rng.pick(GAMES),
        type: 0,
        id: hash(u).slice(0, 16),
        created_at: Date.now() - this.rng.int(3_600_000),
        timestamps: { start: Date.now() - this.rng.int(7_200_000) },
      });
    }
    if (status !== 'offline' && this.rng.next() < 0.3) {
      activities.push({ name: 'Custom Status', type: 4, id: 'custom', state: `status ${this.rng.int(1000)}`, created_at: Date.now() });
    }
    const clientStatus: Record<string, string> = {};
    if (status !== 'offline') clientStatus[this.rng.next() < 0.7 ? 'desktop' : 'mobile'] = status;
    return {
      op: 0,
      t: 'PRESENCE_UPDATE',
      s: this.s++,
      d: { user: { id: ids.user(u) }, guild_id: ids.guild(g), status, activities, client_status: clientStatus },
    };
  }

  memberUpdate(): GatewayPayload {
    const [u, g] = this.userAndGuild();
    return {
      op: 0,
      t: 'GUILD_MEMBER_UPDATE',
      s: this.s++,
      d: {
        guild_id: ids.guild(g),
        user: userObject(u),
        ...memberFields(this.rng, this.space, g, u),
        collectibles: null,
        display_name_styles: null,
        unusual_dm_activity_until: null,
      },
    };
  }

  messageCreate(): GatewayPayload {
    const [u, g] = this.userAndGuild();
    const channel = ids.channel(g, 1 + this.rng.int(this.space.channelsPerGuild - 1));
    const seq = this.messageSeq++;
    const mentions = this.rng.next() < 0.1 ? [userObject(this.rng.int(this.space.users))] : [];
    return {
      op: 0,
      t: 'MESSAGE_CREATE',
      s: this.s++,
      d: {
        id: ids.message(seq),
        channel_id: channel,
        guild_id: ids.guild(g),
        channel_type: 0,
        author: userObject(u),
        member: { ...memberFields(this.rng, this.space, g, u), deaf: false, mute: false },
        content: `message ${seq} ` + 'lorem ipsum dolor sit amet '.repeat(1 + this.rng.int(4)),
        timestamp: iso(D2026 + seq),
        edited_timestamp: null,
        tts: false,
        mention_everyone: false,
        mentions,
        mention_roles: [],
        attachments: [],
        embeds: [],
        components: [],
        pinned: false,
        type: 0,
        flags: 0,
        nonce: String(seq),
      },
    };
  }
}

export interface GuildCreateOptions {
  space?: IdSpace;
  /** Guild index (ids.guild). */
  guild: number;
  channels: number;
  roles: number;
  /** User indices of the members (each carries its full user object). */
  memberUsers: Iterable<number>;
  seed: number;
}

/** A GUILD_CREATE with channels (one category, the rest text channels), roles and members with users. */
export function guildCreate(options: GuildCreateOptions): GatewayPayload {
  const space = options.space ?? DEFAULT_SPACE;
  const rng = new Rng(options.seed);
  const g = options.guild;
  const roles = [];
  for (let r = 0; r < options.roles; r++) {
    roles.push({
      id: r === 0 ? ids.guild(g) : ids.role(g, r),
      name: r === 0 ? '@everyone' : `role_${r}`,
      color: r * 1111,
      colors: { primary_color: r * 1111, secondary_color: null, tertiary_color: null },
      hoist: r % 3 === 0,
      icon: null,
      unicode_emoji: null,
      position: r,
      permissions: '2248473465835073',
      managed: false,
      mentionable: false,
      flags: 0,
      tags: {},
      version: 1_770_595_006_662 + r,
    });
  }
  const channels = [];
  for (let c = 0; c < options.channels; c++) {
    channels.push(
      c === 0
        ? { id: ids.channel(g, 0), type: 4, name: 'Text Channels', position: 0, flags: 0, permission_overwrites: [], version: 1 }
        : {
            id: ids.channel(g, c),
            type: 0,
            name: `channel-${c}`,
            parent_id: ids.channel(g, 0),
            position: c,
            topic: c % 2 === 0 ? `topic ${c}` : null,
            nsfw: false,
            rate_limit_per_user: 0,
            last_message_id: null,
            flags: 0,
            permission_overwrites: c % 4 === 0 ? [{ id: ids.guild(g), type: 0, allow: '0', deny: '1024' }] : [],
            icon_emoji: { id: null, name: 'speech_balloon' },
            version: 1_770_595_006_719 + c,
          },
    );
  }
  const members = [];
  for (const u of options.memberUsers) {
    members.push({ user: userObject(u), ...memberFields(rng, { ...space, rolesPerGuild: options.roles }, g, u), deaf: false, mute: false });
  }
  return {
    op: 0,
    t: 'GUILD_CREATE',
    s: 2,
    d: {
      id: ids.guild(g),
      name: `Guild ${g}`,
      icon: hash(g),
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: ids.user(g),
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 1,
      default_message_notifications: 1,
      explicit_content_filter: 2,
      mfa_level: 0,
      nsfw_level: 0,
      premium_tier: 1,
      premium_subscription_count: 3,
      premium_progress_bar_enabled: false,
      preferred_locale: 'en-US',
      system_channel_id: ids.channel(g, 1),
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      max_members: 500_000,
      max_video_channel_users: 25,
      max_stage_video_channel_users: 50,
      vanity_url_code: null,
      application_id: null,
      features: ['COMMUNITY', 'NEWS'],
      emojis: [],
      stickers: [],
      roles,
      channels,
      threads: [],
      members,
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      joined_at: iso(D2020),
      large: members.length > 250,
      unavailable: false,
      member_count: members.length,
      lazy: true,
      version: 1_770_595_006_700,
      region: 'deprecated',
      hub_type: null,
    },
  };
}
