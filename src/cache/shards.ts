/**
 * Which shard an event, or a row, belongs to: Discord's own partition, `(guild_id >> 22) % total_shards`, with
 * direct messages (no guild) on shard 0. With TOTAL_SHARDS set, every instance writes only the shards it holds
 * a lease on (db/leases.ts), so every guild-scoped row has exactly one writer. Pure: no I/O.
 */
import { snowflakeAt } from '../discord/columns.js';
import { isSnowflake } from '../discord/snowflake.js';
import { PayloadError } from '../discord/errors.js';

/** The shard of a guild. */
export function shardOfGuild(guildId: string, totalShards: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(totalShards));
}

/** Events whose guild is `d.id` (the others carry `d.guild_id`, absent in direct messages). */
const GUILD_IS_ID: ReadonlySet<string> = new Set(['GUILD_CREATE', 'GUILD_UPDATE', 'GUILD_DELETE', 'GUILD_LOADED_DD']);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The shard of one element of a dispatch body (already validated by `mapDispatch`): a forward's `shardId`,
 * which must agree with the guild the event names; for a bare payload, the guild's shard (0 without a guild).
 * READY names its shard in `d.shard`, whose shard count must be TOTAL_SHARDS: its reconcile deletes the guilds
 * of that shard under that count, so another count would delete rows of shards other instances write.
 * Throws `PayloadError` (a 400 naming the field).
 */
export function eventShard(item: Record<string, unknown>, totalShards: number, path: string): number {
  const forward = 'payload' in item;
  const payload = (forward ? item.payload : item) as Record<string, unknown>;
  const at = forward ? `${path}.payload` : path;
  const given = forward && typeof item.shardId === 'number' ? item.shardId : undefined;
  if (given !== undefined && given >= totalShards) {
    throw new PayloadError(`${path}.shardId`, `is ${given}: must be below TOTAL_SHARDS (${totalShards})`);
  }
  const t = String(payload.t);
  const d = isObject(payload.d) ? payload.d : {};
  let own: number | undefined;
  let why = '';
  if (t === 'READY') {
    const [shard, count] = Array.isArray(d.shard) ? (d.shard as number[]) : [0, 1];
    if (count !== totalShards) {
      throw new PayloadError(`${at}.d.shard`, `is [${shard}, ${count}]: the shard count must be TOTAL_SHARDS (${totalShards})`);
    }
    own = shard;
    why = `its d.shard is [${shard}, ${count}]`;
  } else {
    const key = GUILD_IS_ID.has(t) ? 'id' : 'guild_id';
    const guild = d[key];
    if (guild !== undefined && guild !== null) {
      own = shardOfGuild(snowflakeAt(guild, `${at}.d.${key}`), totalShards);
      why = `guild ${String(guild)} is on shard ${own} of ${totalShards}`;
    }
  }
  if (given === undefined) return own ?? 0;
  if (own !== undefined && own !== given) throw new PayloadError(`${path}.shardId`, `is ${given}, but ${why}`);
  return given;
}

/**
 * `SHARDS`: `0-7,12` → [0, …, 7, 12] (sorted, without repeats), each below `totalShards`. Returns a problem
 * (for the configuration's report) instead of throwing.
 */
export function parseShardList(raw: string, totalShards: number): number[] | string {
  const out = new Set<number>();
  for (const part of raw.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
    if (!m) return `"${part}" is not a shard or a range such as 0-7`;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) return `the range ${part} is empty`;
    if (to >= totalShards) return `shard ${to} is not below TOTAL_SHARDS (${totalShards})`;
    for (let s = from; s <= to; s++) out.add(s);
  }
  return [...out].sort((a, b) => a - b);
}

/** The shard of a row keyed by a guild, when `guildId` is one (else shard 0: a direct message's). */
export function shardOfRow(guildId: unknown, totalShards: number): number {
  return typeof guildId === 'string' && isSnowflake(guildId) ? shardOfGuild(guildId, totalShards) : 0;
}
