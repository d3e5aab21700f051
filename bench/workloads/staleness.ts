/**
 * Workload (8), staleness of another process's local cache under load: the bench process dispatches the event
 * mix through the typed client at 5,000 events/s (paced, batched by the client) and, every 25 ms, a
 * GUILD_MEMBER_UPDATE giving one of 16 probe members a new nick; another process (bench/feed-child.ts) with a
 * local cache reads the probe members every millisecond. Staleness = the start of the first read in that
 * process that answered the new nick − the moment `dispatch()` of the update resolved in this one (0 when the
 * other process saw it first: the feed can beat the HTTP answer). A probe not seen before the next update of
 * its member (400 ms later) or the end counts as infinitely stale.
 */
import { CacheClient, type DispatchPacket } from '../../src/client/index.js';
import { CFG, errMsg, log } from '../config.js';
import { f0, f1 } from '../format.js';
import { FeedChild } from '../feed-process.js';
import type { Harness } from '../harness.js';
import { percentile } from '../load.js';
import { DEFAULT_SPACE, EventGen, ids } from '../payloads.js';
import { sampleIds } from '../reads.js';

export interface StalenessResult {
  /** ms, ascending, one per probe (Infinity: not seen). */
  staleness?: Float64Array;
  probes: number;
  /** Probes the other process never saw within 5 s. */
  unseen: number;
  /** Background events dispatched and acknowledged per second over the run. */
  eventsPerSecond?: number;
  backgroundErrors: number;
  seconds: number;
  failure?: string;
}

const now = () => performance.timeOrigin + performance.now();

export async function staleness(h: Harness): Promise<StalenessResult> {
  const url = `http://127.0.0.1:${h.port}`;
  const out: StalenessResult = { probes: 0, unseen: 0, backgroundErrors: 0, seconds: 0 };
  const writer = new CacheClient({ url });
  let child: FeedChild | undefined;
  try {
    const smallGuilds = Array.from({ length: DEFAULT_SPACE.guilds }, (_, g) => ids.guild(g));
    const probes = (await sampleIds(h.svcUrl, smallGuilds, 16)).members;
    if (probes.length < 16) throw new Error('not enough members to probe');
    child = await FeedChild.start();
    child.send({ kind: 'watch', url, members: probes, pollMs: 1 });
    await child.next('ready', 60_000);

    const resolvedAt = new Map<number, number>();
    const seenAt = new Map<number, number>();
    child.on('seen', (m) => seenAt.set(Number(m.seq), Number(m.at)));

    const gen = new EventGen({ seed: 77, messageSeqStart: 5_000_000 });
    const rate = CFG.stalenessRate;
    const seconds = CFG.stalenessSeconds;
    let sent = 0;
    let acked = 0;
    const pending: Promise<void>[] = [];
    log(`(8) staleness: ${f0(rate)} events/s for ${seconds} s through the client, a probe every ${CFG.stalenessProbeMs} ms, read every 1 ms by another process`);
    const started = performance.now();
    const background = (async () => {
      while (performance.now() - started < seconds * 1000) {
        const due = Math.floor(((performance.now() - started) / 1000) * rate);
        for (; sent < due; sent++) {
          pending.push(
            writer.dispatch(gen.next() as DispatchPacket).then(
              () => void acked++,
              () => void out.backgroundErrors++,
            ),
          );
        }
        if (pending.length > 50_000) await Promise.all(pending.splice(0));
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    const probing = (async () => {
      for (let seq = 1; performance.now() - started < seconds * 1000; seq++) {
        const index = seq % probes.length;
        const [g, u] = probes[index]!;
        const nick = `probe-${seq}`;
        child!.send({ kind: 'expect', index, nick, seq });
        const update = { op: 0, t: 'GUILD_MEMBER_UPDATE', s: 1, d: { guild_id: g, user: { id: u, username: `probe${u.slice(-4)}` }, nick, roles: [], joined_at: '2020-01-01T00:00:00+00:00' } };
        void writer.dispatch(update as DispatchPacket).then(() => resolvedAt.set(seq, now()));
        out.probes = seq;
        await new Promise((r) => setTimeout(r, CFG.stalenessProbeMs));
      }
    })();
    await Promise.all([background, probing]);
    await Promise.all(pending);
    await writer.flush();
    out.seconds = (performance.now() - started) / 1000;
    out.eventsPerSecond = acked / out.seconds;
    // Let the last probes arrive.
    const deadline = Date.now() + 5_000;
    while (seenAt.size < resolvedAt.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const values: number[] = [];
    for (const [seq, resolved] of resolvedAt) {
      const seen = seenAt.get(seq);
      if (seen === undefined) {
        out.unseen++;
        values.push(Infinity);
      } else values.push(Math.max(0, seen - resolved));
    }
    out.staleness = Float64Array.from(values).sort();
    log(`(8) staleness: p50 ${f1(percentile(out.staleness, 0.5))} ms, p99 ${f1(percentile(out.staleness, 0.99))} ms over ${values.length} probes (${out.unseen} not seen); ingest ${f0(out.eventsPerSecond)} events/s`);
  } catch (err) {
    out.failure = errMsg(err);
  } finally {
    await writer.close().catch(() => {});
    await child?.stop();
  }
  return out;
}
