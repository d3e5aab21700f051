/**
 * Interactions never wait: the typed client resolves `dispatch()` at once for events the service does not
 * track (learned from GET /v1/events) and does not send them, while tracked events queue behind a slow batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheClient, type DispatchPacket } from '../../src/client/index.js';
import type { Database } from '../../src/db/connect.js';
import type { FastifyInstance } from '../../src/http/app.js';
import { makeApp } from '../helpers/app.js';
import { createPglite } from '../helpers/db.js';

const G = '81384788765712384';
const guildCreate = (s: number): DispatchPacket =>
  ({ payload: { op: 0, t: 'GUILD_CREATE', s, d: { id: G, name: `g${s}`, channels: [], members: [] } }, shardId: 0 }) as never;
const interaction = (s: number): DispatchPacket =>
  ({ payload: { op: 0, t: 'INTERACTION_CREATE', s, d: { id: '1', type: 2, token: 't' } }, shardId: 0 }) as never;

let db: Database;
let app: FastifyInstance;
let url: string;
beforeAll(async () => {
  db = await createPglite();
  app = await makeApp(db);
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

/** A fetch that records the events of every dispatch request and holds each one `delayMs` before sending it. */
function slowFetch(delayMs: number) {
  const sent: string[] = [];
  const f: typeof fetch = async (input, init) => {
    if (String(input).endsWith('/v1/dispatch')) {
      for (const e of JSON.parse(String(init?.body)) as { payload: { t: string } }[]) sent.push(e.payload.t);
      await new Promise((r) => setTimeout(r, delayMs));
    }
    return fetch(input, init);
  };
  return { fetch: f, sent };
}

describe('untracked events', () => {
  it('GET /v1/events lists what the service tracks and ignores', async () => {
    const body = (await app.inject({ method: 'GET', url: '/v1/events' })).json();
    expect(body.tracked).toContain('GUILD_CREATE');
    expect(body.tracked).toContain('VOICE_STATE_UPDATE');
    expect(body.ignored).toContain('INTERACTION_CREATE');
  });

  it('resolve at once and are not sent, while tracked events wait for their commit', async () => {
    const { fetch, sent } = slowFetch(400);
    const client = new CacheClient({ url, fetch });
    await client.learnTrackedEvents();
    expect(client.tracks('GUILD_CREATE')).toBe(true);
    expect(client.tracks('INTERACTION_CREATE')).toBe(false);

    const order: string[] = [];
    const storm = Promise.all([1, 2, 3].map((s) => client.dispatch(guildCreate(s)))).then(() => order.push('storm'));
    const handled = client.dispatch(interaction(4)).then(() => order.push('interaction'));
    const heartbeatAck = client.dispatch({ op: 11, d: null } as never).then(() => order.push('op 11'));
    await Promise.all([storm, handled, heartbeatAck]);
    expect(order).toEqual(['interaction', 'op 11', 'storm']);
    expect(sent).toEqual(['GUILD_CREATE', 'GUILD_CREATE', 'GUILD_CREATE']);
    await client.close();
  });

  it('are sent when the list is not known yet, or with sendUntracked', async () => {
    const unknown = slowFetch(0);
    const fresh = new CacheClient({ url, fetch: unknown.fetch });
    await fresh.dispatch(interaction(1)); // the first call starts learning; this one is sent
    await fresh.close();
    expect(unknown.sent).toEqual(['INTERACTION_CREATE']);

    const all = slowFetch(0);
    const client = new CacheClient({ url, fetch: all.fetch, dispatch: { sendUntracked: true } });
    await client.learnTrackedEvents();
    await client.dispatch(interaction(2));
    await client.close();
    expect(all.sent).toEqual(['INTERACTION_CREATE']);
  });
});
