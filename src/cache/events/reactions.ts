/** MESSAGE_REACTION_ADD / REMOVE / REMOVE_ALL / REMOVE_EMOJI: counters in `messages.reactions`. */
import { objectAt, snowflakeAt } from '../../discord/columns.js';
import { upsert, type Change } from '../changes.js';
import type { EventMapper } from './context.js';
import { memberRow } from './members.js';
import { userChanges } from './users.js';

function emojiAt(value: unknown, path: string): Record<string, unknown> {
  const emoji = objectAt(value, path);
  if (emoji.id != null) snowflakeAt(emoji.id, `${path}.id`);
  return emoji;
}

export const MESSAGE_REACTION_ADD: EventMapper = (d, { path }) => {
  const messageId = snowflakeAt(d.message_id, `${path}.message_id`);
  const userId = snowflakeAt(d.user_id, `${path}.user_id`);
  const emoji = emojiAt(d.emoji, `${path}.emoji`);
  const changes: Change[] = [];
  if (d.member != null && d.guild_id != null) {
    const guildId = snowflakeAt(d.guild_id, `${path}.guild_id`);
    const member = objectAt(d.member, `${path}.member`);
    if (member.user != null) changes.push(...userChanges(member.user, `${path}.member.user`));
    changes.push(upsert('members', memberRow(member, guildId, userId, `${path}.member`)));
  }
  changes.push({ kind: 'reaction', messageId, op: { type: 'add', emoji, burst: d.burst === true, userId } });
  return changes;
};

export const MESSAGE_REACTION_REMOVE: EventMapper = (d, { path }) => [
  {
    kind: 'reaction',
    messageId: snowflakeAt(d.message_id, `${path}.message_id`),
    op: {
      type: 'remove',
      emoji: emojiAt(d.emoji, `${path}.emoji`),
      burst: d.burst === true,
      userId: snowflakeAt(d.user_id, `${path}.user_id`),
    },
  },
];

export const MESSAGE_REACTION_REMOVE_ALL: EventMapper = (d, { path }) => [
  { kind: 'reaction', messageId: snowflakeAt(d.message_id, `${path}.message_id`), op: { type: 'removeAll' } },
];

export const MESSAGE_REACTION_REMOVE_EMOJI: EventMapper = (d, { path }) => [
  {
    kind: 'reaction',
    messageId: snowflakeAt(d.message_id, `${path}.message_id`),
    op: { type: 'removeEmoji', emoji: emojiAt(d.emoji, `${path}.emoji`) },
  },
];
