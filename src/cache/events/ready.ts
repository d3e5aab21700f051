/** READY: the bot user, the session's guilds as unavailable until their GUILD_CREATE, and the reconcile. */
import { arrayAt, objectAt, snowflakeAt } from '../../discord/columns.js';
import { PayloadError } from '../../discord/errors.js';
import { upsert, type Change } from '../changes.js';
import type { EventMapper } from './context.js';
import { userChanges } from './users.js';

/** Shard ids and counts are 32-bit (they are bound as integers). */
export const MAX_SHARDS = 2 ** 31 - 1;

function shardOfSession(shard: unknown, path: string): [number, number] {
  if (shard === undefined || shard === null) return [0, 1];
  if (
    Array.isArray(shard) &&
    shard.length === 2 &&
    shard.every((n) => Number.isInteger(n)) &&
    shard[0] >= 0 &&
    shard[1] >= 1 &&
    shard[0] < shard[1] &&
    shard[1] <= MAX_SHARDS
  ) {
    return [shard[0], shard[1]];
  }
  throw new PayloadError(path, `must be [shard_id, num_shards] with 0 <= shard_id < num_shards <= ${MAX_SHARDS}`);
}

export const READY: EventMapper = (d, { path }) => {
  const [shardId, numShards] = shardOfSession(d.shard, `${path}.shard`);
  const keep = arrayAt(d.guilds, `${path}.guilds`).map((g, i) =>
    snowflakeAt(objectAt(g, `${path}.guilds[${i}]`).id, `${path}.guilds[${i}].id`),
  );
  const changes: Change[] = [...userChanges(d.user, `${path}.user`)];
  changes.push({ kind: 'self', userId: String((d.user as Record<string, unknown>).id) });
  // Cached guilds of this shard missing from READY were left while the bot was offline.
  changes.push({ kind: 'reconcileShard', shardId, numShards, keep });
  for (const id of keep) changes.push(upsert('unavailable_guilds', { id }));
  return changes;
};
