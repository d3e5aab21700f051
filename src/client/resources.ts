/**
 * The client's resource groups (`cache.members.get(guildId, userId)`, `cache.voiceStates.inChannel(id)`, …),
 * derived from the table descriptors the service's routes come from (`db/tables.ts`: plain data, imported
 * without the service). A table added there gets its client methods, typed, with no client code.
 *
 * Per table: `get(...ids)` → the object or `undefined` when not cached, `put(...ids, body)`, `delete(...ids)`;
 * per list: its method (`list`, `inChannel`) and, for paged lists, one walking every page (`iterate`).
 */
import type { BigString } from '@discordeno/types';
import { TABLES, TABLE_NAMES, type DiscordObjects, type ListRoute, type TableName } from '../db/tables.js';

type Tables = typeof TABLES;

/** One id per `:param` of a path, in order (strings or Discordeno's bigints). */
type Ids<P extends string> = P extends `${string}:${string}/${infer Rest}`
  ? [BigString, ...Ids<`/${Rest}`>]
  : P extends `${string}:${string}`
    ? [BigString]
    : [];

type PageOf<L> = L extends { paged: true; order: 'desc' }
  ? { limit?: number; before?: BigString }
  : L extends { paged: true }
    ? { limit?: number; after?: BigString }
    : unknown;
type FiltersOf<L> = L extends { filters: readonly (infer F extends string)[] } ? { [K in F]?: BigString } : unknown;
/** The options of a list: its page (`limit`, `after` / `before`) and filters (`parent_id`). */
export type ListOptions<L> = PageOf<L> & FiltersOf<L>;

type ListMethods<N extends TableName> = {
  [M in keyof Tables[N]['lists']]: Tables[N]['lists'][M] extends { path: infer P extends string }
    ? (...args: [...Ids<P>, options?: ListOptions<Tables[N]['lists'][M]>]) => Promise<DiscordObjects[N][]>
    : never;
};
type IterateMethods<N extends TableName> = {
  [M in keyof Tables[N]['lists'] as Tables[N]['lists'][M] extends { iterate: infer I extends string } ? I : never]: Tables[N]['lists'][M] extends {
    path: infer P extends string;
  }
    ? (...args: [...Ids<P>, pageSize?: number]) => AsyncGenerator<DiscordObjects[N], void, undefined>
    : never;
};

export type ResourceClient<N extends TableName> = {
  /** The cached object, or `undefined` when it is not cached. */
  get(...ids: Ids<Tables[N]['one']['path']>): Promise<DiscordObjects[N] | undefined>;
  /** Upsert (merge): the stored object. */
  put(...args: [...Ids<Tables[N]['one']['path']>, body?: Partial<DiscordObjects[N]>]): Promise<DiscordObjects[N]>;
  delete(...ids: Ids<Tables[N]['one']['path']>): Promise<void>;
} & ListMethods<N> &
  IterateMethods<N>;

/** Every group, by the descriptor's client name (`users`, `voiceStates`, …). */
export type Resources = { [N in TableName as Tables[N]['client']]: ResourceClient<N> };

/** What the groups need from the client. */
export interface ResourceTransport {
  /**
   * One object of `table` by the ids of its route (the local cache keys it by them; `onePath` builds the path
   * on a miss). No closure per call: a hit of the local cache allocates as little as it can (bench (7)).
   */
  getOne(table: TableName, ids: readonly unknown[]): Promise<unknown>;
  put(path: string, body: unknown): Promise<unknown>;
  remove(path: string): Promise<void>;
  list(path: string, query: Record<string, string | number | bigint | undefined>): Promise<unknown[]>;
}

const enc = (id: unknown) => encodeURIComponent(String(id));
/** The descriptors' paths are relative to the API's version prefix. */
const API = '/v1';

/** The path of one object of `table`. */
export const onePath = (table: TableName, ids: readonly unknown[]): string => API + fillPath(TABLES[table].one.path, ids);

/** `path` with its `:params` replaced by `ids`, in order. */
export function fillPath(path: string, ids: readonly unknown[]): string {
  let i = 0;
  return path.replace(/:\w+/g, () => {
    if (i >= ids.length) throw new TypeError(`${path} needs ${path.split(':').length - 1} ids`);
    return enc(ids[i++]);
  });
}

const paramCount = (path: string) => (path.match(/:\w+/g) ?? []).length;

/** The cursor of the next page: the last item's key (members and presences are keyed by their user's id). */
function cursorOf(item: Record<string, unknown>, key: string): string | undefined {
  const v = item[key] ?? (item.user as { id?: unknown } | undefined)?.id;
  return v === undefined || v === null ? undefined : String(v);
}

async function* pages(t: ResourceTransport, path: string, route: ListRoute, pageSize: number): AsyncGenerator<Record<string, unknown>, void, undefined> {
  const bound = route.order === 'asc' ? 'after' : 'before';
  let cursor: string | undefined;
  for (;;) {
    const page = (await t.list(path, { limit: pageSize, [bound]: cursor })) as Record<string, unknown>[];
    yield* page;
    if (page.length < pageSize) return;
    const next = cursorOf(page[page.length - 1]!, route.key);
    if (next === undefined || next === cursor) return;
    cursor = next;
  }
}

function group(t: ResourceTransport, table: TableName): Record<string, (...args: unknown[]) => unknown> {
  const d = TABLES[table];
  const n = paramCount(d.one.path);
  const methods: Record<string, (...args: unknown[]) => unknown> = {
    get: (...ids) => t.getOne(table, ids),
    put: (...args) => t.put(API + fillPath(d.one.path, args.slice(0, n)), args[n]),
    delete: (...ids) => t.remove(API + fillPath(d.one.path, ids)),
  };
  for (const [name, route] of Object.entries(d.lists) as [string, ListRoute][]) {
    const k = paramCount(route.path);
    methods[name] = (...args) => {
      const options = (args[k] ?? {}) as Record<string, string | number | bigint | undefined>;
      return t.list(API + fillPath(route.path, args.slice(0, k)), options);
    };
    if (route.iterate) {
      methods[route.iterate] = (...args) => pages(t, API + fillPath(route.path, args.slice(0, k)), route, Number(args[k] ?? 1000));
    }
  }
  return methods;
}

/** The groups of every table, over `transport`. */
export function resources(transport: ResourceTransport): Resources {
  return Object.fromEntries(TABLE_NAMES.map((t) => [TABLES[t].client, group(transport, t)])) as unknown as Resources;
}
