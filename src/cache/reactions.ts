/** Pure reaction counting on a message's cached `reactions` array. */
import type { ReactionOp } from './changes.js';

export interface Reaction {
  count: number;
  count_details: { burst: number; normal: number };
  me: boolean;
  me_burst: boolean;
  burst_colors: string[];
  emoji: Record<string, unknown>;
}

/** Custom emojis are identified by id, unicode emojis by name. */
export const emojiKey = (emoji: Record<string, unknown>): string =>
  emoji.id != null ? `id:${String(emoji.id)}` : `name:${String(emoji.name)}`;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const counter = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : 0);

/**
 * The cached reactions as well-formed counters. Total over whatever is stored (data cached before the shape
 * checks, or written by hand, may be of any shape): entries without an emoji object are dropped, missing or
 * bad counters count 0.
 */
function cachedReactions(current: unknown): Reaction[] {
  if (!Array.isArray(current)) return [];
  const out: Reaction[] = [];
  for (const r of current) {
    if (!isObject(r) || !isObject(r.emoji)) continue;
    const details = isObject(r.count_details) ? r.count_details : { burst: 0, normal: r.count };
    const count_details = { burst: counter(details.burst), normal: counter(details.normal) };
    out.push({
      ...r,
      count: counter(r.count),
      count_details,
      me: r.me === true,
      me_burst: r.me_burst === true,
      burst_colors: Array.isArray(r.burst_colors) ? r.burst_colors : [],
      emoji: r.emoji,
    } as Reaction);
  }
  return out;
}

/**
 * Applies one reaction event. `botUserId` (when known) decides `me` / `me_burst`.
 * Returns the new array (an empty array once the last reaction is gone).
 */
export function applyReaction(current: unknown, op: ReactionOp, botUserId?: string): Reaction[] {
  const reactions = cachedReactions(current);
  if (op.type === 'removeAll') return [];
  const key = emojiKey(op.emoji);
  const index = reactions.findIndex((r) => emojiKey(r.emoji) === key);
  if (op.type === 'removeEmoji') return index < 0 ? reactions : reactions.filter((_, i) => i !== index);

  const mine = botUserId !== undefined && op.userId === botUserId;
  if (op.type === 'add') {
    const r: Reaction =
      reactions[index] ??
      { count: 0, count_details: { burst: 0, normal: 0 }, me: false, me_burst: false, burst_colors: [], emoji: op.emoji };
    r.count += 1;
    if (op.burst) r.count_details.burst += 1;
    else r.count_details.normal += 1;
    if (mine) {
      if (op.burst) r.me_burst = true;
      else r.me = true;
    }
    if (index < 0) reactions.push(r);
    return reactions;
  }
  // remove: a reaction the cache never counted (missed events) leaves the counts alone
  const r = reactions[index];
  if (!r) return reactions;
  const kind = op.burst ? 'burst' : 'normal';
  if (r.count_details[kind] > 0) {
    r.count_details[kind] -= 1;
    r.count = Math.max(0, r.count - 1);
  }
  if (mine) {
    if (op.burst) r.me_burst = false;
    else r.me = false;
  }
  return r.count === 0 ? reactions.filter((_, i) => i !== index) : reactions;
}
