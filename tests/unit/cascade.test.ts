/**
 * The cascading statements generated from the table descriptors (src/cache/cascade.ts), for every cascade
 * root, every retain and every cache scope (CACHE_TABLES): which tables each one deletes from, and how. The
 * ownership expected here is written out by hand, so a wrong descriptor fails too. What the statements do to
 * real rows is tested in tests/integration (voice-states, cache-tables, dispatch).
 */
import { describe, expect, it } from 'vitest';
import { cascadeStatement, retainStatement, type CascadeRoot, type RetainTable, type SetStatement } from '../../src/cache/cascade.js';
import { TABLE_NAMES, type TableName } from '../../src/db/tables.js';

const ALL: ReadonlySet<TableName> = new Set(TABLE_NAMES);
const scope = (...tables: TableName[]): ReadonlySet<TableName> => new Set(tables);
const without = (...left: TableName[]) => new Set(TABLE_NAMES.filter((t) => !left.includes(t)));

/** What each statement may delete: the root's rows and everything that belongs to them. */
const OWNED: Record<`cascade ${CascadeRoot}` | `retain ${RetainTable}`, TableName[]> = {
  'cascade guilds': ['guilds', 'members', 'channels', 'threads', 'messages', 'presences', 'unavailable_guilds', 'voice_states'],
  'cascade channels': ['channels', 'threads', 'messages', 'voice_states'],
  'cascade threads': ['threads', 'messages', 'voice_states'],
  'retain channels': ['channels', 'threads', 'messages', 'voice_states'],
  'retain threads': ['threads', 'messages', 'voice_states'],
  'retain voice_states': ['voice_states'],
};

/** Every subset of the tables: the cache scopes CACHE_TABLES can name (and the empty one). */
const SCOPES: ReadonlySet<TableName>[] = Array.from({ length: 2 ** TABLE_NAMES.length }, (_, mask) =>
  new Set(TABLE_NAMES.filter((_, i) => (mask >> i) & 1)),
);

const statementsOf = (cached: ReadonlySet<TableName>): [keyof typeof OWNED, SetStatement][] => [
  ['cascade guilds', cascadeStatement('guilds', cached)],
  ['cascade channels', cascadeStatement('channels', cached)],
  ['cascade threads', cascadeStatement('threads', cached)],
  ['retain channels', retainStatement('channels', cached)],
  ['retain threads', retainStatement('threads', cached)],
  ['retain voice_states', retainStatement('voice_states', cached)],
];

/** `DELETE FROM "t" WHERE …` of each CTE, by table. */
function deletes(s: SetStatement): Map<string, string> {
  return new Map([...s.text.matchAll(/DELETE FROM "(\w+)"(?: AS t)? WHERE (.*?)(?: RETURNING [\w ,]+)?\)(?:,|\s+SELECT )/g)].map((m) => [m[1]!, m[2]!]));
}

describe('cascade and retain statements, for every cache scope', () => {
  it('delete from exactly the cached tables the root owns, and list them as the tables to flush first', () => {
    for (const cached of SCOPES) {
      for (const [what, s] of statementsOf(cached)) {
        const [kind, root] = what.split(' ') as ['cascade' | 'retain', TableName];
        // A retain without its own table cannot tell which rows are gone: it does nothing.
        const expected = kind === 'retain' && !cached.has(root) ? [] : OWNED[what].filter((t) => cached.has(t));
        const label = `${what} with CACHE_TABLES=${[...cached].join(',')}`;
        expect(new Set(s.tables), label).toEqual(new Set(expected));
        expect(s.tables.length, label).toBe(expected.length); // each once
        expect([...deletes(s).keys()], label).toEqual(s.tables);
        if (s.tables.length === 0) expect(s.text, label).toBe('SELECT 1');
        for (const t of TABLE_NAMES.filter((x) => !cached.has(x))) expect(s.text, label).not.toContain(`"${t}"`);
      }
    }
  });

  it('each CTE reads only the ids deleted by CTEs before it, and the parameters of its kind', () => {
    for (const cached of SCOPES) {
      for (const [what, s] of statementsOf(cached)) {
        const defined = [...s.text.matchAll(/(c\d+) AS \(/g)].map((m) => m[1]!);
        expect(defined, what).toEqual(defined.map((_, i) => `c${i}`));
        for (const m of s.text.matchAll(/FROM (c\d+)\)/g)) {
          const user = s.text.lastIndexOf(' AS (', m.index);
          const definedAt = s.text.indexOf(`${m[1]} AS (`);
          expect(definedAt, `${what}: ${m[1]} used before it is defined`).toBeLessThan(user);
        }
        const params = new Set([...s.text.matchAll(/\$(\d)/g)].map((m) => Number(m[1])));
        const allowed = what === 'retain threads' || what === 'retain voice_states' ? [1, 2, 3] : what.startsWith('retain') ? [1, 2] : [1];
        for (const p of params) expect(allowed, what).toContain(p);
      }
    }
  });

  it('are built once per scope, and two different statements never share a name (they are prepared by name)', () => {
    const byName = new Map<string, string>();
    for (const cached of SCOPES) {
      for (const [what, s] of statementsOf(cached)) {
        expect(statementsOf(new Set(cached)).find(([w]) => w === what)![1], what).toBe(s);
        const seen = byName.get(s.name);
        if (seen !== undefined) expect(seen, s.name).toBe(s.text);
        byName.set(s.name, s.text);
      }
    }
  });
});

describe('the statements of the full scope', () => {
  it("GUILD_DELETE: the guild's channels, then their threads (by guild or parent), then the rows of both, then every other guild-owned row; users stay", () => {
    const s = cascadeStatement('guilds', ALL);
    const d = deletes(s);
    expect(s.tables).toEqual(['channels', 'threads', 'messages', 'voice_states', 'guilds', 'members', 'presences', 'unavailable_guilds']);
    expect(d.get('channels')).toBe('"guild_id" = ANY($1::bigint[])');
    expect(d.get('threads')).toBe('"guild_id" = ANY($1::bigint[]) OR "parent_id" = ANY(ARRAY(SELECT id FROM c0))');
    for (const t of ['messages', 'voice_states']) {
      expect(d.get(t), t).toBe('"guild_id" = ANY($1::bigint[]) OR "channel_id" = ANY(ARRAY(SELECT id FROM c0) || ARRAY(SELECT id FROM c1))');
    }
    expect(d.get('guilds')).toBe('"id" = ANY($1::bigint[])');
    expect(d.get('unavailable_guilds')).toBe('"id" = ANY($1::bigint[])');
    expect(d.get('members')).toBe('"guild_id" = ANY($1::bigint[])');
    expect(d.get('presences')).toBe('"guild_id" = ANY($1::bigint[])');
    expect(s.text).not.toContain('"users"');
  });

  it("CHANNEL_DELETE: the channel, its threads, and the messages and voice states of both", () => {
    const d = deletes(cascadeStatement('channels', ALL));
    expect([...d]).toEqual([
      ['channels', 'id = ANY($1::bigint[])'],
      ['threads', '"parent_id" = ANY($1::bigint[])'],
      ['messages', '"channel_id" = ANY($1::bigint[] || ARRAY(SELECT id FROM c1))'],
      ['voice_states', '"channel_id" = ANY($1::bigint[] || ARRAY(SELECT id FROM c1))'],
    ]);
  });

  it('THREAD_DELETE: the thread and the rows in it, nothing keyed by another channel', () => {
    const d = deletes(cascadeStatement('threads', ALL));
    expect([...d]).toEqual([
      ['threads', 'id = ANY($1::bigint[])'],
      ['messages', '"channel_id" = ANY($1::bigint[])'],
      ['voice_states', '"channel_id" = ANY($1::bigint[])'],
    ]);
  });

  it("GUILD_CREATE's retains (of a whole batch of guilds): channels and threads not listed, with what belongs to them; voice states by guild and user", () => {
    const channels = deletes(retainStatement('channels', ALL));
    expect(channels.get('channels')).toBe(
      't."guild_id" = ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM unnest($2::bigint[]) AS k(id) WHERE k.id = t.id)',
    );
    expect(channels.get('threads')).toBe('"parent_id" = ANY(ARRAY(SELECT id FROM c0))');
    expect(channels.get('voice_states')).toBe('"channel_id" = ANY(ARRAY(SELECT id FROM c0) || ARRAY(SELECT id FROM c1))');
    const threads = deletes(retainStatement('threads', ALL));
    expect(threads.get('threads')).toBe(
      't."guild_id" = ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM unnest($2::bigint[]) AS k(id) WHERE k.id = t.id) AND ($3::bigint[] IS NULL OR t."parent_id" = ANY($3::bigint[]))',
    );
    expect(threads.get('messages')).toBe('"channel_id" = ANY(ARRAY(SELECT id FROM c0))');
    expect([...deletes(retainStatement('voice_states', ALL))]).toEqual([
      [
        'voice_states',
        't."guild_id" = ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM unnest($3::bigint[], $2::bigint[]) AS k(g, u) WHERE k.g = t.guild_id AND k.u = t.user_id)',
      ],
    ]);
  });
});

describe('narrower scopes', () => {
  it('CACHE_TABLES without messages: no statement touches messages, the rest still cascades', () => {
    const cached = without('messages');
    for (const [what, s] of statementsOf(cached)) {
      expect(s.text, what).not.toContain('messages');
      expect(s.tables, what).not.toContain('messages');
    }
    expect(cascadeStatement('channels', cached).tables).toEqual(['channels', 'threads', 'voice_states']);
  });

  it('users,members,guilds,channels,threads: a guild takes its channels, threads and members; a channel its threads', () => {
    const cached = scope('users', 'members', 'guilds', 'channels', 'threads');
    expect(cascadeStatement('guilds', cached).tables).toEqual(['channels', 'threads', 'guilds', 'members']);
    expect(cascadeStatement('channels', cached).tables).toEqual(['channels', 'threads']);
    expect(cascadeStatement('threads', cached).tables).toEqual(['threads']);
    expect(retainStatement('voice_states', cached)).toMatchObject({ tables: [], text: 'SELECT 1' });
  });

  it('channels left out: deleting a channel still takes its threads and their rows by the given ids', () => {
    const cached = without('channels');
    const d = deletes(cascadeStatement('channels', cached));
    expect([...d.keys()]).toEqual(['threads', 'messages', 'voice_states']);
    expect(d.get('threads')).toBe('"parent_id" = ANY($1::bigint[])');
    expect(d.get('messages')).toBe('"channel_id" = ANY($1::bigint[] || ARRAY(SELECT id FROM c0))');
    // …but GUILD_CREATE cannot tell which channels are gone without them
    expect(retainStatement('channels', cached).tables).toEqual([]);
  });

  it('guilds left out: GUILD_DELETE still takes the guild-owned rows that are cached', () => {
    const s = cascadeStatement('guilds', scope('members', 'presences', 'voice_states'));
    expect([...deletes(s)]).toEqual([
      ['voice_states', '"guild_id" = ANY($1::bigint[])'],
      ['members', '"guild_id" = ANY($1::bigint[])'],
      ['presences', '"guild_id" = ANY($1::bigint[])'],
    ]);
  });
});
