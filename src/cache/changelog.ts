/**
 * What one commit changed, for the change feed (`feed.ts`): the one place that collects it. The row buffers
 * report every by-key write (upsert, update, delete) and the batch every set operation; the writer publishes
 * the result in the committing transaction.
 *
 * - By-key writes are kept once per row (the last one wins: a row deleted then inserted again is an upsert).
 * - Set operations become scopes (see `feed-protocol.ts`): a guild's rows, a channel's rows; what a cascade
 *   or a retain deleted by key (channels, threads, voice states) becomes row deletes, and every channel
 *   deleted also scopes the rows that belong to it (messages, voice states).
 * - A table with more than `maxRows` row changes in one commit (a GUILD_CREATE with 100,000 members, a
 *   startup storm) is reported as scopes instead: one per guild when every row names its guild, else the
 *   whole table. Over-reporting is always allowed; under-reporting never.
 */
import { TABLE_NAMES, describe, type TableName } from '../db/tables.js';
import type { Row } from '../discord/columns.js';
import type { SetStatement } from './cascade.js';
import { KEY_COLUMNS, rowId, type FeedChange, type RowChange, type Scope } from './feed-protocol.js';

/** Row changes of one table in one commit beyond which they are reported as scopes. */
export const MAX_ROW_CHANGES = 1_000;

/** Tables whose rows belong to a channel without being channels (messages, voice states). */
const CHANNEL_OWNED = TABLE_NAMES.filter((t) => describe(t).channel !== undefined && !describe(t).isChannel);

interface Written {
  table: TableName;
  op: 'upsert' | 'delete';
  row: Row;
}

export class ChangeLog {
  /** Row changes by table and row. */
  private readonly rows = new Map<TableName, Map<string, Written>>();
  /** Tables past `maxRows`: the guilds of their rows, or null for the whole table. */
  private readonly wide = new Map<TableName, Set<string> | null>();
  private readonly scopes = new Map<string, FeedChange>();

  constructor(private readonly maxRows = MAX_ROW_CHANGES) {}

  get empty(): boolean {
    return this.rows.size === 0 && this.wide.size === 0 && this.scopes.size === 0;
  }

  /** A by-key write: `row` holds at least the primary key (and the guild column when the write has it). */
  row(table: TableName, row: Row, op: 'upsert' | 'delete') {
    if (this.wide.has(table)) return this.widen(table, row);
    let rows = this.rows.get(table);
    if (!rows) this.rows.set(table, (rows = new Map()));
    rows.set(rowId(table, row), { table, op, row });
    if (rows.size <= this.maxRows) return;
    // From here on only the table's guilds are kept (a GUILD_CREATE of 100,000 members keeps no per-row list).
    this.rows.delete(table);
    this.wide.set(table, new Set());
    for (const w of rows.values()) this.widen(table, w.row);
  }

  /** Rows that are guilds, rows whose guild is not known, or too many guilds: the whole table. */
  private widen(table: TableName, row: Row) {
    const guilds = this.wide.get(table);
    if (guilds === null) return;
    const column = describe(table).guild;
    const guild = column === undefined || column === 'id' ? undefined : row[column];
    if (guild == null || guilds!.size >= this.maxRows) this.wide.set(table, null);
    else guilds!.add(String(guild));
  }

  scope(table: TableName, scope: Scope) {
    const [[column, value] = ['', '']] = Object.entries(scope);
    this.scopes.set(`${table} ${column} ${value}`, { table, scope });
  }

  /** Changes published outside a batch (messages pruned by retention) join this commit's. */
  add(changes: readonly FeedChange[]) {
    for (const c of changes) {
      if ('scope' in c) this.scope(c.table, c.scope);
      else this.row(c.table, { ...c.key, ...(c.guild_id ? { guild_id: c.guild_id } : {}) }, c.op);
    }
  }

  /** A cascade or retain ran: `params` as bound, `deleted` its rows (see `SetStatement`). */
  setOperation(statement: SetStatement, params: unknown[], deleted: Record<string, unknown>[]) {
    const channels: string[] = [];
    const op = statement.op;
    if (op.kind === 'cascade') {
      const ids = params[0] as string[];
      if (op.root === 'guilds') {
        for (const guild of ids) {
          for (const t of statement.tables) {
            if (describe(t).guild === 'id') this.row(t, { id: guild }, 'delete');
            else this.scope(t, { guild_id: guild });
          }
        }
      } else {
        for (const id of ids) this.row(op.root, { id }, 'delete');
        channels.push(...ids);
      }
    }
    for (const { t, id, g } of deleted as { t: TableName; id: string; g: string | null }[]) {
      if (describe(t).isChannel) {
        this.row(t, { id }, 'delete');
        channels.push(id);
      } else {
        // A retain's voice states: keyed by guild and user.
        this.row(t, { guild_id: String(g), user_id: id }, 'delete');
      }
    }
    for (const channel of channels) {
      for (const t of CHANNEL_OWNED) if (statement.tables.includes(t)) this.scope(t, { channel_id: channel });
    }
  }

  /** Everything: row changes, then the tables past `maxRows` as scopes, then the set operations' scopes. */
  changes(): FeedChange[] {
    const out: FeedChange[] = [];
    for (const rows of this.rows.values()) for (const w of rows.values()) out.push(rowChange(w));
    for (const [table, guilds] of this.wide) {
      if (guilds === null) out.push({ table, scope: {} });
      else for (const g of guilds) out.push({ table, scope: { guild_id: g } });
    }
    out.push(...this.scopes.values());
    return out;
  }
}

function rowChange(w: Written): RowChange {
  const key: Record<string, string> = {};
  for (const c of KEY_COLUMNS[w.table]) key[c] = String(w.row[c]);
  const change: RowChange = { table: w.table, op: w.op, key };
  const guildColumn = describe(w.table).guild;
  if (guildColumn !== undefined && !(guildColumn in key) && w.row[guildColumn] != null) change.guild_id = String(w.row[guildColumn]);
  return change;
}
