/**
 * Workload (9), ingest with change feed subscribers: workload (1)'s single dispatches (32 clients) with no
 * subscriber, then with 10 (typed clients with a local cache each, in another process, parsing and applying
 * every commit), then again with none and with 10 (alternating, as the machine's load drifts). Each run has
 * its own events.
 */
import { CFG, errMsg, log } from '../config.js';
import { f0 } from '../format.js';
import { FeedChild } from '../feed-process.js';
import { asMeasured, eventsPerSecond, type Harness, type Measured } from '../harness.js';
import { runLoad } from '../load.js';
import { EventGen } from '../payloads.js';

export interface SubscribersRun {
  subscribers: number;
  measured: Measured;
  /** Commits the subscribers had seen (their feed position) when stopped, the lowest of them. */
  position?: number;
}

export interface SubscribersResult {
  runs: SubscribersRun[];
  failure?: string;
}

export async function subscribers(h: Harness): Promise<SubscribersResult> {
  const url = `http://127.0.0.1:${h.port}`;
  const out: SubscribersResult = { runs: [] };
  try {
    for (const [round, count] of [0, CFG.subscriberCount, 0, CFG.subscriberCount].entries()) {
      const events = new EventGen({ seed: 900 + round, messageSeqStart: 10_000_000 + round * 1_000_000 }).take(CFG.subscriberEvents);
      const bodies = events.map((e) => JSON.stringify(e));
      let child: FeedChild | undefined;
      if (count > 0) {
        child = await FeedChild.start();
        child.send({ kind: 'subscribers', url, count });
        await child.next('ready', 60_000);
      }
      log(`(9) ${f0(bodies.length)} single dispatches, ${CFG.singleClients} clients, ${count} feed subscribers`);
      const measured = asMeasured(
        await h.measureService(() => runLoad({ items: bodies, concurrency: CFG.singleClients, budgetMs: CFG.serviceBudgetMs, weight: () => 1, run: (b) => h.client.dispatch(b, 1) })),
      );
      const run: SubscribersRun = { subscribers: count, measured };
      if (child) {
        await new Promise((r) => setTimeout(r, 500));
        const stopped = await child.stop();
        const stats = (stopped?.stats ?? []) as { position: number }[];
        if (stats.length > 0) run.position = Math.min(...stats.map((s) => s.position));
      }
      out.runs.push(run);
      log(`(9) ${count} subscribers: ${f0(eventsPerSecond(measured))} events/s${measured.failure ? ` (${measured.failure})` : ''}`);
    }
  } catch (err) {
    out.failure = errMsg(err);
  }
  return out;
}
