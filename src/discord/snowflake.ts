/** Snowflakes stay decimal strings end to end: they exceed 2^53 and must never pass through a JS number. */
export const SNOWFLAKE_PROBLEM = 'must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)';
const MAX = 9223372036854775807n; // 2^63 - 1, the bigint column's range
/** Canonical decimals only: `0042` is not `42` (a snowflake is compared and stored as its number). */
const DIGITS = /^(?:0|[1-9]\d{0,19})$/;

const MAX_TEXT = MAX.toString();

export function isSnowflake(value: unknown): value is string {
  if (typeof value !== 'string' || !DIGITS.test(value)) return false;
  if (value.length < 19) return true;
  // Same length: digit strings compare like their numbers (today's snowflakes have 19 digits: no BigInt).
  if (value.length === 19) return value <= MAX_TEXT;
  return BigInt(value) <= MAX;
}

/** `(guild_id >> 22) % num_shards`, Discord's sharding formula. */
export function shardOf(guildId: string, numShards: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(numShards));
}
