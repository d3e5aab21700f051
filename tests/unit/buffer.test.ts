/**
 * The per-row merge buffer (src/cache/buffer.ts), without a database: its merge rules, what it answers about a
 * row, that it never mutates the rows it is given, and (property) that writing it as the batch does (updates,
 * then deletes, then upserts) ends where applying the changes one by one would.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RowBuffers, saturate } from '../../src/cache/buffer.js';
import type { Row } from '../../src/discord/columns.js';

const INT4_MAX = 2147483647;
const INT4_MIN = -2147483648;

/** A buffer over the two tables these tests use: guilds (key `id`) and members (key `guild_id`, `user_id`). */
const buffers = () => new RowBuffers(['guilds', 'members']);

describe('RowBuffers: merge rules', () => {
  it('an upsert after an upsert of the same row merges its columns, the later value winning', () => {
    const b = buffers();
    b.upsert('guilds', { id: '1', name: 'a', description: 'd' });
    b.upsert('guilds', { id: '1', name: 'b', member_count: 3 });
    b.upsert('guilds', { id: '2', name: 'other' });
    const g = b.of('guilds');
    expect([...g.upserts.entries()]).toEqual([
      ['1', { id: '1', name: 'b', description: 'd', member_count: 3 }],
      ['2', { id: '2', name: 'other' }],
    ]);
    expect(g.deletes.size + g.updates.size).toBe(0);
    expect(g.size).toBe(2);
  });

  it('rows are keyed by the whole primary key (members: guild and user)', () => {
    const b = buffers();
    b.upsert('members', { guild_id: '1', user_id: '2', nick: 'a' });
    b.upsert('members', { guild_id: '2', user_id: '1', nick: 'b' });
    b.upsert('members', { guild_id: '1', user_id: '2', deaf: true });
    expect(b.keyOf('members', { guild_id: '1', user_id: '2' })).toBe('1:2');
    expect([...b.of('members').upserts.values()]).toEqual([
      { guild_id: '1', user_id: '2', nick: 'a', deaf: true },
      { guild_id: '2', user_id: '1', nick: 'b' },
    ]);
  });

  it('a delete drops the pending upsert and update of its row and is remembered', () => {
    const b = buffers();
    b.upsert('guilds', { id: '1', name: 'a' });
    b.update('guilds', { id: '2', name: 'x' });
    b.delete('guilds', { id: '1' });
    b.delete('guilds', { id: '2' });
    const g = b.of('guilds');
    expect(g.upserts.size).toBe(0);
    expect(g.updates.size).toBe(0);
    expect([...g.deletes.keys()]).toEqual(['1', '2']);
  });

  it('an upsert after a delete replaces the row: nothing of the earlier upsert survives, the delete stays', () => {
    const b = buffers();
    b.upsert('guilds', { id: '1', name: 'a', description: 'old' });
    b.delete('guilds', { id: '1' });
    b.upsert('guilds', { id: '1', name: 'b' });
    const g = b.of('guilds');
    expect(g.upserts.get('1')).toEqual({ id: '1', name: 'b' });
    expect(g.deletes.has('1')).toBe(true); // written first: the row is replaced, not merged with the database's
  });

  it('an update folds into the pending upsert of its row (no separate update is kept)', () => {
    const b = buffers();
    b.upsert('guilds', { id: '1', name: 'a', member_count: 5 });
    b.update('guilds', { id: '1', name: 'b' }, { member_count: 2 });
    const g = b.of('guilds');
    expect(g.upserts.get('1')).toEqual({ id: '1', name: 'b', member_count: 7 });
    expect(g.updates.size).toBe(0);
  });

  it('an increment of a column the pending upsert does not carry is kept as an update (it commutes with the upsert)', () => {
    const b = buffers();
    b.upsert('guilds', { id: '1', name: 'a' });
    b.update('guilds', { id: '1', description: 'd' }, { member_count: 1 });
    b.update('guilds', { id: '1' }, { member_count: 1 });
    const g = b.of('guilds');
    expect(g.upserts.get('1')).toEqual({ id: '1', name: 'a', description: 'd' });
    expect(g.updates.get('1')).toEqual({ row: {}, inc: { member_count: 2 } });
  });

  it('an update of a row known to be deleted is dropped; after a re-insert it folds again', () => {
    const b = buffers();
    b.delete('guilds', { id: '1' });
    b.update('guilds', { id: '1', name: 'x' }, { member_count: 1 });
    expect(b.of('guilds').updates.size).toBe(0);
    expect(b.of('guilds').upserts.size).toBe(0);
    b.upsert('guilds', { id: '1', member_count: 0 });
    b.update('guilds', { id: '1', name: 'y' }, { member_count: 1 });
    expect(b.of('guilds').upserts.get('1')).toEqual({ id: '1', member_count: 1, name: 'y' });
  });

  it('updates of a row the buffer knows nothing about merge with each other: a set discards earlier increments, later increments add to it', () => {
    const b = buffers();
    b.update('guilds', { id: '1', name: 'a' }, { member_count: 1 });
    b.update('guilds', { id: '1' }, { member_count: 2 });
    expect(b.of('guilds').updates.get('1')).toEqual({ row: { id: '1', name: 'a' }, inc: { member_count: 3 } });
    b.update('guilds', { id: '1', member_count: 10 });
    expect(b.of('guilds').updates.get('1')).toEqual({ row: { id: '1', name: 'a', member_count: 10 }, inc: {} });
    b.update('guilds', { id: '1' }, { member_count: -4 });
    expect(b.of('guilds').updates.get('1')).toEqual({ row: { id: '1', name: 'a', member_count: 6 }, inc: {} });
    expect(b.of('guilds').upserts.size).toBe(0);
  });

  it('increments add up and saturate at the int4 bounds; a NULL counter stays NULL', () => {
    const b = buffers();
    b.upsert('guilds', { id: '1', member_count: INT4_MAX - 1 });
    b.update('guilds', { id: '1' }, { member_count: 5 });
    expect(b.of('guilds').upserts.get('1')!.member_count).toBe(INT4_MAX);
    b.upsert('guilds', { id: '2', member_count: INT4_MIN + 1 });
    b.update('guilds', { id: '2' }, { member_count: -5 });
    expect(b.of('guilds').upserts.get('2')!.member_count).toBe(INT4_MIN);
    b.upsert('guilds', { id: '3', member_count: null });
    b.update('guilds', { id: '3' }, { member_count: 1 });
    expect(b.of('guilds').upserts.get('3')!.member_count).toBeNull();
    // a pending update that sets the counter saturates the same way
    b.update('guilds', { id: '4', member_count: INT4_MAX });
    b.update('guilds', { id: '4' }, { member_count: 1 });
    expect(b.of('guilds').updates.get('4')!.row.member_count).toBe(INT4_MAX);
    b.update('guilds', { id: '5', member_count: null });
    b.update('guilds', { id: '5' }, { member_count: 1 });
    expect(b.of('guilds').updates.get('5')!.row.member_count).toBeNull();

    expect([saturate(INT4_MAX + 1), saturate(INT4_MIN - 1), saturate(12)]).toEqual([INT4_MAX, INT4_MIN, 12]);
  });
});

describe('RowBuffers: what it knows of a row', () => {
  it('known(): present with a pending upsert, absent when deleted, unknown otherwise (a pending update says nothing)', () => {
    const b = buffers();
    b.upsert('guilds', { id: '1' });
    b.delete('guilds', { id: '2' });
    b.update('guilds', { id: '3', name: 'x' });
    expect(b.known('guilds', { id: '1' })).toBe('present');
    expect(b.known('guilds', { id: '2' })).toBe('absent');
    expect(b.known('guilds', { id: '3' })).toBe('unknown');
    expect(b.known('guilds', { id: '4' })).toBe('unknown');
    b.upsert('guilds', { id: '2' });
    expect(b.known('guilds', { id: '2' })).toBe('present');
    expect(b.known('members', { guild_id: '1', user_id: '1' })).toBe('unknown'); // other table
  });

  it('column(): the value of a pending upsert (null for an explicit null)', () => {
    const b = buffers();
    b.upsert('guilds', { id: '1', name: 'a', description: null });
    expect(b.column('guilds', { id: '1' }, 'name')).toEqual({ value: 'a' });
    expect(b.column('guilds', { id: '1' }, 'description')).toEqual({ value: null });
  });

  it('column(): absent for a deleted row; null for a column a replacing upsert does not carry', () => {
    const b = buffers();
    b.delete('guilds', { id: '1' });
    expect(b.column('guilds', { id: '1' }, 'roles')).toEqual({ absent: true });
    b.upsert('guilds', { id: '1', name: 'a' });
    expect(b.column('guilds', { id: '1' }, 'roles')).toEqual({ value: null });
  });

  it('column(): a pending update applies only if the row is in the database (otherwise: no row, or the upsert inserts it empty)', () => {
    const b = buffers();
    b.update('guilds', { id: '1', roles: '[1]' });
    expect(b.column('guilds', { id: '1' }, 'roles')).toEqual({ ifInDb: '[1]', otherwise: undefined });
    // an update that came before the row's upsert: it still applies only to a row in the database, and the
    // upsert inserts a missing row without that column
    b.update('guilds', { id: '2', roles: '[2]' });
    b.upsert('guilds', { id: '2', name: 'a' });
    expect(b.column('guilds', { id: '2' }, 'roles')).toEqual({ ifInDb: '[2]', otherwise: null });
    // an increment the pending upsert does not carry: the database's value decides
    b.update('guilds', { id: '2' }, { member_count: 1 });
    expect(b.column('guilds', { id: '2' }, 'member_count')).toEqual({ fromDb: true, otherwise: null });
  });

  it('column(): the database decides when the buffer holds nothing for that column of that row', () => {
    const b = buffers();
    expect(b.column('guilds', { id: '1' }, 'roles')).toEqual({ fromDb: true, otherwise: undefined });
    b.upsert('guilds', { id: '1', name: 'a' });
    expect(b.column('guilds', { id: '1' }, 'roles')).toEqual({ fromDb: true, otherwise: null });
    b.update('guilds', { id: '3', name: 'x' });
    expect(b.column('guilds', { id: '3' }, 'roles')).toEqual({ fromDb: true, otherwise: undefined });
  });
});

describe('RowBuffers: copy-on-merge', () => {
  it('never mutates a row given to upsert or update (a failed group is retried with the same changes)', () => {
    const first = Object.freeze({ id: '1', name: 'a', member_count: 1 });
    const second = Object.freeze({ id: '1', description: 'd' });
    const setter = Object.freeze({ id: '1', name: 'b' });
    const inc = Object.freeze({ member_count: 2 });
    const b = buffers();
    // Frozen rows: a mutation throws here (ES modules are strict).
    b.upsert('guilds', first);
    b.upsert('guilds', second);
    b.update('guilds', setter, inc);
    b.upsert('guilds', Object.freeze({ id: '1', member_count: 10 }));
    expect(b.of('guilds').upserts.get('1')).toEqual({ id: '1', name: 'b', description: 'd', member_count: 10 });
    expect(b.of('guilds').upserts.get('1')).not.toBe(first);
    expect(first).toEqual({ id: '1', name: 'a', member_count: 1 });
  });

  it('the same change applied to two buffers gives both the same result', () => {
    const changes: [string, Row][] = [
      ['upsert', { id: '1', name: 'a' }],
      ['update', { id: '1', description: 'x' }],
      ['upsert', { id: '1', member_count: 3 }],
    ];
    const run = () => {
      const b = buffers();
      for (const [kind, row] of changes) {
        if (kind === 'upsert') b.upsert('guilds', row);
        else b.update('guilds', row);
      }
      return b.of('guilds').upserts.get('1');
    };
    const once = run();
    expect(run()).toEqual(once);
    expect(changes[0]![1]).toEqual({ id: '1', name: 'a' });
  });
});

// ---- property: the buffer, written the way the batch writes it, equals the changes applied one by one ----

type Op =
  | { kind: 'upsert'; row: Row }
  | { kind: 'update'; row: Row; inc: Record<string, number> }
  | { kind: 'delete'; id: string };
type Table = Map<string, Row>;

const COLUMNS = ['name', 'description', 'member_count'] as const;
const idArb = fc.constantFrom('1', '2', '3');
const valuesArb = fc.record(
  {
    name: fc.constantFrom<string | null>('a', 'b', null),
    description: fc.constantFrom<string | null>('x', 'y', null),
    member_count: fc.option(fc.integer({ min: -5, max: 5 }), { nil: null }),
  },
  { requiredKeys: [] },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('upsert' as const), row: fc.tuple(idArb, valuesArb).map(([id, v]) => ({ id, ...v })) }),
  fc.record({
    kind: fc.constant('update' as const),
    row: fc.tuple(idArb, valuesArb).map(([id, v]) => {
      const { member_count: _ignored, ...rest } = v; // a counter is moved by `inc` here, not set
      return { id, ...rest };
    }),
    inc: fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }).map((n): Record<string, number> => (n === undefined ? {} : { member_count: n })),
  }),
  fc.record({ kind: fc.constant('delete' as const), id: idArb }),
);
const tableArb: fc.Arbitrary<Table> = fc
  .uniqueArray(fc.tuple(idArb, valuesArb), { selector: ([id]) => id, maxLength: 3 })
  .map((rows) => new Map(rows.map(([id, v]) => [id, { id, ...v }])));

const incremented = (v: unknown, n: number) => (v == null ? null : saturate(Number(v) + n));

/** What the SQL does with one change, on the rows as they are. */
function applyOne(t: Table, op: Op) {
  if (op.kind === 'delete') t.delete(op.id);
  else if (op.kind === 'upsert') t.set(String(op.row.id), { ...t.get(String(op.row.id)), ...op.row });
  else {
    const row = t.get(String(op.row.id));
    if (!row) return;
    Object.assign(row, op.row);
    for (const [c, n] of Object.entries(op.inc)) row[c] = incremented(row[c], n);
  }
}

/** What the batch's statements do with the buffer: updates, then deletes, then upserts (see plan.ts). */
function writeBuffer(t: Table, b: RowBuffers) {
  const g = b.of('guilds');
  for (const [key, u] of g.updates) {
    const row = t.get(key);
    if (!row) continue;
    Object.assign(row, u.row, { id: key });
    for (const [c, n] of Object.entries(u.inc)) row[c] = incremented(row[c], n);
  }
  for (const key of g.deletes.keys()) t.delete(key);
  for (const [key, row] of g.upserts) t.set(key, { ...t.get(key), ...row });
}

/** Rows with every column (an absent column is NULL), by key. */
const normal = (t: Table) =>
  Object.fromEntries([...t.entries()].sort().map(([k, r]) => [k, Object.fromEntries(['id', ...COLUMNS].map((c) => [c, r[c] ?? null]))]));
const copy = (t: Table): Table => new Map([...t].map(([k, r]) => [k, { ...r }]));
const deepFreeze = (op: Op): Op => {
  if (op.kind !== 'delete') Object.freeze(op.row);
  if (op.kind === 'update') Object.freeze(op.inc);
  return Object.freeze(op);
};

describe('RowBuffers: property', () => {
  it('buffered and written as the batch does = applied one by one, whatever the database held; inputs untouched', () => {
    fc.assert(
      fc.property(tableArb, fc.array(opArb, { maxLength: 12 }), (initial, ops) => {
        const frozen = ops.map(deepFreeze);
        const before = JSON.stringify(frozen);
        const b = buffers();
        for (const op of frozen) {
          if (op.kind === 'upsert') b.upsert('guilds', op.row);
          else if (op.kind === 'update') b.update('guilds', op.row, op.inc);
          else b.delete('guilds', { id: op.id });
        }
        const expected = copy(initial);
        for (const op of frozen) applyOne(expected, op);
        const written = copy(initial);
        writeBuffer(written, b);
        expect(normal(written)).toEqual(normal(expected));
        expect(JSON.stringify(frozen)).toBe(before);
      }),
      { numRuns: 2000 },
    );
  });
});
