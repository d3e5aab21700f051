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

/**
 * Applies one reaction event. `botUserId` (when known) decides `me` / `me_burst`.
 * Returns the new array (an empty array once the last reaction is gone).
 */
export function applyReaction(current: readonly Reaction[] | null | undefined, op: ReactionOp, botUserId?: string): Reaction[] {
  const reactions = (current ?? []).map((r) => ({ ...r, count_details: { ...(r.count_details ?? { burst: 0, normal: r.count }) } }));
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
