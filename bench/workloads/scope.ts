/**
 * Workload (10), the cache scope: (2)'s arrays of 500 (presences, member updates, message creates) to two
 * fresh services of their own, one caching every table and one with `CACHE_TABLES=users,members,guilds,
 * channels,threads` (messages and presences left out, as bots that need neither do), in events/s and CPU.
 * The services are children on scratch databases migrated at start (MIGRATE_ON_START).
 */
import { CFG, log } from '../config.js';
import { f0 } from '../format.js';
import { asMeasured, eventsPerSecond, type Harness, type Measured } from '../harness.js';
import { runLoad } from '../load.js';
import { EventGen } from '../payloads.js';

export const SCOPED_TABLES = 'users,members,guilds,channels,threads';

export interface ScopeResult {
  all: Measured;
  scoped: Measured;
}

export async function scope(h: Harness): Promise<ScopeResult> {
  const gen = new EventGen({ seed: 33, messageSeqStart: 30_000_000 });
  const bodies = Array.from({ length: CFG.arrays }, () => JSON.stringify(gen.take(CFG.arraySize)));
  const run = async (name: string, label: string, env: Record<string, string>): Promise<Measured> => {
    const db = await h.scratchDatabase(`scope_${name}`);
    const { child, client } = await h.startChild(undefined, { databaseUrl: db.url, env: { MIGRATE_ON_START: 'true', ...env } });
    log(`(10) ${label}: ${f0(bodies.length)} arrays of ${CFG.arraySize}, ${CFG.arrayClients} clients`);
    const measured = asMeasured(
      await h.measure(child.pid, () =>
        runLoad({
          items: bodies,
          concurrency: CFG.arrayClients,
          weight: () => CFG.arraySize,
          budgetMs: CFG.serviceBudgetMs,
          run: (b) => client.dispatch(b, CFG.arraySize, 120_000),
        }),
      ),
    );
    log(`(10) ${label}: ${f0(eventsPerSecond(measured))} events/s${measured.failure ? ` (${measured.failure})` : ''}`);
    await h.stopChild(child);
    return measured;
  };
  const all = await run('all', 'every table', {});
  const scoped = await run('scoped', `CACHE_TABLES=${SCOPED_TABLES}`, { CACHE_TABLES: SCOPED_TABLES });
  return { all, scoped };
}
