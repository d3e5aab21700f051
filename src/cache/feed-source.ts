/**
 * Where an instance's feed (`feed.ts`) hears of commits, and what the writer does to publish one.
 *
 * - PostgreSQL: every instance LISTENs on a dedicated connection to the primary (`DATABASE_URL`: a streaming
 *   replica does not relay NOTIFY) and relays what it hears, its own commits included. A lost connection
 *   stops the feed (every stream ends; `/v1/changes` answers 503) and is retried with backoff; listening
 *   again starts a new window (subscribers coming back are told to reset).
 * - PGlite (embedded, one process): no LISTEN/NOTIFY between processes, and none needed: the writer hands
 *   each commit's changes to the feed in-process once it is committed.
 */
import type { Database } from '../db/connect.js';
import type { Listener } from '../db/listen.js';
import type { Feed } from './feed.js';
import type { FeedChange } from './feed-protocol.js';
import { FEED_CHANNEL, Reassembly, publication } from './feed-publish.js';
import type { Part } from './statements.js';

/** What the writer needs to publish a commit. */
export interface Publisher {
  /** The part of the commit's last statement that publishes `changes` and returns the commit's feed id. */
  part(changes: readonly FeedChange[]): Part;
  /** After the commit. */
  committed(id: number, changes: readonly FeedChange[]): void;
}

export interface FeedSource {
  publisher: Publisher;
  close(): Promise<void>;
}

interface Log {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** The last id the sequence gave out (0 before the first). */
async function sequenceValue(db: Database): Promise<number> {
  const rows = await db.query<{ last_value: string; is_called: boolean }>('SELECT last_value::text AS last_value, is_called FROM change_feed_id');
  return rows[0]?.is_called ? Number(rows[0].last_value) : 0;
}

export async function startFeedSource(db: Database, feed: Feed, log: Log, retryMs = { min: 200, max: 5_000 }): Promise<FeedSource> {
  const listenOn = db.listen?.bind(db);
  if (!listenOn) {
    feed.start(await sequenceValue(db));
    return {
      publisher: { part: (changes) => publication('pglite', changes), committed: (id, changes) => feed.publish(id, changes) },
      close: async () => feed.stop(),
    };
  }

  let closed = false;
  let listener: Listener | undefined;
  let timer: NodeJS.Timeout | undefined;
  let delay = retryMs.min;

  const connect = async () => {
    timer = undefined;
    const assembly = new Reassembly();
    // Commits heard before the window starts (between LISTEN and reading the sequence) are relayed after it.
    let early: { id: number; changes: FeedChange[] }[] | undefined = [];
    const relay = (payload: string) => {
      const got = assembly.accept(payload);
      if (got === undefined) return;
      if ('gap' in got) return feed.reset(got.gap, 'a notification was lost');
      if (early) early.push(got);
      else feed.publish(got.id, got.changes);
    };
    let ended = false;
    try {
      listener = await listenOn(FEED_CHANNEL, {
        onNotification: relay,
        onEnd: (err) => {
          ended = true;
          listener = undefined;
          feed.stop();
          log.warn({ err: err.message }, 'change feed: the LISTEN connection was lost; streams ended, listening again');
          retry();
        },
      });
      const floor = await sequenceValue(db);
      if (closed) return void (await listener?.close());
      if (ended) return; // lost meanwhile: onEnd retries
      feed.start(floor);
      for (const commit of early) feed.publish(commit.id, commit.changes);
      early = undefined;
      delay = retryMs.min;
    } catch (err) {
      await listener?.close();
      listener = undefined;
      log.warn({ err: (err as Error).message }, 'change feed: cannot LISTEN; retrying');
      retry();
    }
  };
  const retry = () => {
    if (closed || timer) return;
    timer = setTimeout(() => void connect(), delay);
    timer.unref();
    delay = Math.min(retryMs.max, delay * 2);
  };

  await connect();
  return {
    publisher: { part: (changes) => publication('postgres', changes), committed: () => {} },
    async close() {
      closed = true;
      clearTimeout(timer);
      feed.stop();
      await listener?.close();
    },
  };
}
