import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tableNames } from '../../src/db/schema.js';
import {
  arrayAt,
  objectAt,
  optionalArrayAt,
  pickColumns,
  snowflakeAt,
  specs,
  toColumn,
  type ColumnSpec,
} from '../../src/discord/columns.js';
import { PayloadError } from '../../src/discord/errors.js';
import { thrown } from './_helpers.js';

const col = (table: keyof typeof specs, name: string): ColumnSpec => {
  const c = specs[table].byName.get(name);
  if (!c) throw new Error(`no column ${table}.${name}`);
  return c;
};

describe('specs (derived from the Drizzle schema)', () => {
  it('has a spec for each of the nine tables', () => {
    expect(Object.keys(specs).sort()).toEqual(
      ['channels', 'guilds', 'members', 'messages', 'presences', 'threads', 'unavailable_guilds', 'users', 'voice_states'],
    );
    expect([...tableNames].sort()).toEqual(Object.keys(specs).sort());
  });

  it('finds single and composite primary keys', () => {
    expect(specs.users.primaryKey).toEqual(['id']);
    expect(specs.guilds.primaryKey).toEqual(['id']);
    expect(specs.channels.primaryKey).toEqual(['id']);
    expect(specs.threads.primaryKey).toEqual(['id']);
    expect(specs.messages.primaryKey).toEqual(['id']);
    expect(specs.unavailable_guilds.primaryKey).toEqual(['id']);
    expect(specs.members.primaryKey).toEqual(['guild_id', 'user_id']);
    expect(specs.presences.primaryKey).toEqual(['guild_id', 'user_id']);
  });

  it('maps each Drizzle column type to its kind', () => {
    expect(col('users', 'id').kind).toBe('snowflake');
    expect(col('users', 'username').kind).toBe('text');
    expect(col('users', 'bot').kind).toBe('bool');
    expect(col('users', 'public_flags').kind).toBe('int');
    expect(col('users', 'avatar_decoration_data').kind).toBe('json');
    expect(col('members', 'roles').kind).toBe('snowflakes');
    expect(col('members', 'joined_at').kind).toBe('time');
    expect(col('guilds', 'roles').kind).toBe('json');
    expect(col('guilds', 'permissions').kind).toBe('text');
    expect(col('messages', 'edited_timestamp').kind).toBe('time');
    expect(col('threads', 'message_count').kind).toBe('int');
    expect(col('unavailable_guilds', 'updated_at').kind).toBe('time');
  });

  it('keeps the schema order of columns and indexes them by name', () => {
    expect(specs.unavailable_guilds.columns.map((c) => c.name)).toEqual(['id', 'updated_at']);
    expect(specs.presences.columns.map((c) => c.name)).toEqual([
      'guild_id',
      'user_id',
      'status',
      'activities',
      'client_status',
      'updated_at',
    ]);
    for (const t of tableNames) {
      expect(specs[t].name).toBe(t);
      expect(specs[t].byName.size).toBe(specs[t].columns.length);
    }
  });

  it('binds and reads each kind with the expected SQL', () => {
    const snowflake = col('users', 'id');
    expect([snowflake.bindType, snowflake.cast('x'), snowflake.read('c')]).toEqual(['bigint', 'x', 'c::text']);
    const snowflakes = col('members', 'roles');
    expect([snowflakes.bindType, snowflakes.cast('x'), snowflakes.read('c')]).toEqual(['text', 'x::bigint[]', 'c::text[]']);
    expect(snowflakes.bind).toBe('array');
    // JSON columns travel as one JSON array per column (jsonb_array_elements); its null elements are NULL.
    const json = col('guilds', 'roles');
    expect([json.bind, json.bindType, json.cast('x'), json.read('c')]).toEqual(['json', 'jsonb', "NULLIF(x, 'null'::jsonb)", 'c']);
    const time = col('members', 'joined_at');
    expect([time.bindType, time.cast('x'), time.read('c')]).toEqual(['timestamptz', 'x', "to_json(c) #>> '{}'"]);
    expect(col('users', 'bot').bindType).toBe('boolean');
    expect(col('users', 'flags').bindType).toBe('integer');
    expect(col('users', 'username').bindType).toBe('text');
  });
});

describe('toColumn', () => {
  const P = 'body[0].d.x';

  it('keeps null as null for every kind', () => {
    for (const c of [col('users', 'id'), col('members', 'roles'), col('users', 'bot'), col('guilds', 'roles')]) {
      expect(toColumn(c, null, P)).toBeNull();
    }
  });

  it('snowflake: accepts snowflake strings, rejects numbers and out-of-range strings', () => {
    const c = col('users', 'id');
    expect(toColumn(c, '900000000000000008', P)).toBe('900000000000000008');
    const e = thrown(() => toColumn(c, 900000000000000008, P));
    expect(e).toBeInstanceOf(PayloadError);
    expect(e.message).toBe(`${P} must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)`);
    expect(() => toColumn(c, '9223372036854775808', P)).toThrow(PayloadError);
    expect(() => toColumn(c, '', P)).toThrow(PayloadError);
  });

  it('snowflakes: binds a PostgreSQL array literal and names the bad element', () => {
    const c = col('members', 'roles');
    expect(toColumn(c, ['1', '900000000000000020'], P)).toBe('{1,900000000000000020}');
    expect(toColumn(c, [], P)).toBe('{}');
    expect(thrown(() => toColumn(c, ['1', 2], P)).message).toBe(`${P}[1] must be a snowflake string`);
    expect(thrown(() => toColumn(c, '1', P)).message).toBe(`${P} must be an array of snowflakes`);
  });

  it('text: strings only', () => {
    const c = col('users', 'username');
    expect(toColumn(c, '', P)).toBe('');
    expect(toColumn(c, 'name_1', P)).toBe('name_1');
    expect(thrown(() => toColumn(c, 5, P)).message).toBe(`${P} must be a string or null`);
  });

  it('int: 32-bit integers only', () => {
    const c = col('users', 'flags');
    expect(toColumn(c, 0, P)).toBe(0);
    expect(toColumn(c, 2147483647, P)).toBe(2147483647);
    expect(toColumn(c, -2147483648, P)).toBe(-2147483648);
    for (const bad of [2147483648, -2147483649, 1.5, '1', Number.NaN, Infinity]) {
      expect(thrown(() => toColumn(c, bad, P)).message).toBe(`${P} must be a 32-bit integer or null`);
    }
  });

  it('bool: booleans only', () => {
    const c = col('users', 'bot');
    expect(toColumn(c, true, P)).toBe(true);
    expect(toColumn(c, false, P)).toBe(false);
    expect(thrown(() => toColumn(c, 'true', P)).message).toBe(`${P} must be a boolean or null`);
    expect(() => toColumn(c, 0, P)).toThrow(PayloadError);
  });

  it('time: ISO-8601 strings as Discord sends them', () => {
    const c = col('members', 'joined_at');
    for (const ok of [
      '2026-02-08T18:34:51.331000+00:00',
      '2026-02-14T02:17:22.812537+00:00',
      '2026-02-08T18:34:51Z',
      '2026-02-08 18:34:51Z',
      '2026-02-08',
      '2024-02-29T00:00:00Z', // leap year
      '2026-01-31T23:59:59Z',
      '2026-02-28T00:00:00Z',
    ]) {
      expect(toColumn(c, ok, P)).toBe(ok);
    }
    for (const bad of ['yesterday', '2026-13-01', '2026-02-29T00:00:00Z', '2026-04-31', '2026-02-00', '1770575691000', 1770575691000, '2026-02-08T18:34:51.331000+00:00 x']) {
      expect(thrown(() => toColumn(c, bad, P)).message).toBe(`${P} must be an ISO-8601 timestamp string or null`);
    }
  });

  it('json: any value, serialized', () => {
    const c = col('guilds', 'features');
    expect(toColumn(c, [{ id: '1', name: 'a' }], P)).toBe('[{"id":"1","name":"a"}]');
    expect(toColumn(c, {}, P)).toBe('{}');
    expect(toColumn(c, 'x', P)).toBe('"x"');
    expect(toColumn(c, 0, P)).toBe('0');
  });

  it('json: round-trips any JSON value', () => {
    const c = col('messages', 'embeds');
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        if (v === null) return;
        // What JSON can carry (-0 is written 0, as by any JSON encoder).
        expect(JSON.parse(toColumn(c, v, P) as string)).toEqual(JSON.parse(JSON.stringify(v)));
      }),
    );
  });
});

describe('pickColumns', () => {
  it('takes only the keys that are columns, converted, and skips unknown keys', () => {
    const row = pickColumns(
      'users',
      { id: '1', username: 'u', bot: true, flags: 0, display_name_styles: null, clan: { tag: 'x' }, collectibles: null },
      'p',
    );
    expect(row).toEqual({ id: '1', username: 'u', bot: true, flags: 0, collectibles: null });
  });

  it('leaves absent keys out and keeps present nulls as null', () => {
    const row = pickColumns('messages', { content: 'c', edited_timestamp: null }, 'p');
    expect(row).toEqual({ content: 'c', edited_timestamp: null });
    expect('edited_timestamp' in row).toBe(true);
    expect('pinned' in row).toBe(false);
  });

  it('treats explicit undefined like absent', () => {
    expect(pickColumns('users', { id: '1', username: undefined }, 'p')).toEqual({ id: '1' });
  });

  it('never takes updated_at from a payload', () => {
    expect(pickColumns('users', { id: '1', updated_at: '2026-01-01T00:00:00Z' }, 'p')).toEqual({ id: '1' });
  });

  it('skips the columns the caller fills itself', () => {
    const row = pickColumns('members', { guild_id: '5', user_id: '6', nick: 'n' }, 'p', new Set(['guild_id', 'user_id']));
    expect(row).toEqual({ nick: 'n' });
  });

  it('serializes JSON columns and array-literals snowflake arrays', () => {
    const row = pickColumns('members', { roles: ['7', '8'], avatar_decoration_data: { asset: 'a' } }, 'p');
    expect(row).toEqual({ roles: '{7,8}', avatar_decoration_data: '{"asset":"a"}' });
  });

  it('names the offending field in its error', () => {
    const e = thrown(() => pickColumns('users', { id: '1', bot: 'yes' }, 'body[2].d.user'));
    expect(e).toBeInstanceOf(PayloadError);
    expect((e as PayloadError).path).toBe('body[2].d.user.bot');
    expect(e.message).toBe('body[2].d.user.bot must be a boolean or null');
  });

  it('does not mutate its input', () => {
    const obj = { id: '1', roles: ['2'] };
    pickColumns('members', obj, 'p');
    expect(obj).toEqual({ id: '1', roles: ['2'] });
  });
});

describe('snowflakeAt / objectAt / arrayAt / optionalArrayAt', () => {
  it('snowflakeAt returns the id or says what is wrong, with the path', () => {
    expect(snowflakeAt('42', 'a.id')).toBe('42');
    expect(thrown(() => snowflakeAt(undefined, 'body[2].d.user.id')).message).toBe(
      'body[2].d.user.id is required (a snowflake string)',
    );
    const e = thrown(() => snowflakeAt(42, 'body[2].d.user.id'));
    expect(e).toBeInstanceOf(PayloadError);
    expect(e.name).toBe('PayloadError');
    expect((e as PayloadError).path).toBe('body[2].d.user.id');
    expect(e.message).toBe('body[2].d.user.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)');
    expect(() => snowflakeAt(null, 'x')).toThrow('x must be a snowflake');
  });

  it('objectAt accepts plain objects only', () => {
    const o = { a: 1 };
    expect(objectAt(o, 'p')).toBe(o);
    expect(thrown(() => objectAt(undefined, 'p.user')).message).toBe('p.user is required (an object)');
    expect(thrown(() => objectAt(null, 'p.user')).message).toBe('p.user must be an object');
    expect(thrown(() => objectAt([], 'p.user')).message).toBe('p.user must be an object');
    expect(thrown(() => objectAt('x', 'p.user')).message).toBe('p.user must be an object');
  });

  it('arrayAt accepts arrays only', () => {
    const a = [1];
    expect(arrayAt(a, 'p')).toBe(a);
    expect(thrown(() => arrayAt(undefined, 'p.ids')).message).toBe('p.ids is required (an array)');
    expect(thrown(() => arrayAt({}, 'p.ids')).message).toBe('p.ids must be an array');
    expect(thrown(() => arrayAt(null, 'p.ids')).message).toBe('p.ids must be an array');
  });

  it('optionalArrayAt treats absent and null as absent', () => {
    expect(optionalArrayAt(undefined, 'p')).toBeUndefined();
    expect(optionalArrayAt(null, 'p')).toBeUndefined();
    expect(optionalArrayAt([], 'p')).toEqual([]);
    expect(thrown(() => optionalArrayAt('x', 'p.members')).message).toBe('p.members must be an array');
  });
});
