/** Shared helpers for the pure unit tests (no database). Not a test file itself. */
import { readFileSync } from 'node:fs';
import type { Change, Row } from '../../src/cache/changes.js';
import type { EventContext } from '../../src/cache/events/context.js';
import type { TableName } from '../../src/db/schema.js';

export interface GatewayPayload {
  t: string | null;
  op: number;
  s: number | null;
  d: unknown;
}

const FIXTURES = new URL('../fixtures/discord-captures/', import.meta.url);

/** Every envelope of a recorded capture (a fresh copy on each call: mappers must not see shared state). */
export function loadCapture(name: string): GatewayPayload[] {
  const parsed: unknown = JSON.parse(readFileSync(new URL(`gateway_${name}.json`, FIXTURES), 'utf8'));
  return (Array.isArray(parsed) ? parsed : [parsed]) as GatewayPayload[];
}

/** The `d` of the `index`-th envelope of a capture. */
export function captureD(name: string, index = 0): Record<string, unknown> {
  const payload = loadCapture(name)[index];
  if (!payload) throw new Error(`capture ${name} has no envelope ${index}`);
  return payload.d as Record<string, unknown>;
}

export const PATH = 'body[0].d';

export const ctx = (over: Partial<EventContext> = {}): EventContext => ({
  path: PATH,
  shardId: undefined,
  deleteOfflinePresences: false,
  ...over,
});

/** A compact signature of each change, e.g. `upsert:users`, `reconcileShard`. */
export const kinds = (changes: Change[]): string[] =>
  changes.map((c) => ('table' in c ? `${c.kind}:${c.table}` : c.kind));

/** Rows of the upserts into `table`, in order. */
export function upsertRows(changes: Change[], table: TableName): Row[] {
  return changes.flatMap((c) => (c.kind === 'upsert' && c.table === table ? [c.row] : []));
}

/** The single upsert into `table` (fails the test if there is not exactly one). */
export function onlyUpsert(changes: Change[], table: TableName): Row {
  const rows = upsertRows(changes, table);
  if (rows.length !== 1) throw new Error(`expected exactly one upsert into ${table}, got ${rows.length}`);
  return rows[0]!;
}

/** The change at `index`, narrowed to `kind` (fails the test otherwise). */
export function changeAt<K extends Change['kind']>(changes: Change[], index: number, kind: K): Extract<Change, { kind: K }> {
  const c = changes[index];
  if (!c || c.kind !== kind) throw new Error(`change ${index} is ${c ? c.kind : 'missing'}, expected ${kind}`);
  return c as Extract<Change, { kind: K }>;
}

/** Runs `fn` and returns the error it throws (fails when it does not throw). */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof Error) return e;
    throw new Error(`threw a non-Error: ${String(e)}`);
  }
  throw new Error('expected a throw');
}

/** The changes with GUILD_CREATE's snapshot parts (and sequenced forwards) spread out, in the order they apply. */
export function flat(changes: Change[]): Change[] {
  return changes.flatMap((c) =>
    c.kind === 'snapshot' ? c.parts.flatMap((p) => flat(p.changes)) : c.kind === 'sequenced' ? flat(c.changes) : [c],
  );
}
