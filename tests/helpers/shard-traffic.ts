/**
 * A seeded random gateway session over several shards, as `{ payload, shardId }` forwards in arrival order:
 * per shard a READY and the GUILD_CREATEs of its guilds, then a random mix (messages, reactions, joins and
 * leaves, member and presence updates, roles, channel updates) with `s` counting per shard. Users are shared
 * between the guilds of every shard, with the same properties everywhere (as Discord sends them at one time),
 * so the final state does not depend on how the shards interleave. No reaction is the bot's own (`me` depends
 * on the writer having seen READY).
 */
export interface Forward {
  payload: { op: 0; t: string; s: number; d: Record<string, unknown> };
  shardId: number;
}

export interface Traffic {
  forwards: Forward[];
  /** Per shard: the last `s` and the number of events. */
  lastSequence: number[];
  /** MESSAGE_CREATE ids never deleted afterwards (they must all be cached at the end). */
  keptMessages: string[];
}

/** mulberry32: a small seeded generator. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A guild id on `shard` of `total`: ((id >> 22) % total) = shard. */
export const guildOn = (shard: number, total: number, n = 0) => String(((BigInt(1000 * total + shard + total * n)) << 22n) + 7n);

export const BOT = '690000000000000001';
const userId = (i: number) => String(700_000_000_000_000_000n + BigInt(i));
export const user = (id: string) => ({ id, username: `user${id.slice(-4)}`, discriminator: '0', global_name: null, avatar: null });

interface GuildState {
  id: string;
  channels: string[];
  roles: string[];
  members: Set<string>;
  messages: { id: string; channel: string }[];
}

export function shardTraffic(options: { seed: number; totalShards: number; guildsPerShard: number; users: number; events: number }): Traffic {
  const rnd = random(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const { totalShards: total } = options;
  let nextId = 800_000_000_000_000_000n;
  const newId = () => String(nextId++);
  const users = Array.from({ length: options.users }, (_, i) => userId(i));
  const seq = Array.from({ length: total }, () => 0);
  const forwards: Forward[] = [];
  const emit = (shardId: number, t: string, d: Record<string, unknown>) => forwards.push({ payload: { op: 0, t, s: ++seq[shardId]!, d }, shardId });
  const joinedAt = '2024-01-01T00:00:00+00:00';
  const deleted = new Set<string>();
  const created: string[] = [];

  const guilds: GuildState[][] = Array.from({ length: total }, (_, shard) =>
    Array.from({ length: options.guildsPerShard }, (_, n) => ({
      id: guildOn(shard, total, n),
      channels: [newId(), newId()],
      roles: [newId()],
      members: new Set(users.slice(0, 3)),
      messages: [],
    })),
  );

  for (let shard = 0; shard < total; shard++) {
    emit(shard, 'READY', { v: 10, user: user(BOT), guilds: guilds[shard]!.map((g) => ({ id: g.id, unavailable: true })), session_id: `session-${shard}`, shard: [shard, total] });
    for (const g of guilds[shard]!) {
      emit(shard, 'GUILD_CREATE', {
        id: g.id,
        name: `guild ${g.id.slice(-6)}`,
        owner_id: users[0],
        member_count: g.members.size,
        roles: [
          { id: g.id, name: '@everyone', permissions: '1024', position: 0 },
          { id: g.roles[0], name: 'role', permissions: '8', position: 1 },
        ],
        emojis: [],
        features: [],
        channels: g.channels.map((id, i) => ({ id, type: 0, name: `channel-${i}`, position: i, permission_overwrites: [] })),
        threads: [],
        members: [...g.members].map((u) => ({ user: user(u), roles: [], joined_at: joinedAt, deaf: false, mute: false, flags: 0 })),
        presences: [],
        voice_states: [],
      });
    }
  }

  const kinds: [number, (shard: number, g: GuildState) => void][] = [
    [30, (shard, g) => {
      const id = newId();
      const channel = pick(g.channels);
      g.messages.push({ id, channel });
      created.push(id);
      const author = pick(users);
      emit(shard, 'MESSAGE_CREATE', {
        id, channel_id: channel, guild_id: g.id, author: user(author), content: `message ${id.slice(-5)}`,
        timestamp: '2026-01-01T00:00:00.000000+00:00', edited_timestamp: null, tts: false, mention_everyone: false,
        mentions: [], mention_roles: [], attachments: [], embeds: [], pinned: false, type: 0,
        member: { roles: [], joined_at: joinedAt, deaf: false, mute: false, flags: 0 },
      });
    }],
    [15, (shard, g) => {
      const m = g.messages.length > 0 ? pick(g.messages) : { id: newId(), channel: pick(g.channels) };
      emit(shard, 'MESSAGE_REACTION_ADD', { user_id: pick(users), channel_id: m.channel, message_id: m.id, guild_id: g.id, emoji: { id: null, name: pick(['👍', '🔥']) } });
    }],
    [5, (shard, g) => {
      if (g.messages.length === 0) return;
      const m = pick(g.messages);
      emit(shard, 'MESSAGE_REACTION_REMOVE', { user_id: pick(users), channel_id: m.channel, message_id: m.id, guild_id: g.id, emoji: { id: null, name: '👍' } });
    }],
    [4, (shard, g) => {
      if (g.messages.length === 0) return;
      const [m] = g.messages.splice(Math.floor(rnd() * g.messages.length), 1);
      deleted.add(m!.id);
      emit(shard, 'MESSAGE_DELETE', { id: m!.id, channel_id: m!.channel, guild_id: g.id });
    }],
    [10, (shard, g) => {
      const u = pick(users);
      g.members.add(u);
      emit(shard, 'GUILD_MEMBER_ADD', { guild_id: g.id, user: user(u), roles: [], joined_at: joinedAt, deaf: false, mute: false, flags: 0 });
    }],
    [5, (shard, g) => {
      const u = pick(users);
      g.members.delete(u);
      emit(shard, 'GUILD_MEMBER_REMOVE', { guild_id: g.id, user: user(u) });
    }],
    [10, (shard, g) => {
      const roles = g.roles.filter(() => rnd() < 0.5);
      emit(shard, 'GUILD_MEMBER_UPDATE', { guild_id: g.id, user: user(pick(users)), roles, nick: rnd() < 0.5 ? null : `nick${Math.floor(rnd() * 100)}`, joined_at: joinedAt, deaf: false, mute: false });
    }],
    [10, (shard, g) => {
      emit(shard, 'PRESENCE_UPDATE', { guild_id: g.id, user: { id: pick(users) }, status: pick(['online', 'idle', 'dnd', 'offline']), activities: [], client_status: {} });
    }],
    [3, (shard, g) => {
      const id = newId();
      g.roles.push(id);
      emit(shard, 'GUILD_ROLE_CREATE', { guild_id: g.id, role: { id, name: `role ${id.slice(-4)}`, permissions: String(Math.floor(rnd() * 1024)), position: g.roles.length } });
    }],
    [2, (shard, g) => {
      if (g.roles.length === 0) return;
      const [role] = g.roles.splice(Math.floor(rnd() * g.roles.length), 1);
      emit(shard, 'GUILD_ROLE_DELETE', { guild_id: g.id, role_id: role });
    }],
    [6, (shard, g) => {
      const id = pick(g.channels);
      emit(shard, 'CHANNEL_UPDATE', { id, type: 0, guild_id: g.id, name: `renamed-${Math.floor(rnd() * 1000)}`, position: 0, permission_overwrites: [] });
    }],
  ];
  const weight = kinds.reduce((n, [w]) => n + w, 0);
  while (forwards.length < options.events) {
    const shard = Math.floor(rnd() * total);
    const g = pick(guilds[shard]!);
    let r = rnd() * weight;
    for (const [w, make] of kinds) {
      if ((r -= w) < 0) {
        make(shard, g);
        break;
      }
    }
  }
  return { forwards, lastSequence: seq, keptMessages: created.filter((id) => !deleted.has(id)) };
}
