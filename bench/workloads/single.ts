/** Workload (1): single dispatches of the event mix, one per request, 32 concurrent clients. */
import { CFG, errMsg, log } from '../config.js';
import { tableCounts, type Counts } from '../db.js';
import { f0 } from '../format.js';
import { asMeasured, eventsPerSecond, type Harness, type Measured } from '../harness.js';
import { runLoad } from '../load.js';
import { EventGen } from '../payloads.js';

export interface SingleResult {
  svc: Measured;
  naive: Measured;
  redis: Measured;
  /** Rows of the service and the naive cache afterwards (users, members, presences must match). */
  countsAfter?: { svc: Counts; naive: Counts };
}

export async function single(h: Harness): Promise<SingleResult> {
  const events = new EventGen({ seed: 11, messageSeqStart: 1_000_000 }).take(CFG.singleEvents);
  const bodies = events.map((e) => JSON.stringify(e));
  const load = { concurrency: CFG.singleClients, weight: () => 1 };

  log(`(1) service: ${f0(bodies.length)} single dispatches, ${CFG.singleClients} clients`);
  const svc = asMeasured(await h.measureService(() => runLoad({ ...load, items: bodies, budgetMs: CFG.serviceBudgetMs, run: (b) => h.client.dispatch(b, 1) })));
  log(`(1) service: ${f0(eventsPerSecond(svc))} events/s${svc.failure ? ` (${svc.failure})` : ''}`);

  log(`(1) naive: ${f0(events.length)} events, ${CFG.singleClients} workers, budget ${CFG.naiveBudgetMs / 1000} s`);
  const naive = asMeasured(await h.measureNaive(() => runLoad({ ...load, items: events, budgetMs: CFG.naiveBudgetMs, run: (e) => h.naive!.handle(e) })));
  log(`(1) naive: ${f0(eventsPerSecond(naive))} events/s`);

  log(`(1) Redis: ${f0(bodies.length)} request bodies, ${CFG.singleClients} concurrent`);
  const redis = asMeasured(await h.measureRedis(() => runLoad({ ...load, items: bodies, budgetMs: CFG.naiveBudgetMs, run: (b) => h.redis!.handleBody(b, 1) })));
  log(`(1) Redis: ${f0(eventsPerSecond(redis))} events/s${redis.failure ? ` (${redis.failure})` : ''}`);

  const result: SingleResult = { svc, naive, redis };
  if (h.naiveUrl) {
    try {
      result.countsAfter = { svc: await tableCounts(h.svcUrl), naive: await tableCounts(h.naiveUrl) };
    } catch (err) {
      log(`counting rows: ${errMsg(err)}`);
    }
  }
  return result;
}
