/** GET /v1/guilds/:guildId/members/:userId/permissions against real PostgreSQL; values computed by hand. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FastifyInstance } from '../../src/http/app.js';
import { dispatch, ev, makeApp } from '../helpers/app.js';
import { createPostgres } from '../helpers/db.js';
import { get } from '../helpers/http.js';

const VIEW = 1024; // 1 << 10
const SEND = 2048; // 1 << 11
const READ = 65536; // 1 << 16 READ_MESSAGE_HISTORY
const REACT = 64; // 1 << 6
const EMBED = 16384; // 1 << 14
const ATTACH = 32768; // 1 << 15
const MANAGE_MESSAGES = 8192; // 1 << 13
const ADMIN = 8; // 1 << 3
const ALL = '8584986789675007';

const G = '1000';
const member = (id: string, roles: string[], extra: Record<string, unknown> = {}) => ({
  user: { id, username: `u${id}` },
  roles,
  joined_at: '2024-01-01T00:00:00.000Z',
  ...extra,
});

let app: FastifyInstance;
let close: () => Promise<void>;

beforeAll(async () => {
  const pg = await createPostgres();
  close = pg.close;
  app = await makeApp(pg.db);
  const guild = {
    id: G,
    name: 'perms',
    owner_id: '1',
    roles: [
      { id: G, name: '@everyone', permissions: String(VIEW | SEND | READ) },
      { id: '1001', name: 'A', permissions: String(REACT | EMBED) },
      { id: '1002', name: 'B', permissions: String(ATTACH) },
      { id: '1003', name: 'admin', permissions: String(ADMIN) },
    ],
    members: [
      member('1', []),
      member('2', ['1001']),
      member('3', ['1001', '1002']),
      member('4', ['1003']),
      member('5', ['1001'], { communication_disabled_until: '2999-01-01T00:00:00.000Z' }),
      member('6', ['1001'], { communication_disabled_until: '2000-01-01T00:00:00.000Z' }),
      member('7', ['1003'], { communication_disabled_until: '2999-01-01T00:00:00.000Z' }),
    ],
    channels: [
      {
        id: '2000',
        type: 0,
        permission_overwrites: [
          { id: G, type: 0, allow: '0', deny: String(SEND) },
          { id: '1001', type: 0, allow: String(SEND), deny: String(EMBED) },
          { id: '1002', type: 0, allow: String(MANAGE_MESSAGES), deny: String(SEND | REACT) },
          { id: '3', type: 1, allow: '0', deny: String(READ) },
          { id: '2', type: 1, allow: String(ATTACH), deny: '0' },
          { id: '1', type: 1, allow: '0', deny: String(VIEW) },
          { id: '4', type: 1, allow: '0', deny: String(VIEW) },
        ],
      },
      { id: '2001', type: 0 },
    ],
    threads: [
      { id: '3000', type: 11, parent_id: '2000' },
      { id: '3001', type: 11, parent_id: '2999' },
    ],
  };
  const other = { id: '9999', name: 'other', owner_id: '1', roles: [], channels: [{ id: '4000', type: 0 }] };
  const res = await dispatch(app, [ev('GUILD_CREATE', guild), ev('GUILD_CREATE', other)]);
  expect(res.status).toBe(200);
});
afterAll(async () => {
  await app?.close();
  await close?.();
});

const perms = async (userId: string, channelId?: string) => {
  const qs = channelId === undefined ? '' : `?channel_id=${channelId}`;
  return get(app, `/v1/guilds/${G}/members/${userId}/permissions${qs}`);
};
const value = async (userId: string, channelId?: string) => {
  const res = await perms(userId, channelId);
  expect(res.status).toBe(200);
  return res.body.permissions as string;
};

describe('guild level', () => {
  test('the owner has every permission, even with a channel overwrite denying VIEW', async () => {
    expect(await perms('1')).toEqual({ status: 200, body: { permissions: ALL } });
    expect(await value('1', '2000')).toBe(ALL);
  });

  test('@everyone plus the member roles', async () => {
    expect(await value('2')).toBe(String(VIEW | SEND | READ | REACT | EMBED));
    expect(await value('3')).toBe(String(VIEW | SEND | READ | REACT | EMBED | ATTACH));
  });

  test('ADMINISTRATOR gives everything and ignores overwrites and timeouts', async () => {
    expect(await value('4')).toBe(ALL);
    expect(await value('4', '2000')).toBe(ALL);
    expect(await value('7', '2000')).toBe(ALL);
  });
});

describe('channel overwrites', () => {
  test('@everyone, then the roles (deny then allow), then the member', async () => {
    // base VIEW|SEND|READ|REACT|EMBED; @everyone denies SEND; role A denies EMBED, allows SEND; member allows ATTACH
    expect(await value('2', '2000')).toBe(String(VIEW | READ | REACT | SEND | ATTACH));
  });

  test('role allows win over role denies; the member overwrite wins over roles', async () => {
    // base VIEW|SEND|READ|REACT|EMBED|ATTACH; @everyone -SEND; roles deny EMBED|SEND|REACT, allow SEND|MANAGE_MESSAGES;
    // member denies READ
    expect(await value('3', '2000')).toBe(String(VIEW | SEND | ATTACH | MANAGE_MESSAGES));
  });

  test('a channel without overwrites keeps the base', async () => {
    expect(await value('2', '2001')).toBe(String(VIEW | SEND | READ | REACT | EMBED));
  });

  test('a thread uses its parent channel', async () => {
    expect(await value('2', '3000')).toBe(await value('2', '2000'));
    expect(await value('3', '3000')).toBe(String(VIEW | SEND | ATTACH | MANAGE_MESSAGES));
  });
});

describe('timeouts', () => {
  test('a timed-out member keeps only VIEW_CHANNEL and READ_MESSAGE_HISTORY', async () => {
    expect(await value('5')).toBe(String(VIEW | READ));
    // in #2000: VIEW|READ|REACT|SEND (no member overwrite) → VIEW|READ
    expect(await value('5', '2000')).toBe(String(VIEW | READ));
  });

  test('a timeout in the past changes nothing', async () => {
    expect(await value('6')).toBe(String(VIEW | SEND | READ | REACT | EMBED));
  });
});

describe('errors', () => {
  test('404 when the guild, the member or the channel is not cached', async () => {
    expect((await get(app, '/v1/guilds/1234/members/2/permissions')).body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      code: 'NOT_CACHED',
      message: 'guild 1234 is not cached',
    });
    expect((await perms('77')).body.message).toBe('member 77 is not cached');
    expect((await perms('2', '5555')).body.message).toBe('channel 5555 is not cached');
    const orphan = await perms('2', '3001');
    expect(orphan.status).toBe(404);
    expect(orphan.body.message).toContain('channel 2999');
  });

  test('400 for a bad channel_id, or a channel of another guild', async () => {
    const bad = await perms('2', 'abc');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^querystring\.channel_id /);
    const foreign = await perms('2', '4000');
    expect(foreign.status).toBe(400);
    expect(foreign.body.message).toMatch(/^querystring\.channel_id /);
  });
});
