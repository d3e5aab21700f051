/**
 * A Discordeno 21 big-bot event handler that keeps discord-state-cache up to date and reads it back.
 *
 *   gateway workers ──POST { payload, shardId }──▶ this process ──client.dispatch()──▶ discord-state-cache
 *                                                       └──▶ bot.events.raw / bot.handlers[payload.t]
 *
 * Run it:  npm run example            (dry run: no Discord token, no network, exits when done)
 *          DISCORD_TOKEN=… CACHE_URL=http://127.0.0.1:8080 npm run example     (a real event handler)
 *
 * Environment:
 *   DISCORD_TOKEN        the bot token. Unset → DRY RUN: a placeholder token (createBot only reads the bot id
 *                        from it; nothing here talks to Discord), and the example plays a gateway worker itself,
 *                        posting a GUILD_CREATE and a MESSAGE_CREATE to its own listener, then exits.
 *   CACHE_URL            the cache service (`npm start`). Unset in a dry run → an in-memory cache is started in
 *                        this process (embedded PGlite, nothing written to disk). Required otherwise.
 *   CACHE_TOKEN          the service's CACHE_TOKEN, if it has one.
 *   RECORD_FILE          append every forwarded packet to this NDJSON file (the client's `record` option), to
 *                        replay it later into a fresh cache: `npx discord-state-cache replay FILE`.
 *   EVENT_HANDLER_PORT   port of the listener for gateway workers (default 8081; 0 = any, in a dry run).
 *   EVENT_HANDLER_SECRET shared secret the workers send as `Authorization` (optional, recommended).
 *   TOTAL_SHARDS         the bot's shard count (default 1), to give the guild transformer its shard id.
 *
 * The gateway workers must forward the RAW snake_case packet: create their gateway manager with
 * `preferSnakeCase: true` (Discordeno 21 camelCases packets otherwise, and the cache answers 400), and send
 * `JSON.stringify({ payload, shardId })` to `http://127.0.0.1:8081/` (an array of them works too).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBot, type DiscordGatewayPayload, type GatewayDispatchEventNames } from '@discordeno/bot';
import { CacheClient, CacheError, type GatewayForward } from '../src/client/index.js';

const dryRun = !process.env.DISCORD_TOKEN;
const log = (...args: unknown[]) => console.log('[event-handler]', ...args);

// ---- the cache ----

let stopEmbedded = async () => {};
let cacheUrl = process.env.CACHE_URL;
if (!cacheUrl) {
  if (!dryRun) throw new Error('CACHE_URL is required (the discord-state-cache service, e.g. http://127.0.0.1:8080)');
  // Dry run only: the service itself, in memory, in this process (a real bot runs `npm start` beside it).
  const { openPglite } = await import('../src/db/connect.js');
  const { buildApp } = await import('../src/http/app.js');
  const db = await openPglite();
  const app = await buildApp({ db, logLevel: 'warn' });
  cacheUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  stopEmbedded = async () => {
    await app.close();
    await db.close();
  };
  log(`dry run: in-memory cache at ${cacheUrl}`);
}

const cache = new CacheClient({
  url: cacheUrl,
  token: process.env.CACHE_TOKEN,
  record: process.env.RECORD_FILE, // written out by cache.close() in shutdown()
  onRetry: ({ attempt, delayMs, error, events }) =>
    log(`cache unavailable (${error.statusCode || 'no answer'}: ${error.message}); retry #${attempt} of ${events ?? 1} event(s) in ${Math.round(delayMs)} ms`),
});

// ---- the bot ----

const BOT_ID = '900000000000000001';
const token = process.env.DISCORD_TOKEN ?? `${Buffer.from(BOT_ID).toString('base64')}.dry.run`;

const totalShards = BigInt(process.env.TOTAL_SHARDS ?? '1');
/** Discord's shard of a guild: (id >> 22) % shards. */
const shardOf = (guildId: bigint) => Number((guildId >> 22n) % totalShards);

let handled: () => void = () => {};
const messageHandled = new Promise<void>((resolve) => (handled = resolve));

const bot = createBot({
  token,
  desiredProperties: {
    user: { id: true, username: true },
    guild: { id: true, name: true, memberCount: true, roles: true },
    role: { id: true, name: true },
    member: { id: true, nick: true, roles: true },
    message: { id: true, guildId: true, channelId: true, author: true, content: true },
  },
  events: {
    // Bot code reading the cache: the event was committed before this handler runs, so it is there too.
    async messageCreate(message) {
      if (!message.guildId) return;
      const raw = await cache.guilds.get(message.guildId);
      if (!raw) return log(`guild ${message.guildId} is not cached (yet)`);
      const guild = bot.transformers.guild(bot, { guild: raw, shardId: shardOf(message.guildId) });
      const member = await cache.members.get(message.guildId, message.author.id);
      const nick = member ? bot.transformers.member(bot, member, message.guildId, message.author.id).nick : undefined;
      const permissions = await cache.permissions(message.guildId, message.author.id, message.channelId);
      log(
        `#${message.channelId} in "${guild.name}" (${guild.memberCount} members, ${guild.roles.size} roles):`,
        `${nick ?? message.author.username}: ${message.content}`,
        `| permissions ${permissions ?? 'unknown'}`,
      );
      handled();
    },
  },
});

// ---- the listener for gateway workers ----

const secret = process.env.EVENT_HANDLER_SECRET;

async function readBody(req: IncomingMessage, limit = 64 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One forwarded packet: into the cache first (committed), then through the bot's own handlers. */
async function handle({ payload, shardId }: GatewayForward) {
  try {
    // Resolves once committed; at once for events the cache does not track (INTERACTION_CREATE, …): their
    // handlers run immediately, never behind a storm of GUILD_CREATEs.
    await cache.dispatch({ payload, shardId });
  } catch (err) {
    // Only a packet the cache refuses (400: names the field) lands here; outages are retried, never dropped.
    log(`cache refused ${payload.t ?? `op ${payload.op}`}:`, err instanceof CacheError ? err.message : err);
  }
  bot.events.raw?.(payload, shardId);
  if (!payload.t) return;
  await bot.events.dispatchRequirements?.(payload, shardId);
  bot.handlers[payload.t as GatewayDispatchEventNames]?.(bot, payload, shardId);
}

const server = createServer(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/') return void res.writeHead(404).end();
  if (secret && req.headers.authorization !== secret) return void res.writeHead(401).end();
  let forwards: GatewayForward[];
  try {
    const body = JSON.parse(await readBody(req)) as GatewayForward | GatewayForward[];
    forwards = Array.isArray(body) ? body : [body];
  } catch {
    return void res.writeHead(400).end();
  }
  // Acknowledge at once: from here the client owns the events (ordered, retried, never dropped).
  res.writeHead(204).end();
  // Every packet is dispatched now, in arrival order; each one's handlers run once it is committed.
  await Promise.all(forwards.map(handle)).catch((err: unknown) => log('a bot handler failed:', err));
});

const port = Number(process.env.EVENT_HANDLER_PORT ?? (dryRun ? 0 : 8081));
await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
const handlerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
log(`listening for gateway workers on ${handlerUrl}`);

async function shutdown(code = 0) {
  server.close();
  await cache.close({ timeoutMs: 10_000 }); // delivers what was dispatched
  await stopEmbedded();
  process.exit(code);
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());

// ---- dry run: play a gateway worker ----

if (dryRun) {
  const G = '81384788765712384';
  const U = '80351110224678912';
  const C = '81384788765712385';
  const ev = (t: string, s: number, d: unknown): DiscordGatewayPayload => ({ op: 0, t: t as never, s, d });
  const forward = (payload: DiscordGatewayPayload) =>
    fetch(handlerUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(secret ? { authorization: secret } : {}) },
      body: JSON.stringify({ payload, shardId: 0 }),
    });

  await forward(
    ev('GUILD_CREATE', 1, {
      id: G,
      name: 'Dry Run Guild',
      owner_id: BOT_ID,
      member_count: 1,
      features: [],
      emojis: [],
      roles: [{ id: G, name: '@everyone', permissions: '68608', position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 }],
      channels: [{ id: C, type: 0, name: 'general', position: 0, permission_overwrites: [] }],
      threads: [],
      members: [
        {
          user: { id: U, username: 'nelly', discriminator: '0', global_name: 'Nelly', avatar: null },
          nick: 'Nel',
          roles: [],
          joined_at: '2024-01-01T00:00:00+00:00',
          deaf: false,
          mute: false,
          flags: 0,
        },
      ],
      presences: [],
      voice_states: [],
    }),
  );
  await forward(
    ev('MESSAGE_CREATE', 2, {
      id: '81384788765712400',
      channel_id: C,
      guild_id: G,
      author: { id: U, username: 'nelly', discriminator: '0', global_name: 'Nelly', avatar: null },
      content: 'hello from the dry run',
      timestamp: '2026-01-01T00:00:00+00:00',
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: [],
      pinned: false,
      type: 0,
    }),
  );

  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000).unref());
  const outcome = await Promise.race([messageHandled.then(() => 'ok' as const), timeout]);
  await cache.flush();
  const stats = await cache.stats();
  log(`cache now holds ${stats.tables.guilds} guild, ${stats.tables.members} member, ${stats.tables.messages} message`);
  log(outcome === 'ok' ? 'dry run done' : 'dry run: the message handler did not run within 15 s');
  await shutdown(outcome === 'ok' ? 0 : 1);
}
