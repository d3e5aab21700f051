/** Workload (2): arrays of 500 dispatches of the event mix per request, 4 concurrent clients. */
import { CFG, log } from '../config.js';
import { f0 } from '../format.js';
import { asMeasured, eventsPerSecond, type Harness, type Measured } from '../harness.js';
import { runLoad } from '../load.js';
import { EventGen } from '../payloads.js';

export interface ArraysResult {
  svc: Measured;
  naive: Measured;
  redis: Measured;
}

export async function arrays(h: Harness): Promise<ArraysResult> {
  const gen = new EventGen({ seed: 22, messageSeqStart: 10_000_000 });
  const arrs = Array.from({ length: CFG.arrays }, () => gen.take(CFG.arraySize));
  const bodies = arrs.map((a) => JSON.stringify(a));
  const load = { concurrency: CFG.arrayClients, weight: () => CFG.arraySize };

  log(`(2) service: ${f0(bodies.length)} arrays of ${CFG.arraySize}, ${CFG.arrayClients} clients`);
  const svc = asMeasured(
    await h.measureService(() => runLoad({ ...load, items: bodies, budgetMs: CFG.serviceBudgetMs, run: (b) => h.client.dispatch(b, CFG.arraySize, 120_000) })),
  );
  log(`(2) service: ${f0(eventsPerSecond(svc))} events/s${svc.failure ? ` (${svc.failure})` : ''}`);

  log(`(2) naive: up to ${f0(arrs.length)} arrays, ${CFG.arrayClients} clients, budget ${CFG.naiveBudgetMs / 1000} s`);
  const naive = asMeasured(
    await h.measureNaive(() =>
      runLoad({
        ...load,
        items: arrs,
        budgetMs: CFG.naiveBudgetMs,
        run: async (arr) => {
          for (const e of arr) await h.naive!.handle(e);
        },
      }),
    ),
  );
  log(`(2) naive: ${f0(eventsPerSecond(naive))} events/s`);

  log(`(2) Redis: ${f0(bodies.length)} request bodies, ${CFG.arrayClients} concurrent`);
  const redis = asMeasured(await h.measureRedis(() => runLoad({ ...load, items: bodies, budgetMs: CFG.naiveBudgetMs, run: (b) => h.redis!.handleBody(b, CFG.arraySize) })));
  log(`(2) Redis: ${f0(eventsPerSecond(redis))} events/s${redis.failure ? ` (${redis.failure})` : ''}`);
  return { svc, naive, redis };
}
