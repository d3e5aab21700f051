/** USER_UPDATE, and the user objects every other event carries. */
import { objectAt, pickColumns, snowflakeAt } from '../../discord/columns.js';
import { upsert, type Change } from '../changes.js';
import type { EventMapper } from './context.js';

/** Upsert of the user keys present (a partial user only touches what it carries). */
export function userChanges(user: unknown, path: string): Change[] {
  const u = objectAt(user, path);
  const id = snowflakeAt(u.id, `${path}.id`);
  const row = pickColumns('users', u, path);
  row.id = id;
  return [upsert('users', row)];
}

/** Like `userChanges`, but writes nothing for an id-only user (as in presences): no empty stub rows. */
export function partialUserChanges(user: unknown, path: string): Change[] {
  const u = objectAt(user, path);
  snowflakeAt(u.id, `${path}.id`);
  const row = pickColumns('users', u, path);
  return Object.keys(row).length > 1 ? userChanges(u, path) : [];
}

/** USER_UPDATE is about the bot's own user. */
export const USER_UPDATE: EventMapper = (d, ctx) => [
  ...userChanges(d, ctx.path),
  { kind: 'self', userId: String(d.id) },
];
