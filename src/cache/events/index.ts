/**
 * The dispatch table: gateway event name → pure mapper, and the envelope handling shared by every event
 * (gateway payload or Discordeno big-bot forward, op ≠ 0 and untracked events ignored, camelCase rejected).
 */
import type { GatewayEventNames } from '@discordeno/types';
import { rejectCamelCase } from '../../discord/columns.js';
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
import { MAX_SHARDS } from './ready.js';
import * as roles from './roles.js';
import * as threads from './threads.js';
import * as users from './users.js';
import * as voiceStates from './voice-states.js';

export type { EventContext, EventMapper };

/**
 * Gateway events the cache does not track, by name. With the mappers below they cover every name of
 * Discordeno's `GatewayEventNames` exactly: a name added there is in neither list and fails the type check
 * (like twilight's exhaustive match), so a new event cannot be forgotten.
 */
export const IGNORED_EVENTS = [
  'RESUMED',
  'APPLICATION_COMMAND_PERMISSIONS_UPDATE',
  'AUTO_MODERATION_RULE_CREATE',
  'AUTO_MODERATION_RULE_UPDATE',
  'AUTO_MODERATION_RULE_DELETE',
  'AUTO_MODERATION_ACTION_EXECUTION',
  'THREAD_MEMBER_UPDATE',
  'GUILD_AUDIT_LOG_ENTRY_CREATE',
  'GUILD_BAN_ADD',
  'GUILD_BAN_REMOVE',
  'GUILD_STICKERS_UPDATE',
  'GUILD_INTEGRATIONS_UPDATE',
  'GUILD_SCHEDULED_EVENT_CREATE',
  'GUILD_SCHEDULED_EVENT_UPDATE',
  'GUILD_SCHEDULED_EVENT_DELETE',
  'GUILD_SCHEDULED_EVENT_USER_ADD',
  'GUILD_SCHEDULED_EVENT_USER_REMOVE',
  'GUILD_SOUNDBOARD_SOUND_CREATE',
  'GUILD_SOUNDBOARD_SOUND_UPDATE',
  'GUILD_SOUNDBOARD_SOUND_DELETE',
  'GUILD_SOUNDBOARD_SOUNDS_UPDATE',
  'SOUNDBOARD_SOUNDS',
  'INTEGRATION_CREATE',
  'INTEGRATION_UPDATE',
  'INTEGRATION_DELETE',
  'INTERACTION_CREATE',
  'INVITE_CREATE',
  'INVITE_DELETE',
  'STAGE_INSTANCE_CREATE',
  'STAGE_INSTANCE_UPDATE',
  'STAGE_INSTANCE_DELETE',
  'TYPING_START',
  'VOICE_CHANNEL_EFFECT_SEND',
  'VOICE_SERVER_UPDATE',
  'WEBHOOKS_UPDATE',
  'ENTITLEMENT_CREATE',
  'ENTITLEMENT_UPDATE',
  'ENTITLEMENT_DELETE',
  'SUBSCRIPTION_CREATE',
  'SUBSCRIPTION_UPDATE',
  'SUBSCRIPTION_DELETE',
  'MESSAGE_POLL_VOTE_ADD',
  'MESSAGE_POLL_VOTE_REMOVE',
] as const satisfies readonly GatewayEventNames[];

type IgnoredEvent = (typeof IGNORED_EVENTS)[number];
/** Every other gateway event, and Discordeno's own `GUILD_LOADED_DD` (a GUILD_CREATE it synthesises). */
export type TrackedEvent = Exclude<GatewayEventNames, IgnoredEvent> | 'GUILD_LOADED_DD';

export const mappers: Readonly<Record<TrackedEvent, EventMapper>> = {
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
  VOICE_STATE_UPDATE: voiceStates.VOICE_STATE_UPDATE,
};

export const trackedEvents = Object.keys(mappers) as TrackedEvent[];

/** Every event name the cache knows (tracked or ignored): the only names that become metric labels. */
export const KNOWN_EVENTS: ReadonlySet<string> = new Set<string>([...trackedEvents, ...IGNORED_EVENTS]);

export interface MappedEvent {
  /** Event name, or `op:<n>` for a non-dispatch payload. */
  type: string;
  tracked: boolean;
  changes: Change[];
  /** A tracked forward's shard and sequence number: applied once (see cache/sequence.ts). */
  sequence?: { shardId: number; seq: number; session?: string };
}

/**
 * The sequence of a forwarded event, when it has one: `{ payload, shardId }` with an integer `s`. READY
 * carries the new session. GUILD_LOADED_DD is Discordeno's renamed GUILD_CREATE: always applied.
 */
function sequenceOf(t: string, s: unknown, shardId: number | undefined, d: Record<string, unknown>, path: string): MappedEvent['sequence'] {
  if (s !== undefined && s !== null && !(Number.isSafeInteger(s) && (s as number) >= 0)) {
    throw new PayloadError(`${path}.s`, 'must be a non-negative integer (the sequence number) or null');
  }
  if (shardId === undefined || typeof s !== 'number' || t === 'GUILD_LOADED_DD') return undefined;
  if (t === 'READY') return { shardId, seq: s, session: typeof d.session_id === 'string' ? d.session_id : '' };
  return { shardId, seq: s };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

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
    if (item.shardId !== undefined && !(Number.isInteger(item.shardId) && (item.shardId as number) >= 0 && (item.shardId as number) < MAX_SHARDS)) {
      throw new PayloadError(`${path}.shardId`, `must be an integer from 0 to ${MAX_SHARDS - 1}`);
    }
    payload = item.payload;
    shardId = item.shardId as number | undefined;
    path = `${path}.payload`;
  }
  const { op, t } = payload;
  if (!Number.isInteger(op)) throw new PayloadError(`${path}.op`, 'is required (an integer gateway opcode)');
  if (op !== 0) return { type: `op:${String(op)}`, tracked: false, changes: [] };
  if (typeof t !== 'string') throw new PayloadError(`${path}.t`, 'is required for op 0 (the event name)');
  const mapper = Object.hasOwn(mappers, t) ? mappers[t as TrackedEvent] : undefined;
  if (!mapper) return { type: t, tracked: false, changes: [] };
  if (!isObject(payload.d)) throw new PayloadError(`${path}.d`, `is required for ${t} (an object)`);
  rejectCamelCase(payload.d, `${path}.d`);
  const ctx: EventContext = { path: `${path}.d`, shardId, deleteOfflinePresences: options.deleteOfflinePresences };
  const sequence = sequenceOf(t, payload.s, shardId, payload.d, path);
  const changes = mapper(payload.d, ctx);
  return sequence ? { type: t, tracked: true, changes, sequence } : { type: t, tracked: true, changes };
}
