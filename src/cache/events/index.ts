/**
 * The dispatch table: gateway event name → pure mapper, and the envelope handling shared by every event
 * (gateway payload or Discordeno big-bot forward, op ≠ 0 and untracked events ignored, camelCase rejected).
 */
import { PayloadError } from '../../discord/errors.js';
import type { Change } from '../changes.js';
import * as channels from './channels.js';
import type { EventContext, EventMapper } from './context.js';
import * as guilds from './guilds.js';
import * as members from './members.js';
import * as messages from './messages.js';
import * as presences from './presences.js';
import * as reactions from './reactions.js';
import * as ready from './ready.js';
import * as roles from './roles.js';
import * as threads from './threads.js';
import * as users from './users.js';

export type { EventContext, EventMapper };

export const mappers: Readonly<Record<string, EventMapper>> = {
  READY: ready.READY,
  GUILD_CREATE: guilds.GUILD_CREATE,
  GUILD_LOADED_DD: guilds.GUILD_CREATE,
  GUILD_UPDATE: guilds.GUILD_UPDATE,
  GUILD_DELETE: guilds.GUILD_DELETE,
  GUILD_EMOJIS_UPDATE: guilds.GUILD_EMOJIS_UPDATE,
  GUILD_ROLE_CREATE: roles.GUILD_ROLE_CREATE,
  GUILD_ROLE_UPDATE: roles.GUILD_ROLE_UPDATE,
  GUILD_ROLE_DELETE: roles.GUILD_ROLE_DELETE,
  GUILD_MEMBER_ADD: members.GUILD_MEMBER_ADD,
  GUILD_MEMBER_UPDATE: members.GUILD_MEMBER_UPDATE,
  GUILD_MEMBER_REMOVE: members.GUILD_MEMBER_REMOVE,
  GUILD_MEMBERS_CHUNK: members.GUILD_MEMBERS_CHUNK,
  CHANNEL_CREATE: channels.CHANNEL_CREATE,
  CHANNEL_UPDATE: channels.CHANNEL_UPDATE,
  CHANNEL_DELETE: channels.CHANNEL_DELETE,
  CHANNEL_PINS_UPDATE: channels.CHANNEL_PINS_UPDATE,
  THREAD_CREATE: threads.THREAD_CREATE,
  THREAD_UPDATE: threads.THREAD_UPDATE,
  THREAD_DELETE: threads.THREAD_DELETE,
  THREAD_LIST_SYNC: threads.THREAD_LIST_SYNC,
  THREAD_MEMBERS_UPDATE: threads.THREAD_MEMBERS_UPDATE,
  MESSAGE_CREATE: messages.MESSAGE_CREATE,
  MESSAGE_UPDATE: messages.MESSAGE_UPDATE,
  MESSAGE_DELETE: messages.MESSAGE_DELETE,
  MESSAGE_DELETE_BULK: messages.MESSAGE_DELETE_BULK,
  MESSAGE_REACTION_ADD: reactions.MESSAGE_REACTION_ADD,
  MESSAGE_REACTION_REMOVE: reactions.MESSAGE_REACTION_REMOVE,
  MESSAGE_REACTION_REMOVE_ALL: reactions.MESSAGE_REACTION_REMOVE_ALL,
  MESSAGE_REACTION_REMOVE_EMOJI: reactions.MESSAGE_REACTION_REMOVE_EMOJI,
  PRESENCE_UPDATE: presences.PRESENCE_UPDATE,
  USER_UPDATE: users.USER_UPDATE,
};

export const trackedEvents = Object.keys(mappers);

export interface MappedEvent {
  /** Event name, or `op:<n>` for a non-dispatch payload. */
  type: string;
  tracked: boolean;
  changes: Change[];
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Discord's keys are snake_case: an uppercase letter at the top of `d` means a camelCased (transformed) packet. */
function rejectCamelCase(d: Record<string, unknown>, path: string) {
  for (const key in d) {
    if (/[A-Z]/.test(key)) {
      throw new PayloadError(
        `${path}.${key}`,
        'is camelCased: forward the raw gateway packet with snake_case keys (in Discordeno 21, override ' +
          '`gateway.forwardToBot` / the worker forward so it sends the packet before transformation)',
      );
    }
  }
}

export interface MapOptions {
  deleteOfflinePresences: boolean;
}

/** Maps one element of a dispatch body (gateway payload or `{ payload, shardId }`) to its changes. */
export function mapDispatch(item: unknown, path: string, options: MapOptions): MappedEvent {
  if (!isObject(item)) throw new PayloadError(path, 'must be a gateway payload object {op, t, d} or a forward {payload, shardId}');
  let payload = item;
  let shardId: number | undefined;
  if ('payload' in item) {
    if (!isObject(item.payload)) throw new PayloadError(`${path}.payload`, 'must be a gateway payload object {op, t, d}');
    if (item.shardId !== undefined && !(Number.isInteger(item.shardId) && (item.shardId as number) >= 0)) {
      throw new PayloadError(`${path}.shardId`, 'must be a non-negative integer');
    }
    payload = item.payload;
    shardId = item.shardId as number | undefined;
    path = `${path}.payload`;
  }
  const { op, t } = payload;
  if (!Number.isInteger(op)) throw new PayloadError(`${path}.op`, 'is required (an integer gateway opcode)');
  if (op !== 0) return { type: `op:${String(op)}`, tracked: false, changes: [] };
  if (typeof t !== 'string') throw new PayloadError(`${path}.t`, 'is required for op 0 (the event name)');
  const mapper = Object.hasOwn(mappers, t) ? mappers[t] : undefined;
  if (!mapper) return { type: t, tracked: false, changes: [] };
  if (!isObject(payload.d)) throw new PayloadError(`${path}.d`, `is required for ${t} (an object)`);
  rejectCamelCase(payload.d, `${path}.d`);
  const ctx: EventContext = { path: `${path}.d`, shardId, deleteOfflinePresences: options.deleteOfflinePresences };
  return { type: t, tracked: true, changes: mapper(payload.d, ctx) };
}
