/**
 * LISTEN on a dedicated PostgreSQL connection (a pooled one would be handed to other queries, and a
 * notification only reaches the session that listens). Used by the change feed (`cache/feed-source.ts`).
 *
 * The connection is watched: a `SELECT 1` every `probeMs` that does not answer within `probeMs` counts as a
 * lost connection (a TCP connection cut without a reset would otherwise look idle for hours), and so does
 * any error. A lost connection is reported once, by `onEnd`; the caller decides when to listen again.
 */
import pg from 'pg';

export interface Listener {
  /** Stops listening (`onEnd` is not called). */
  close(): Promise<void>;
}

export interface ListenHandlers {
  onNotification(payload: string): void;
  onEnd(err: Error): void;
}

export async function listen(url: string, channel: string, handlers: ListenHandlers, probeMs = 5_000): Promise<Listener> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 5_000,
    application_name: 'discord-state-cache listen',
  });
  let closed = false;
  let probe: NodeJS.Timeout | undefined;
  const end = (err: Error) => {
    if (closed) return;
    closed = true;
    clearInterval(probe);
    handlers.onEnd(err);
    void client.end().catch(() => {});
  };
  client.on('error', end);
  client.on('end', () => end(new Error('the listening connection closed')));
  client.on('notification', (n) => {
    if (!closed && n.channel === channel) handlers.onNotification(n.payload ?? '');
  });
  try {
    await client.connect();
    await client.query(`LISTEN "${channel}"`);
  } catch (err) {
    closed = true;
    await client.end().catch(() => {});
    throw err;
  }
  probe = setInterval(() => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the listening connection did not answer within ${probeMs} ms`)), probeMs);
    });
    Promise.race([client.query('SELECT 1'), timeout])
      .catch((err: Error) => end(err))
      .finally(() => clearTimeout(timer));
  }, probeMs);
  probe.unref();
  return {
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(probe);
      await client.end().catch(() => {});
    },
  };
}
