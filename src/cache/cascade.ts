/**
 * Set operations that follow ownership, generated from the table descriptors (`db/tables.ts`): deleting
 * guilds, channels or threads takes every row that belongs to them, and GUILD_CREATE's authoritative lists
 * delete what they do not list. Each is one statement of data-modifying CTEs.
 *
 * Ownership: a table with a `guild` column belongs to guilds; one with a `channel` column belongs to the
 * channel tables (`isChannel`: channels, and threads, which belong to their parent channel). Deleting a
 * channel therefore deletes its threads, then the rows of both (messages, voice states). Tables left out of
 * the cache scope are never touched.
 */
import { TABLES, TABLE_NAMES, type TableDescriptor, type TableName } from '../db/tables.js';
import type { Statement } from './statements.js';

const q = (name: string) => `"${name}"`;
const describe = (t: TableName): TableDescriptor => TABLES[t];

/** Channel tables, parents first (a channel table whose rows belong to another one comes after it). */
const CHANNEL_TABLES = TABLE_NAMES.filter((t) => describe(t).isChannel).sort(
  (a, b) => Number(describe(a).channel !== undefined) - Number(describe(b).channel !== undefined),
);
/** Tables whose rows belong to a channel and are not channels themselves. */
const CHANNEL_OWNED = TABLE_NAMES.filter((t) => describe(t).channel !== undefined && !describe(t).isChannel);

export type CascadeRoot = 'guilds' | 'channels' | 'threads';
export type RetainTable = 'channels' | 'threads' | 'voice_states';

/** What a set statement does, for the change feed (`changelog.ts`). */
export type SetOperation = { kind: 'cascade'; root: CascadeRoot } | { kind: 'retain'; table: RetainTable };

/**
 * A cascading statement and the tables it writes (flushed before it runs). Its rows are the keys it deleted
 * by key rather than by owner (`t` the table, `id` the key: a user id for voice states, with `g` its guild):
 * the channels and threads it deleted (their messages and voice states are gone by channel), and a retain's
 * voice states.
 */
export interface SetStatement extends Statement {
  tables: TableName[];
  op: SetOperation;
}

interface Ctes {
  parts: string[];
  /** SQL arrays of the channel ids deleted so far (or given). */
  channelIds: string[];
  tables: TableName[];
  /** CTEs that return the key they deleted (`id`, and `g` the guild where the key needs it), and their table. */
  returning: [cte: string, table: TableName, guild?: boolean][];
}

/** Deletes the rows of the channel tables after `from` whose parent is in `channelIds`, then the channel-owned rows. */
function cascadeFromChannels(ctes: Ctes, cached: ReadonlySet<TableName>, from: number, extra: (t: TableName) => string) {
  for (const t of CHANNEL_TABLES.slice(from)) {
    if (!cached.has(t)) continue;
    const d = describe(t);
    const own = extra(t);
    const byParent = d.channel && ctes.channelIds.length > 0 ? `${q(d.channel)} = ANY(${ctes.channelIds.join(' || ')})` : '';
    const where = [own, byParent].filter(Boolean).join(' OR ');
    if (!where) continue;
    const name = `c${ctes.parts.length}`;
    ctes.parts.push(`${name} AS (DELETE FROM ${q(t)} WHERE ${where} RETURNING id)`);
    ctes.channelIds.push(`ARRAY(SELECT id FROM ${name})`);
    ctes.tables.push(t);
    ctes.returning.push([name, t]);
  }
  for (const t of CHANNEL_OWNED) {
    if (!cached.has(t)) continue;
    const d = describe(t);
    const own = extra(t);
    const byChannel = ctes.channelIds.length > 0 ? `${q(d.channel!)} = ANY(${ctes.channelIds.join(' || ')})` : '';
    const where = [own, byChannel].filter(Boolean).join(' OR ');
    if (!where) continue;
    ctes.parts.push(`c${ctes.parts.length} AS (DELETE FROM ${q(t)} WHERE ${where})`);
    ctes.tables.push(t);
  }
}

const finish = (key: string, op: SetOperation, ctes: Ctes): SetStatement => {
  const deleted = ctes.returning.map(([cte, t, g]) => `SELECT '${t}' AS t, id::text AS id, ${g ? 'g::text' : 'NULL::text'} AS g FROM ${cte}`);
  const select = deleted.length > 0 ? deleted.join(' UNION ALL ') : 'SELECT NULL AS t, NULL AS id, NULL AS g WHERE false';
  return {
    name: `dsc_${key}`,
    text: ctes.parts.length > 0 ? `WITH ${ctes.parts.join(',\n  ')} ${select}` : 'SELECT 1',
    tables: ctes.tables,
    op,
  };
};

const scopeKey = (cached: ReadonlySet<TableName>) => TABLE_NAMES.filter((t) => cached.has(t)).join('+');

const built = new Map<string, SetStatement>();
function cachedStatement(key: string, build: () => SetStatement): SetStatement {
  let s = built.get(key);
  if (!s) built.set(key, (s = build()));
  return s;
}

/**
 * `$1::bigint[]`: the ids of `root` rows to delete, with everything that belongs to them. Guilds take every
 * guild-owned row (members, presences, voice states, the unavailable mark, …) and their channels' rows.
 */
export function cascadeStatement(root: CascadeRoot, cached: ReadonlySet<TableName>): SetStatement {
  return cachedStatement(`cascade_${root}_${scopeKey(cached)}`, () => {
    const ctes: Ctes = { parts: [], channelIds: [], tables: [], returning: [] };
    if (root === 'guilds') {
      const guildOwned = (t: TableName) => {
        const g = describe(t).guild;
        return g !== undefined && g !== 'id' ? `${q(g)} = ANY($1::bigint[])` : '';
      };
      cascadeFromChannels(ctes, cached, 0, guildOwned);
      for (const t of TABLE_NAMES) {
        const g = describe(t).guild;
        if (!cached.has(t) || g === undefined || ctes.tables.includes(t)) continue;
        ctes.parts.push(`c${ctes.parts.length} AS (DELETE FROM ${q(t)} WHERE ${q(g)} = ANY($1::bigint[]))`);
        ctes.tables.push(t);
      }
    } else {
      // The given ids are channels (or threads) whether or not their own table is cached.
      ctes.channelIds.push('$1::bigint[]');
      const at = CHANNEL_TABLES.indexOf(root);
      if (cached.has(root)) {
        ctes.parts.push(`c0 AS (DELETE FROM ${q(root)} WHERE id = ANY($1::bigint[]))`);
        ctes.tables.push(root);
      }
      cascadeFromChannels(ctes, cached, at + 1, () => '');
    }
    return finish(`cascade_${root}_${built.size}`, { kind: 'cascade', root }, ctes);
  });
}

/**
 * GUILD_CREATE (or THREAD_LIST_SYNC) is authoritative for a table: the rows of the guilds `$1::bigint[]` whose
 * key is not kept go, with what belongs to them. Channels and threads: `$2::bigint[]` are the ids kept (ids are
 * unique across guilds, so one list serves every guild); threads: `$3::bigint[]` (may be NULL) limits it to the
 * threads of those parent channels. Voice states: `$2::bigint[]` the users kept, `$3::bigint[]` their guilds.
 * One statement serves a whole batch of GUILD_CREATEs (see `Batch`'s deferred retains).
 */
export function retainStatement(table: RetainTable, cached: ReadonlySet<TableName>): SetStatement {
  return cachedStatement(`retain_${table}_${scopeKey(cached)}`, () => {
    const d = describe(table);
    const guild = `t.${q(d.guild!)} = ANY($1::bigint[])`;
    const voice = table === 'voice_states';
    const where = voice
      ? `${guild} AND NOT EXISTS (SELECT 1 FROM unnest($3::bigint[], $2::bigint[]) AS k(g, u) WHERE k.g = t.guild_id AND k.u = t.user_id)`
      : `${guild} AND NOT EXISTS (SELECT 1 FROM unnest($2::bigint[]) AS k(id) WHERE k.id = t.id)` +
        (table === 'threads' ? ` AND ($3::bigint[] IS NULL OR t.${q(d.channel!)} = ANY($3::bigint[]))` : '');
    const ctes: Ctes = { parts: [], channelIds: [], tables: [], returning: [] };
    const op: SetOperation = { kind: 'retain', table };
    if (!cached.has(table)) return finish(`retain_${table}_${built.size}`, op, ctes);
    const returning = voice ? 'RETURNING user_id AS id, guild_id AS g' : 'RETURNING id';
    ctes.parts.push(`c0 AS (DELETE FROM ${q(table)} AS t WHERE ${where} ${returning})`);
    ctes.tables.push(table);
    ctes.returning.push(['c0', table, voice]);
    if (d.isChannel) {
      ctes.channelIds.push('ARRAY(SELECT id FROM c0)');
      cascadeFromChannels(ctes, cached, CHANNEL_TABLES.indexOf(table) + 1, () => '');
    }
    return finish(`retain_${table}_${built.size}`, op, ctes);
  });
}

/** The tables a retain of `table` may delete from (its own, and those whose rows belong to its rows). */
export function retainReach(table: RetainTable): TableName[] {
  if (!describe(table).isChannel) return [table];
  return [table, ...CHANNEL_TABLES.slice(CHANNEL_TABLES.indexOf(table) + 1), ...CHANNEL_OWNED];
}
