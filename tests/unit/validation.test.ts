/**
 * What PostgreSQL would refuse, or what would break the cache later, is refused at validation with the
 * field's path (issue: database-refused 400s named no field; stored shapes broke later events; deep JSON
 * answered 500; nested camelCase keys were dropped silently; `0042` was stored as 42).
 */
import { describe, expect, it } from 'vitest';
import { mapDispatch } from '../../src/cache/events/index.js';
import { pickColumns, specs, toColumn, type ColumnSpec } from '../../src/discord/columns.js';
import { PayloadError } from '../../src/discord/errors.js';
import { MAX_JSON_DEPTH } from '../../src/discord/json-shapes.js';
import { thrown } from './_helpers.js';

const col = (table: keyof typeof specs, name: string): ColumnSpec => specs[table].byName.get(name)!;
const P = 'body[0].d.x';
const rejects = (fn: () => unknown, message: string) => {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(PayloadError);
  expect(e.message).toBe(message);
};
const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? { a: v } : [v];
  return v;
};

describe('timestamps PostgreSQL refuses', () => {
  const c = col('members', 'joined_at');
  it.each(['0000-01-01T00:00:00Z', '2024-01-01T23:59:60.5Z', '2024-01-01T23:59:60.000001+00:00', '2024-01-01T00:00:00+16:00', '2024-01-01T24:00:00Z'])(
    'refuses %s naming the field',
    (v) => rejects(() => toColumn(c, v, P), `${P} must be an ISO-8601 timestamp string or null`),
  );
  it.each(['0001-01-01T00:00:00Z', '2024-01-01T23:59:60Z', '2024-01-01T23:59:60.000Z', '2024-01-01T00:00:00+15:59', '9999-12-31T23:59:59.999999Z'])(
    'accepts %s',
    (v) => expect(toColumn(c, v, P)).toBe(v),
  );
});

describe('lone UTF-16 surrogates', () => {
  it('refuses them in text columns', () => {
    rejects(() => toColumn(col('users', 'username'), 'a\uD800b', P), `${P} contains a lone UTF-16 surrogate (not valid Unicode)`);
    expect(toColumn(col('users', 'username'), 'ok \uD83D\uDE00', P)).toBe('ok \uD83D\uDE00');
  });
  it('refuses them in JSON values and keys, naming the path', () => {
    const embeds = col('messages', 'embeds');
    rejects(() => toColumn(embeds, [{ title: 'x\uDC00' }], P), `${P}[0].title contains a lone UTF-16 surrogate (not valid Unicode)`);
    rejects(() => toColumn(embeds, [{ ['k\uD800']: 1 }], P), `${P}[0].k\uD800 has a key with a lone UTF-16 surrogate (not valid Unicode)`);
    expect(toColumn(embeds, [{ title: '\uD83D\uDE00' }], P)).toBe('[{"title":"😀"}]');
  });
});

describe('JSON nesting', () => {
  const embeds = col('messages', 'embeds');
  it(`accepts ${MAX_JSON_DEPTH} levels`, () => {
    expect(() => toColumn(embeds, nested(MAX_JSON_DEPTH), P)).not.toThrow();
  });
  it('refuses one level more, and 5,000 levels, with a 400 naming where (never a RangeError)', () => {
    expect(thrown(() => toColumn(embeds, nested(MAX_JSON_DEPTH + 1), P)).message).toMatch(
      new RegExp(`^${P.replace(/[[\].]/g, '\\$&')}[\\[\\]0-9.a]* is nested deeper than ${MAX_JSON_DEPTH} levels$`),
    );
    expect(thrown(() => toColumn(embeds, nested(5_000), P))).toBeInstanceOf(PayloadError);
  });
  it('a deep value inside a dispatch is a PayloadError naming the column', () => {
    const e = thrown(() =>
      mapDispatch({ op: 0, t: 'MESSAGE_CREATE', d: { id: '1', channel_id: '2', embeds: nested(5_000) } }, 'body[0]', { deleteOfflinePresences: false }),
    );
    expect(e).toBeInstanceOf(PayloadError);
    expect(e.message).toMatch(/^body\[0\]\.d\.embeds/);
  });
});

describe('shapes of the JSON columns the cache computes with', () => {
  it.each([[[null]], ['x'], [{ a: 1 }], [[{ emoji: null, count: 1 }]], [[{ emoji: { name: 'x' } }]], [[{ emoji: { id: 'x' }, count: 1 }]], [[{ emoji: { name: 'x' }, count: -1 }]]])(
    'messages.reactions refuses %j',
    (v) => expect(thrown(() => toColumn(col('messages', 'reactions'), v, P)).message).toMatch(/^body\[0\]\.d\.x/),
  );
  it('messages.reactions accepts what Discord sends', () => {
    const r = [{ count: 2, count_details: { burst: 0, normal: 2 }, me: false, me_burst: false, burst_colors: [], emoji: { id: null, name: '👍' } }];
    expect(toColumn(col('messages', 'reactions'), r, P)).toBe(JSON.stringify(r));
  });
  it.each([[[null]], ['x'], [5], [{}], [[{ name: 'no id' }]], [[{ id: '1', permissions: 8 }]]])('guilds.roles refuses %j', (v) =>
    expect(thrown(() => toColumn(col('guilds', 'roles'), v, P))).toBeInstanceOf(PayloadError),
  );
  it('names the element and the property', () => {
    rejects(() => toColumn(col('guilds', 'roles'), [{ id: '1', permissions: '8' }, null], P), `${P}[1] must be an object`);
    rejects(() => toColumn(col('guilds', 'roles'), [{ id: '1', permissions: 8 }], P), `${P}[0].permissions must be a permission bit set (a decimal string)`);
    rejects(
      () => toColumn(col('channels', 'permission_overwrites'), [{ id: '1', type: 0, allow: '0', deny: 'x' }], P),
      `${P}[0].deny must be a permission bit set (a decimal string)`,
    );
  });
  it('GUILD_ROLE_CREATE checks its role like guilds.roles', () => {
    const e = thrown(() =>
      mapDispatch({ op: 0, t: 'GUILD_ROLE_CREATE', d: { guild_id: '1', role: { id: '2', permissions: 5 } } }, 'body[0]', { deleteOfflinePresences: false }),
    );
    expect(e.message).toBe('body[0].d.role.permissions must be a permission bit set (a decimal string)');
  });
});

describe('camelCase keys in nested objects', () => {
  it('are refused, not dropped', () => {
    rejects(
      () => pickColumns('users', { id: '1', globalName: 'x' }, 'body[0].d.author'),
      'body[0].d.author.globalName is camelCased: forward the raw gateway packet with snake_case keys (in Discordeno 21, create the gateway manager with `preferSnakeCase: true`, or forward the packet before transformation)',
    );
    const e = thrown(() =>
      mapDispatch(
        { op: 0, t: 'GUILD_MEMBER_ADD', d: { guild_id: '1', user: { id: '2', avatarDecorationData: null }, roles: [] } },
        'body[0]',
        { deleteOfflinePresences: false },
      ),
    );
    expect(e.message).toMatch(/^body\[0\]\.d\.user\.avatarDecorationData is camelCased/);
  });
});

describe('READY shard bounds', () => {
  it.each([[[0, 1e21]], [[1e21, 1e22]], [[0, 2 ** 31]]])('refuses shard %j naming the field', (shard) => {
    const e = thrown(() => mapDispatch({ op: 0, t: 'READY', d: { shard, user: { id: '1' }, guilds: [] } }, 'body[0]', { deleteOfflinePresences: false }));
    expect(e.message).toMatch(/^body\[0\]\.d\.shard must be \[shard_id, num_shards\]/);
  });
  it('refuses a forward shardId beyond 32 bits', () => {
    const e = thrown(() => mapDispatch({ payload: { op: 0, t: 'USER_UPDATE', d: { id: '1' } }, shardId: 1e21 }, 'body[0]', { deleteOfflinePresences: false }));
    expect(e.message).toMatch(/^body\[0\]\.shardId must be/);
  });
});
