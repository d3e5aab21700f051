/**
 * What the cache returns is what Discordeno 21's transformers take: recorded gateway payloads go in through
 * POST /v1/dispatch (with the typed client), every kind of object is read back over HTTP, and
 * `bot.transformers.*` of a real `createBot` (never started: no network) turn them into Discordeno objects
 * whose key fields survived (ids as bigints, names).
 */
import { readFileSync } from 'node:fs';
import { createBot, createDesiredPropertiesObject, type Bot } from '@discordeno/bot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheClient, type DispatchPacket } from '../../src/client/index.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { makeApp } from '../helpers/app.js';
import { createPostgres } from '../helpers/db.js';

type Envelope = { op: number; t: string; s: number; d: Record<string, any> };
const capture = (name: string): Envelope[] => {
  const json = JSON.parse(readFileSync(new URL(`../fixtures/discord-captures/${name}`, import.meta.url), 'utf8')) as Envelope | Envelope[];
  return Array.isArray(json) ? json : [json];
};

const BOT_ID = '900000000000000018';
/** A token whose first segment is the base64 of the bot id (createBot reads the id from it); never used. */
const TOKEN = `${Buffer.from(BOT_ID).toString('base64')}.GXXXXX.not-a-real-token-not-a-real-token-xx`;
const silent = { debug() {}, info() {}, warn() {}, error() {}, fatal() {} };

/** The properties checked below, explicitly desired. */
const desiredProperties = {
  user: { id: true, username: true, globalName: true, discriminator: true, avatar: true, toggles: true },
  guild: { id: true, name: true, ownerId: true, roles: true, memberCount: true, shardId: true, toggles: true, icon: true, joinedAt: true },
  role: { id: true, name: true, permissions: true, guildId: true, position: true },
  channel: {
    id: true,
    name: true,
    type: true,
    guildId: true,
    parentId: true,
    position: true,
    permissionOverwrites: true,
    lastMessageId: true,
    ownerId: true,
    messageCount: true,
    threadMetadata: true,
    archived: true,
  },
  member: { id: true, guildId: true, nick: true, roles: true, joinedAt: true, user: true },
  message: { id: true, content: true, channelId: true, guildId: true, author: true, timestamp: true, type: true, member: true },
} as const;

describe('Discordeno 21 transformers accept what the cache returns', () => {
  let pg: Awaited<ReturnType<typeof createPostgres>>;
  let app: FastifyInstance;
  let cache: CacheClient;
  let bot: Bot<ReturnType<typeof createDesiredPropertiesObject<typeof desiredProperties>>>;
  let everything: ReturnType<typeof allPropertiesBot>;

  const ready = capture('gateway_ready.json')[0]!;
  const guildCreate = capture('gateway_guild_create.json').find((e) => e.d.threads.length > 0)!;
  const G = guildCreate.d.id as string;
  const member = guildCreate.d.members.find((m: any) => !m.user.bot) as any;
  const textChannel = guildCreate.d.channels.find((c: any) => c.type === 0) as any;
  const thread = guildCreate.d.threads[0] as any;
  const messages = capture('gateway_message_create.json');
  const message = messages[0]!.d;
  const presence = {
    op: 0,
    t: 'PRESENCE_UPDATE',
    s: 99,
    d: {
      user: { id: member.user.id },
      guild_id: G,
      status: 'dnd',
      activities: [
        { name: 'Custom Status', type: 4, state: 'busy', created_at: 1770595006719, emoji: { name: '🔥' } },
        {
          name: 'A Game',
          type: 0,
          created_at: 1770595006719,
          timestamps: { start: 1770595000000 },
          application_id: '900000000000000500',
          details: 'level 3',
          assets: { large_image: 'mp:large', large_text: 'large' },
        },
      ],
      client_status: { desktop: 'dnd', mobile: 'online' },
    },
  };

  // No network but the loopback service: createBot must not connect anywhere.
  const realFetch = globalThis.fetch;
  const outside: string[] = [];
  beforeAll(async () => {
    globalThis.fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.hostname !== '127.0.0.1') {
        outside.push(url.href);
        return Promise.reject(new Error(`network call to ${url.href} in a test`));
      }
      return realFetch(input, init);
    };
    pg = await createPostgres();
    app = await makeApp(pg.db);
    cache = new CacheClient({ url: await app.listen({ port: 0, host: '127.0.0.1' }) });
    const packets = [ready, ...capture('gateway_guild_create.json'), ...messages, presence].map(
      (payload, i) => ({ payload, shardId: 0, i }) as unknown as DispatchPacket,
    );
    await Promise.all(packets.map((p) => cache.dispatch(p)));

    bot = createBot({ token: TOKEN, desiredProperties, loggerFactory: () => silent });
    everything = allPropertiesBot();
  });
  afterAll(async () => {
    globalThis.fetch = realFetch;
    expect(outside).toEqual([]);
    await cache?.close({ timeoutMs: 5_000 });
    await app?.close();
    await pg?.close();
  });

  it('user', async () => {
    const raw = await cache.users.get(ready.d.user.id);
    expect(raw).toBeDefined();
    const user = bot.transformers.user(bot, raw!);
    expect(user.id).toBe(BigInt(ready.d.user.id));
    expect(user.username).toBe(ready.d.user.username);
    expect(user.discriminator).toBe(ready.d.user.discriminator);
    expect(user.toggles?.bot).toBe(Boolean(ready.d.user.bot));
    expect(everything.transformers.user(everything, raw!).id).toBe(BigInt(ready.d.user.id));
  });

  it('guild (with roles)', async () => {
    const raw = await cache.guilds.get(G);
    expect(raw).toBeDefined();
    const guild = bot.transformers.guild(bot, { guild: raw!, shardId: 0 });
    expect(guild.id).toBe(BigInt(G));
    expect(guild.name).toBe(guildCreate.d.name);
    expect(guild.ownerId).toBe(BigInt(guildCreate.d.owner_id));
    expect(guild.shardId).toBe(0);
    expect(guild.roles.size).toBe(guildCreate.d.roles.length);
    const everyoneRaw = guildCreate.d.roles.find((r: any) => r.id === G);
    const everyone = guild.roles.get(BigInt(G)); // @everyone's id is the guild's (names are sanitized in the capture)
    expect(everyone?.name).toBe(everyoneRaw.name);
    expect(everyone?.guildId).toBe(BigInt(G));
    expect(everyone?.permissions.bitfield).toBe(BigInt(everyoneRaw.permissions));
    expect(guild.memberCount).toBe(guildCreate.d.member_count);
    expect(guild.joinedAt).toBe(Date.parse(guildCreate.d.joined_at));
    expect(everything.transformers.guild(everything, { guild: raw!, shardId: 0 }).id).toBe(BigInt(G));
  });

  it('member (with its user)', async () => {
    const raw = await cache.members.get(G, member.user.id);
    expect(raw).toBeDefined();
    const m = bot.transformers.member(bot, raw!, G, member.user.id);
    expect(m.id).toBe(BigInt(member.user.id));
    expect(m.guildId).toBe(BigInt(G));
    expect(m.joinedAt).toBe(Date.parse(member.joined_at));
    expect(m.roles).toEqual(member.roles.map(BigInt));
    expect(m.user?.id).toBe(BigInt(member.user.id));
    expect(m.user?.username).toBe(member.user.username);
    for (const each of await cache.members.list(G)) {
      expect(everything.transformers.member(everything, each, G, each.user!.id).id).toBe(BigInt(each.user!.id));
    }
  });

  it('channel', async () => {
    const raw = await cache.channels.get(textChannel.id);
    expect(raw).toBeDefined();
    const channel = bot.transformers.channel(bot, { channel: raw!, guildId: G });
    expect(channel.id).toBe(BigInt(textChannel.id));
    expect(channel.name).toBe(textChannel.name);
    expect(channel.type).toBe(0);
    expect(channel.guildId).toBe(BigInt(G));
    if (textChannel.parent_id) expect(channel.parentId).toBe(BigInt(textChannel.parent_id));
    for (const each of await cache.channels.list(G)) {
      expect(everything.transformers.channel(everything, { channel: each, guildId: G }).id).toBe(BigInt(each.id));
    }
  });

  it('thread', async () => {
    const raw = await cache.threads.get(thread.id);
    expect(raw).toBeDefined();
    const t = bot.transformers.channel(bot, { channel: raw!, guildId: G });
    expect(t.id).toBe(BigInt(thread.id));
    expect(t.name).toBe(thread.name);
    expect(t.type).toBe(11);
    expect(t.parentId).toBe(BigInt(thread.parent_id));
    expect(t.ownerId).toBe(BigInt(thread.owner_id));
    expect(t.archived).toBe(false);
    expect(everything.transformers.channel(everything, { channel: raw!, guildId: G }).id).toBe(BigInt(thread.id));
  });

  it('message (with its author; the author\'s member from the members table)', async () => {
    const raw = await cache.messages.get(message.channel_id, message.id);
    expect(raw).toBeDefined();
    const m = bot.transformers.message(bot, { message: raw!, shardId: 0 });
    expect(m.id).toBe(BigInt(message.id));
    expect(m.channelId).toBe(BigInt(message.channel_id));
    expect(m.guildId).toBe(BigInt(message.guild_id));
    expect(m.content).toBe(message.content);
    expect(m.timestamp).toBeGreaterThan(0); // Discordeno derives it from the id
    expect(m.author.id).toBe(BigInt(message.author.id));
    expect(m.author.username).toBe(message.author.username);
    // The message row does not keep `member`: the author's member is cached in the members table instead.
    const authorMember = await cache.members.get(message.guild_id, message.author.id);
    expect(authorMember).toBeDefined();
    const am = bot.transformers.member(bot, authorMember!, message.guild_id, message.author.id);
    expect(am.roles).toEqual(message.member.roles.map(BigInt));
    expect(am.user?.username).toBe(message.author.username);
    for (const each of await cache.messages.list(message.channel_id)) {
      expect(everything.transformers.message(everything, { message: each, shardId: 0 }).id).toBe(BigInt(each.id));
    }
  });

  it('presence (with the cached user)', async () => {
    const raw = await cache.presences.get(G, member.user.id);
    expect(raw).toBeDefined();
    const p = bot.transformers.presence(bot, raw!);
    expect(p.user.id).toBe(BigInt(member.user.id));
    expect(p.user.username).toBe(member.user.username); // the presence's partial user filled from the cache
    expect(p.guildId).toBe(BigInt(G));
    expect(p.desktop).toBe('dnd');
    expect(p.mobile).toBe('online');
    expect(p.activities.map((a) => a.name)).toEqual(['Custom Status', 'A Game']);
    expect(p.activities[1]?.applicationId).toBe(900000000000000500n);
    expect(everything.transformers.presence(everything, raw!).guildId).toBe(BigInt(G));
  });
});

/** A bot that desires every property: every branch of the transformers runs over the cached objects. */
function allPropertiesBot() {
  return createBot({ token: TOKEN, desiredProperties: createDesiredPropertiesObject({}, true), loggerFactory: () => silent });
}
