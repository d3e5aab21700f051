/**
 * Publishing a commit's changes (`changelog.ts`) in the committing transaction, and reading them back.
 *
 * The publication is one more part of the commit's last statement (`Batch.finish`): it takes the next id of
 * the `change_feed_id` sequence and, on PostgreSQL, sends the changes with `pg_notify`, which PostgreSQL
 * delivers to every listening connection when (and only if) the transaction commits, in commit order. Every
 * instance of the service LISTENs on a dedicated connection (`db/listen.ts`) and relays what it hears, its own
 * commits included: one path for all. PGlite has no other process to tell: the writer hands the changes to
 * the feed in-process after the commit.
 *
 * A notification carries at most 8,000 bytes: the changes are encoded compactly (one line each) and split
 * into parts of at most `PART_BYTES`, each headed `<id> <part> <parts>`; a commit's notifications arrive
 * together and in order (PostgreSQL queues a transaction's notifications as one block at commit).
 */
import { KEY_COLUMNS, isScope, type FeedChange } from './feed-protocol.js';
import type { TableName } from '../db/tables.js';
import { arrayLiteral, type Part } from './statements.js';

/** The NOTIFY channel. */
export const FEED_CHANNEL = 'dsc_changes';
/** Bytes of encoded changes per notification (PostgreSQL refuses payloads of 8,000 bytes or more; the header takes ~40). */
export const PART_BYTES = 7_900;

/**
 * One line per change: `u|d <table> <key values, comma-separated>[ <guild>]` for rows, `g|c <table> <id>` for
 * a guild's or a channel's rows, `a <table>` for a whole table. Keys are snowflakes: no spaces, no commas.
 */
export function encodeChange(c: FeedChange): string {
  if (isScope(c)) {
    if ('guild_id' in c.scope) return `g ${c.table} ${c.scope.guild_id}`;
    if ('channel_id' in c.scope) return `c ${c.table} ${c.scope.channel_id}`;
    return `a ${c.table}`;
  }
  const key = KEY_COLUMNS[c.table].map((col) => c.key[col]).join(',');
  return `${c.op === 'upsert' ? 'u' : 'd'} ${c.table} ${key}${c.guild_id ? ` ${c.guild_id}` : ''}`;
}

export function decodeChange(line: string): FeedChange {
  const [op, table, value, guild] = line.split(' ') as [string, TableName, string | undefined, string | undefined];
  switch (op) {
    case 'g':
      return { table, scope: { guild_id: value! } };
    case 'c':
      return { table, scope: { channel_id: value! } };
    case 'a':
      return { table, scope: {} };
    case 'u':
    case 'd': {
      const values = value!.split(',');
      const key: Record<string, string> = {};
      (KEY_COLUMNS[table] ?? values.map((_, i) => `k${i}`)).forEach((col, i) => (key[col] = values[i]!));
      return { table, op: op === 'u' ? 'upsert' : 'delete', key, ...(guild ? { guild_id: guild } : {}) };
    }
    default:
      throw new Error(`unknown change line ${JSON.stringify(line)}`);
  }
}

/** The changes as notification bodies of at most `maxBytes` each (ASCII: one character is one byte). */
export function encodeParts(changes: readonly FeedChange[], maxBytes = PART_BYTES): string[] {
  const parts: string[] = [];
  let lines: string[] = [];
  let size = 0;
  for (const c of changes) {
    const line = encodeChange(c);
    if (lines.length > 0 && size + 1 + line.length > maxBytes) {
      parts.push(lines.join('\n'));
      lines = [];
      size = 0;
    }
    lines.push(line);
    size += (lines.length > 1 ? 1 : 0) + line.length;
  }
  if (lines.length > 0) parts.push(lines.join('\n'));
  return parts;
}

/**
 * The statement part that publishes: its one row is `change_id`, the commit's feed id. On PostgreSQL it
 * notifies every part; `$2` is their number.
 */
export function publication(kind: 'postgres' | 'pglite', changes: readonly FeedChange[], maxBytes = PART_BYTES): Part {
  if (kind === 'pglite') {
    return { key: 'feed|pglite', rows: 0, returns: true, params: () => [], sql: () => `SELECT nextval('change_feed_id')::text AS change_id` };
  }
  const parts = encodeParts(changes, maxBytes);
  const params = [arrayLiteral(parts, 'text'), parts.length];
  return {
    key: 'feed|postgres',
    rows: 0,
    returns: true,
    params: () => params,
    sql: (o) =>
      `SELECT s.id::text AS change_id, (SELECT count(pg_notify('${FEED_CHANNEL}', s.id || ' ' || u.i || ' ' || $${o + 2}::int || E'\\n' || u.body)) ` +
      `FROM unnest($${o + 1}::text[]) WITH ORDINALITY AS u(body, i)) AS parts FROM (SELECT nextval('change_feed_id') AS id) AS s`,
  };
}

/** The feed id in the rows of a statement that ended with a publication. */
export function changeIdOf(rows: readonly Record<string, unknown>[]): number {
  const id = Number(rows[0]?.change_id);
  if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`the publication answered no change id (${JSON.stringify(rows[0])})`);
  return id;
}

/**
 * Puts notifications back together. `accept` returns a complete commit, nothing while parts are missing, or
 * `{ gap }` when a part does not follow the one before (a notification was lost, which PostgreSQL does not do
 * on a live connection): the listener then resets its subscribers at `gap`, an id every lost change is at or
 * below. A commit that starts right after a gap is still put together.
 */
export class Reassembly {
  private id = 0;
  private next = 1;
  private lines: string[] = [];

  accept(payload: string): { id: number; changes: FeedChange[] } | { gap: number } | undefined {
    const newline = payload.indexOf('\n');
    const [id, part, parts] = payload.slice(0, newline).split(' ').map(Number) as [number, number, number];
    if (part !== 1 && (id !== this.id || part !== this.next)) {
      this.next = 1;
      this.lines = [];
      return { gap: id };
    }
    const lost = part === 1 && this.next !== 1 ? this.id : undefined;
    if (part === 1) {
      this.id = id;
      this.lines = [];
    }
    this.lines.push(payload.slice(newline + 1));
    if (part < parts) {
      this.next = part + 1;
      return lost === undefined ? undefined : { gap: lost };
    }
    this.next = 1;
    const changes = this.lines.join('\n').split('\n').map(decodeChange);
    this.lines = [];
    // After a gap, resetting at this commit's id covers it too.
    return lost === undefined ? { id, changes } : { gap: id };
  }
}
