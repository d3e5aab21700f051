/**
 * Before (1), (2) and (4): the 20 small guilds (channels, roles) written to the service and both baselines, then an
 * untimed warm-up of the event mix on each (JIT, connections, prepared statements).
 */
import { CFG, log } from '../config.js';
import { f2 } from '../format.js';
import type { Harness } from '../harness.js';
import { runLoad } from '../load.js';
import { DEFAULT_SPACE, EventGen, guildCreate, type GatewayPayload } from '../payloads.js';

export async function seedAndWarm(h: Harness): Promise<void> {
  const { client, naive, redis } = h;
  const seeds: GatewayPayload[] = [];
  for (let g = 0; g < DEFAULT_SPACE.guilds; g++) {
    seeds.push(guildCreate({ guild: g, channels: DEFAULT_SPACE.channelsPerGuild, roles: DEFAULT_SPACE.rolesPerGuild, memberUsers: [g], seed: 1_000 + g }));
  }
  for (const s of seeds) {
    const body = JSON.stringify(s);
    await client.dispatch(body, 1);
    await naive?.handle(s);
    await redis?.handleBody(body, 1);
  }
  const warm = new EventGen({ seed: 1, messageSeqStart: 0 }).take(CFG.warmupEvents);
  const warmBodies = warm.map((e) => JSON.stringify(e));
  const common = { concurrency: CFG.singleClients, budgetMs: 15_000, weight: () => 1 };
  const results = [
    ['service', await runLoad({ ...common, items: warmBodies, run: (b) => client.dispatch(b, 1) })],
    ...(naive ? [['naive', await runLoad({ ...common, items: warm, run: (e) => naive.handle(e) })] as const] : []),
    ...(redis ? [['Redis', await runLoad({ ...common, items: warmBodies, run: (b) => redis.handleBody(b, 1) })] as const] : []),
  ] as const;
  log(`seeded ${seeds.length} guilds; warm-up ${warm.length} events: ${results.map(([n, r]) => `${n} ${f2(r.seconds)} s (${r.errors} errors)`).join(', ')}`);
  for (const [n, r] of results) if (r.errors > 0) log(`warm-up errors (${n}): ${r.errorSamples.join(' | ')}`);
  h.assertAlive();
}
