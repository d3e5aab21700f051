/**
 * The other bot process of the feed workloads (bench/workloads/feed.ts), forked with IPC:
 * - `subscribers`: `count` typed clients with a local cache each, connected to the change feed (they parse
 *   and apply every commit, as a bot's processes do), until told to stop; reports the commits they saw;
 * - `watch`: one client with a local cache reading the probe members every `pollMs`; for every probe nick it
 *   is told to expect, reports when a read first answered it (the start of that read: a read that started
 *   later than the local copy's invalidation, or it would have answered the old nick).
 * Times are `performance.timeOrigin + performance.now()` (ms since the epoch, one clock for both processes).
 */
import { CacheClient } from '../src/client/index.js';

type Command =
  | { kind: 'subscribers'; url: string; count: number }
  | { kind: 'watch'; url: string; members: [string, string][]; pollMs: number }
  | { kind: 'expect'; index: number; nick: string; seq: number }
  | { kind: 'stop' };

const now = () => performance.timeOrigin + performance.now();
const send = (message: object) => process.send?.(message);
const clients: CacheClient[] = [];
let stopped = false;

async function serving(client: CacheClient) {
  for (let i = 0; i < 600 && !client.localCacheStats?.serving; i++) await new Promise((r) => setTimeout(r, 50));
  if (!client.localCacheStats?.serving) throw new Error('the local cache did not go live within 30 s');
}

/** Probe member index → the nick expected next and its sequence number. */
const expected = new Map<number, { nick: string; seq: number }>();

async function watch(url: string, members: [string, string][], pollMs: number) {
  const client = new CacheClient({ url, localCache: { maxEntries: 10_000 } });
  clients.push(client);
  await serving(client);
  for (const [g, u] of members) await client.members.get(g, u);
  send({ kind: 'ready' });
  while (!stopped) {
    for (let i = 0; i < members.length; i++) {
      const wanted = expected.get(i);
      const started = now();
      const member = await client.members.get(members[i]![0], members[i]![1]);
      if (wanted && member?.nick === wanted.nick) {
        expected.delete(i);
        send({ kind: 'seen', seq: wanted.seq, at: started });
      }
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

process.on('message', (command: Command) => {
  switch (command.kind) {
    case 'subscribers':
      void (async () => {
        for (let i = 0; i < command.count; i++) clients.push(new CacheClient({ url: command.url, localCache: { maxEntries: 1_000 } }));
        await Promise.all(clients.map(serving));
        send({ kind: 'ready' });
      })().catch((err: Error) => send({ kind: 'error', message: err.message }));
      break;
    case 'watch':
      void watch(command.url, command.members, command.pollMs).catch((err: Error) => send({ kind: 'error', message: err.message }));
      break;
    case 'expect':
      expected.set(command.index, { nick: command.nick, seq: command.seq });
      break;
    case 'stop':
      stopped = true;
      void (async () => {
        const stats = clients.map((c) => c.localCacheStats!);
        for (const c of clients) await c.close();
        send({ kind: 'stopped', stats });
        process.exit(0);
      })();
      break;
  }
});
send({ kind: 'started' });
