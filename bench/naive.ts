/**
 * The naive baseline: a hand-written PostgreSQL cache that runs one `INSERT … ON CONFLICT DO UPDATE` (or
 * `UPDATE`) per row, each in autocommit, through a `pg` Pool. Same tables as the service (same migrations).
 * Statements are prepared by name (a fair, not a strawman, baseline). It writes the rows the service writes
 * for these events: users (authors, mentions, member users), members, presences, messages, the channel's
 * `last_message_id`, guilds and channels. It does not prune old messages nor touch `threads`. For workload (4) it
 * reads a member (joined with its user) or a channel with one prepared `SELECT` by primary key.
 */
import pg from 'pg';
import type { GatewayPayload } from './payloads.js';

type Obj = Record<string, unknown>;

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const val = (v: unknown) => (v === undefined ? null : v);

const SQL = {
  user: `INSERT INTO users (id, username, discriminator, global_name, avatar, bot, public_flags,
      avatar_decoration_data, collectibles, primary_guild)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10::jsonb)
    ON CONFLICT (id) DO UPDATE SET username = excluded.username, discriminator = excluded.discriminator,
      global_name = excluded.global_name, avatar = excluded.avatar, bot = COALESCE(excluded.bot, users.bot),
      public_flags = excluded.public_flags, avatar_decoration_data = excluded.avatar_decoration_data,
      collectibles = excluded.collectibles, primary_guild = excluded.primary_guild, updated_at = now()`,
  member: `INSERT INTO members (guild_id, user_id, nick, avatar, banner, roles, joined_at, premium_since, pending,
      flags, communication_disabled_until)
    VALUES ($1, $2, $3, $4, $5, $6::bigint[], $7, $8, $9, $10, $11)
    ON CONFLICT (guild_id, user_id) DO UPDATE SET nick = excluded.nick, avatar = excluded.avatar,
      banner = excluded.banner, roles = excluded.roles, joined_at = excluded.joined_at,
      premium_since = excluded.premium_since, pending = excluded.pending, flags = excluded.flags,
      communication_disabled_until = excluded.communication_disabled_until, updated_at = now()`,
  memberVoice: `INSERT INTO members (guild_id, user_id, nick, avatar, banner, roles, joined_at, premium_since, pending,
      flags, communication_disabled_until, deaf, mute)
    VALUES ($1, $2, $3, $4, $5, $6::bigint[], $7, $8, $9, $10, $11, $12, $13)
    ON CONFLICT (guild_id, user_id) DO UPDATE SET nick = excluded.nick, avatar = excluded.avatar,
      banner = excluded.banner, roles = excluded.roles, joined_at = excluded.joined_at,
      premium_since = excluded.premium_since, pending = excluded.pending, flags = excluded.flags,
      communication_disabled_until = excluded.communication_disabled_until, deaf = excluded.deaf,
      mute = excluded.mute, updated_at = now()`,
  presence: `INSERT INTO presences (guild_id, user_id, status, activities, client_status)
    VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)
    ON CONFLICT (guild_id, user_id) DO UPDATE SET status = excluded.status, activities = excluded.activities,
      client_status = excluded.client_status, updated_at = now()`,
  message: `INSERT INTO messages (id, channel_id, guild_id, author_id, author, content, timestamp, edited_timestamp,
      tts, mention_everyone, mentions, mention_roles, attachments, embeds, components, pinned, type, flags)
    VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, $13::jsonb, $14::jsonb,
      $15::jsonb, $16, $17, $18)
    ON CONFLICT (id) DO UPDATE SET channel_id = excluded.channel_id, guild_id = excluded.guild_id,
      author_id = excluded.author_id, author = excluded.author, content = excluded.content,
      timestamp = excluded.timestamp, edited_timestamp = excluded.edited_timestamp, tts = excluded.tts,
      mention_everyone = excluded.mention_everyone, mentions = excluded.mentions,
      mention_roles = excluded.mention_roles, attachments = excluded.attachments, embeds = excluded.embeds,
      components = excluded.components, pinned = excluded.pinned, type = excluded.type, flags = excluded.flags,
      updated_at = now()`,
  channelLast: `UPDATE channels SET last_message_id = $2, updated_at = now() WHERE id = $1`,
  guild: `INSERT INTO guilds (id, name, icon, owner_id, roles, emojis, features, member_count, large, joined_at,
      premium_tier, preferred_locale, system_channel_id, verification_level)
    VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8, $9, $10, $11, $12, $13, $14)
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, icon = excluded.icon, owner_id = excluded.owner_id,
      roles = excluded.roles, emojis = excluded.emojis, features = excluded.features,
      member_count = excluded.member_count, large = excluded.large, joined_at = excluded.joined_at,
      premium_tier = excluded.premium_tier, preferred_locale = excluded.preferred_locale,
      system_channel_id = excluded.system_channel_id, verification_level = excluded.verification_level,
      updated_at = now()`,
  channel: `INSERT INTO channels (id, guild_id, type, name, position, parent_id, topic, nsfw, rate_limit_per_user,
      flags, permission_overwrites, last_message_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)
    ON CONFLICT (id) DO UPDATE SET guild_id = excluded.guild_id, type = excluded.type, name = excluded.name,
      position = excluded.position, parent_id = excluded.parent_id, topic = excluded.topic, nsfw = excluded.nsfw,
      rate_limit_per_user = excluded.rate_limit_per_user, flags = excluded.flags,
      permission_overwrites = excluded.permission_overwrites, last_message_id = excluded.last_message_id,
      updated_at = now()`,
  /** Reads (workload 4): one statement by primary key each; the member comes with its user, as the service's does. */
  readMember: `SELECT m.*, to_jsonb(u.*) AS "user" FROM members m LEFT JOIN users u ON u.id = m.user_id
    WHERE m.guild_id = $1 AND m.user_id = $2`,
  readChannel: `SELECT * FROM channels WHERE id = $1`,
} as const;

export class NaiveCache {
  readonly pool: pg.Pool;
  /** Statements run so far. */
  statements = 0;

  constructor(url: string, poolSize = 32) {
    this.pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: 'bench-naive', options: '-c TimeZone=UTC' });
    this.pool.on('error', () => {});
  }

  private async q(name: keyof typeof SQL, values: unknown[]) {
    this.statements++;
    return this.pool.query({ name: `naive_${name}`, text: SQL[name], values });
  }

  /** One member with its user (one prepared SELECT by primary key); throws when the row does not exist. */
  async readMember(guildId: string, userId: string): Promise<Obj> {
    const row = (await this.q('readMember', [guildId, userId])).rows[0] as Obj | undefined;
    if (!row) throw new Error(`naive: no member ${guildId}/${userId}`);
    return row;
  }

  /** One channel (one prepared SELECT by primary key); throws when the row does not exist. */
  async readChannel(id: string): Promise<Obj> {
    const row = (await this.q('readChannel', [id])).rows[0] as Obj | undefined;
    if (!row) throw new Error(`naive: no channel ${id}`);
    return row;
  }

  /** Opens `n` connections up front so the timed runs do not pay for connecting. */
  async warm(n: number) {
    const clients = await Promise.all(Array.from({ length: n }, () => this.pool.connect()));
    for (const c of clients) c.release();
  }

  async user(u: Obj) {
    await this.q('user', [
      u.id,
      val(u.username),
      val(u.discriminator),
      val(u.global_name),
      val(u.avatar),
      val(u.bot),
      val(u.public_flags),
      json(u.avatar_decoration_data),
      json(u.collectibles),
      json(u.primary_guild),
    ]);
  }

  async member(guildId: unknown, userId: unknown, m: Obj) {
    const base = [
      guildId,
      userId,
      val(m.nick),
      val(m.avatar),
      val(m.banner),
      m.roles ?? null,
      val(m.joined_at),
      val(m.premium_since),
      val(m.pending),
      val(m.flags),
      val(m.communication_disabled_until),
    ];
    if ('deaf' in m || 'mute' in m) await this.q('memberVoice', [...base, val(m.deaf), val(m.mute)]);
    else await this.q('member', base);
  }

  async presence(d: Obj) {
    const user = d.user as Obj;
    await this.q('presence', [d.guild_id, user.id, val(d.status), json(d.activities), json(d.client_status)]);
  }

  async message(d: Obj) {
    const author = d.author as Obj;
    await this.q('user', [
      author.id,
      val(author.username),
      val(author.discriminator),
      val(author.global_name),
      val(author.avatar),
      val(author.bot),
      val(author.public_flags),
      json(author.avatar_decoration_data),
      json(author.collectibles),
      json(author.primary_guild),
    ]);
    if (d.member && d.guild_id) await this.member(d.guild_id, author.id, d.member as Obj);
    for (const m of (d.mentions as Obj[] | undefined) ?? []) await this.user(m);
    await this.q('message', [
      d.id,
      d.channel_id,
      val(d.guild_id),
      author.id,
      json(author),
      val(d.content),
      val(d.timestamp),
      val(d.edited_timestamp),
      val(d.tts),
      val(d.mention_everyone),
      json(d.mentions),
      json(d.mention_roles),
      json(d.attachments),
      json(d.embeds),
      json(d.components),
      val(d.pinned),
      val(d.type),
      val(d.flags),
    ]);
    await this.q('channelLast', [d.channel_id, d.id]);
  }

  async guild(d: Obj) {
    await this.q('guild', [
      d.id,
      val(d.name),
      val(d.icon),
      val(d.owner_id),
      json(d.roles),
      json(d.emojis),
      json(d.features),
      val(d.member_count),
      val(d.large),
      val(d.joined_at),
      val(d.premium_tier),
      val(d.preferred_locale),
      val(d.system_channel_id),
      val(d.verification_level),
    ]);
  }

  async channel(c: Obj, guildId: unknown) {
    await this.q('channel', [
      c.id,
      c.guild_id ?? guildId,
      val(c.type),
      val(c.name),
      val(c.position),
      val(c.parent_id),
      val(c.topic),
      val(c.nsfw),
      val(c.rate_limit_per_user),
      val(c.flags),
      json(c.permission_overwrites),
      val(c.last_message_id),
    ]);
  }

  /** A GUILD_CREATE's guild row and channels (members are written separately, see `guildMember`). */
  async guildAndChannels(d: Obj) {
    await this.guild(d);
    for (const c of (d.channels as Obj[] | undefined) ?? []) await this.channel(c, d.id);
  }

  /** One member of a GUILD_CREATE: its user, then the member. */
  async guildMember(guildId: unknown, m: Obj) {
    const user = m.user as Obj;
    await this.user(user);
    await this.member(guildId, user.id, m);
  }

  /** Applies one gateway payload, one autocommit statement per row. */
  async handle(p: GatewayPayload) {
    const d = p.d;
    switch (p.t) {
      case 'PRESENCE_UPDATE':
        return this.presence(d);
      case 'GUILD_MEMBER_UPDATE': {
        const user = d.user as Obj;
        await this.user(user);
        return this.member(d.guild_id, user.id, d);
      }
      case 'MESSAGE_CREATE':
        return this.message(d);
      case 'GUILD_CREATE': {
        await this.guildAndChannels(d);
        for (const m of (d.members as Obj[] | undefined) ?? []) await this.guildMember(d.id, m);
        return;
      }
      default:
        throw new Error(`naive cache: unsupported event ${p.t}`);
    }
  }

  close() {
    return this.pool.end();
  }
}
