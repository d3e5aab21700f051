/**
 * The client's local cache (`new CacheClient({ url, localCache: { maxEntries } })`): the answers of `get()`
 * kept in process, in an LRU of `maxEntries` objects (a "not cached" answer is kept too), and dropped as the
 * change feed (`feed.ts`) reports changes to them.
 *
 * Correctness rules:
 * - Served only while the feed is live (`ready` received, connection up). While it is down every `get()`
 *   goes to the service and nothing is kept; entries kept from before are served again only if the feed
 *   comes back without a gap (the server replayed what was missed); a `reset` empties the cache.
 * - Read-your-writes: a write answered with feed id N (`written`) sends every read to the service until the
 *   feed has passed N (then the change has dropped any stale entry).
 * - A fill (a miss read from the service) is kept only if no change to its row, no scope over its table and
 *   no reset or disconnection happened while it was in flight: otherwise an answer read before a commit could
 *   be kept after the commit's change was seen. Fills read the primary (`consistency=primary`): a replica may
 *   lag behind the feed.
 * - Members and presences embed their user: a change to a user drops them too.
 * - Objects served from here are shared by every caller: they are frozen.
 */
import { TABLES, type TableName } from '../db/tables.js';
import { EMBEDS_USER, KEY_COLUMNS, isScope, rowId, type ChangeEvent, type FeedChange } from '../cache/feed-protocol.js';
import type { FeedHandlers } from './feed.js';

interface Entry {
  key: string;
  table: TableName;
  /** The id asked for that is not part of the key (a message's channel), which must match too. */
  extra: string | undefined;
  value: unknown;
  /** Owner index keys this entry is listed under. */
  owners: string[];
  /** `LocalCache.tick` when it was stored or last moved to the recent end. */
  tick: number;
  /** `value`, resolved: handed to every hit (one allocation less per read). */
  answer: Promise<unknown>;
}

interface Fill {
  extra: string | undefined;
  table: TableName;
  user: string | undefined;
  epoch: number;
  invalidated: boolean;
  promise: Promise<unknown>;
}

export interface LocalCacheStats {
  /** The feed is live and local answers are served (not behind one of this process's writes). */
  serving: boolean;
  live: boolean;
  position: number;
  entries: number;
  hits: number;
  misses: number;
  /** Reads sent to the service because the feed was down or behind this process's writes. */
  bypassed: number;
  resets: number;
}

const PARAMS = Object.fromEntries(
  (Object.keys(TABLES) as TableName[]).map((t) => [t, Object.values(TABLES[t].one.params) as string[]]),
) as Record<TableName, string[]>;

/**
 * Per table: the entry key of the ids of its one-object route (`table` and the key values as `rowId` joins
 * them, for the feed's changes to find it), and the position of the id that is not part of the key. Built
 * with string concatenation only: a local hit is a few hundred nanoseconds, and this is most of it.
 */
const KEYERS = Object.fromEntries(
  (Object.keys(TABLES) as TableName[]).map((t) => {
    const [a, b] = KEY_COLUMNS[t].map((c) => PARAMS[t].indexOf(c)) as [number, number | undefined];
    const extra = PARAMS[t].findIndex((c) => !KEY_COLUMNS[t].includes(c));
    const key = b === undefined ? (ids: readonly unknown[]) => `${t} ${String(ids[a])}` : (ids: readonly unknown[]) => `${t} ${String(ids[a])}:${String(ids[b])}`;
    return [t, { key, extra: extra < 0 ? undefined : extra }];
  }),
) as Record<TableName, { key: (ids: readonly unknown[]) => string; extra: number | undefined }>;

/** The owner columns of each table (`guild` and `channel` of its descriptor). */
const OWNERS = Object.fromEntries(
  (Object.keys(TABLES) as TableName[]).map((t) => {
    const d = TABLES[t] as { guild?: string; channel?: string };
    return [t, { guild: d.guild, channel: d.channel }];
  }),
) as Record<TableName, { guild: string | undefined; channel: string | undefined }>;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export class LocalCache implements FeedHandlers {
  private readonly entries = new Map<string, Entry>();
  /** `table g id` / `table c id` / `u userId` → keys of the entries that belong there. */
  private readonly owners = new Map<string, Set<string>>();
  private readonly fills = new Map<string, Fill>();
  private live = false;
  private position = 0;
  private mustReach = 0;
  /** Bumped by every reset and disconnection: fills begun before are not kept. */
  private epoch = 0;
  private readonly counters = { hits: 0, misses: 0, bypassed: 0, resets: 0 };
  /**
   * Advances with every entry stored. An entry read is moved to the recent end only when more than a quarter
   * of the cache was stored since it last was: an LRU that does not move hot entries on every hit (moving is a
   * Map delete and set, and the Map rehashes after many deletes: both showed in the hot-read tail, bench (6)).
   */
  private tick = 0;

  constructor(private readonly maxEntries: number) {
    if (!(maxEntries >= 1)) throw new RangeError('localCache.maxEntries must be at least 1');
  }

  get serving(): boolean {
    return this.live && this.position >= this.mustReach;
  }

  get stats(): LocalCacheStats {
    return { serving: this.serving, live: this.live, position: this.position, entries: this.entries.size, ...this.counters };
  }

  /** The cached answer for `ids` of `table` (from here, or `load` on a miss). */
  get<T>(table: TableName, ids: readonly unknown[], load: (table: TableName, ids: readonly unknown[]) => Promise<T | undefined>): Promise<T | undefined> {
    if (!this.serving) {
      this.counters.bypassed++;
      return load(table, ids);
    }
    const keyer = KEYERS[table];
    const key = keyer.key(ids);
    const extra = keyer.extra === undefined ? undefined : String(ids[keyer.extra]);
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.extra === extra) {
      this.counters.hits++;
      if (this.tick - entry.tick > this.maxEntries >> 2) {
        this.entries.delete(key);
        this.entries.set(key, entry);
        entry.tick = this.tick;
      }
      return entry.answer as Promise<T | undefined>;
    }
    this.counters.misses++;
    const pending = this.fills.get(key);
    if (pending && pending.extra === extra && !pending.invalidated && pending.epoch === this.epoch) return pending.promise as Promise<T | undefined>;
    const idList = ids.map(String);
    const fill: Fill = {
      extra,
      table,
      user: EMBEDS_USER.includes(table) ? idList[1] : undefined,
      epoch: this.epoch,
      invalidated: false,
      promise: Promise.resolve(),
    };
    fill.promise = load(table, ids).then(
      (value) => {
        if (this.fills.get(key) === fill) this.fills.delete(key);
        deepFreeze(value);
        if (!fill.invalidated && fill.epoch === this.epoch && this.live) this.store(key, table, idList, extra, value);
        return value;
      },
      (err: unknown) => {
        if (this.fills.get(key) === fill) this.fills.delete(key);
        throw err;
      },
    );
    this.fills.set(key, fill);
    return fill.promise as Promise<T | undefined>;
  }

  /**
   * What is cached here for `ids` of `table`, without asking the service: `{ value }` (undefined: known not
   * cached by the service) or undefined when this cache does not know (or is not serving).
   */
  peek(table: TableName, ids: readonly unknown[]): { value: unknown } | undefined {
    if (!this.serving) return undefined;
    const keyer = KEYERS[table];
    const entry = this.entries.get(keyer.key(ids));
    return entry && entry.extra === (keyer.extra === undefined ? undefined : String(ids[keyer.extra])) ? { value: entry.value } : undefined;
  }

  /** A write of this process was committed with feed id `changeId`: read through until the feed passes it. */
  written(changeId: number | undefined) {
    if (changeId !== undefined && changeId > this.mustReach) this.mustReach = changeId;
  }

  // ---- the feed ----

  ready(position: number) {
    this.live = true;
    this.position = Math.max(this.position, position);
  }

  heartbeat(position: number) {
    this.position = Math.max(this.position, position);
  }

  reset(position: number) {
    this.counters.resets++;
    this.clear();
    this.position = position;
  }

  down() {
    this.live = false;
    this.epoch++;
  }

  change(event: ChangeEvent) {
    for (const c of event.changes) this.invalidate(c);
    this.position = Math.max(this.position, event.id);
  }

  clear() {
    this.entries.clear();
    this.owners.clear();
    this.epoch++;
  }

  // ---- internals ----

  private store(key: string, table: TableName, ids: string[], extra: string | undefined, value: unknown) {
    this.drop(key);
    const row: Record<string, unknown> = { ...(value as Record<string, unknown> | undefined) };
    PARAMS[table].forEach((column, i) => (row[column] = ids[i]));
    const owners: string[] = [];
    const { guild, channel } = OWNERS[table];
    if (guild && row[guild] != null) owners.push(`${table} g ${String(row[guild])}`);
    if (channel && row[channel] != null) owners.push(`${table} c ${String(row[channel])}`);
    if (EMBEDS_USER.includes(table)) owners.push(`u ${ids[1]!}`);
    for (const o of owners) {
      let set = this.owners.get(o);
      if (!set) this.owners.set(o, (set = new Set()));
      set.add(key);
    }
    this.entries.set(key, { key, table, extra, value, owners, tick: ++this.tick, answer: Promise.resolve(value) });
    if (this.entries.size > this.maxEntries) this.drop(this.entries.keys().next().value!);
  }

  private drop(key: string) {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    for (const o of entry.owners) {
      const set = this.owners.get(o);
      set?.delete(key);
      if (set?.size === 0) this.owners.delete(o);
    }
  }

  private dropOwned(owner: string) {
    const keys = this.owners.get(owner);
    if (keys) for (const key of [...keys]) this.drop(key);
  }

  private invalidate(c: FeedChange) {
    if (!isScope(c)) {
      const key = `${c.table} ${rowId(c.table, c.key)}`;
      this.drop(key);
      const fill = this.fills.get(key);
      if (fill) fill.invalidated = true;
      if (c.table === 'users') {
        const userId = c.key[KEY_COLUMNS.users[0]!]!;
        this.dropOwned(`u ${userId}`);
        for (const f of this.fills.values()) if (f.user === userId) f.invalidated = true;
      }
      return;
    }
    const tables: TableName[] = c.table === 'users' ? ['users', ...EMBEDS_USER] : [c.table];
    for (const f of this.fills.values()) if (tables.includes(f.table)) f.invalidated = true;
    if ('guild_id' in c.scope) return this.dropOwned(`${c.table} g ${c.scope.guild_id}`);
    if ('channel_id' in c.scope) return this.dropOwned(`${c.table} c ${c.scope.channel_id}`);
    for (const entry of [...this.entries.values()]) if (tables.includes(entry.table)) this.drop(entry.key);
  }
}
