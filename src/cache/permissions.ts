/**
 * Computed permissions of a guild member, following Discord's documented algorithm
 * (https://discord.com/developers/docs/topics/permissions#permission-overwrites):
 *
 * 1. the guild owner has every permission;
 * 2. base = `@everyone` role (its id is the guild id) OR-ed with the member's roles;
 * 3. ADMINISTRATOR in the base → every permission (overwrites and timeouts do not apply);
 * 4. in a channel: the `@everyone` overwrite, then the member's role overwrites (all their denies OR-ed, then
 *    all their allows OR-ed), then the member's own overwrite — each removes its deny and adds its allow;
 *    a thread takes its parent channel's overwrites (the caller passes those);
 * 5. a member timed out (`communication_disabled_until` in the future) keeps only VIEW_CHANNEL and
 *    READ_MESSAGE_HISTORY.
 *
 * Pure: no I/O, no clock (the caller passes `now`). Discord's "implicit" permissions (e.g. no SEND_MESSAGES
 * hides ATTACH_FILES) are not applied: they are a client-side refinement outside the documented algorithm.
 * Malformed permission strings in cached data count as 0 rather than failing.
 */

/** Discord's permission bits (https://discord.com/developers/docs/topics/permissions#permissions-bitwise-permission-flags). */
export const Permission = {
  CREATE_INSTANT_INVITE: 1n << 0n,
  KICK_MEMBERS: 1n << 1n,
  BAN_MEMBERS: 1n << 2n,
  ADMINISTRATOR: 1n << 3n,
  MANAGE_CHANNELS: 1n << 4n,
  MANAGE_GUILD: 1n << 5n,
  ADD_REACTIONS: 1n << 6n,
  VIEW_AUDIT_LOG: 1n << 7n,
  PRIORITY_SPEAKER: 1n << 8n,
  STREAM: 1n << 9n,
  VIEW_CHANNEL: 1n << 10n,
  SEND_MESSAGES: 1n << 11n,
  SEND_TTS_MESSAGES: 1n << 12n,
  MANAGE_MESSAGES: 1n << 13n,
  EMBED_LINKS: 1n << 14n,
  ATTACH_FILES: 1n << 15n,
  READ_MESSAGE_HISTORY: 1n << 16n,
  MENTION_EVERYONE: 1n << 17n,
  USE_EXTERNAL_EMOJIS: 1n << 18n,
  VIEW_GUILD_INSIGHTS: 1n << 19n,
  CONNECT: 1n << 20n,
  SPEAK: 1n << 21n,
  MUTE_MEMBERS: 1n << 22n,
  DEAFEN_MEMBERS: 1n << 23n,
  MOVE_MEMBERS: 1n << 24n,
  USE_VAD: 1n << 25n,
  CHANGE_NICKNAME: 1n << 26n,
  MANAGE_NICKNAMES: 1n << 27n,
  MANAGE_ROLES: 1n << 28n,
  MANAGE_WEBHOOKS: 1n << 29n,
  MANAGE_GUILD_EXPRESSIONS: 1n << 30n,
  USE_APPLICATION_COMMANDS: 1n << 31n,
  REQUEST_TO_SPEAK: 1n << 32n,
  MANAGE_EVENTS: 1n << 33n,
  MANAGE_THREADS: 1n << 34n,
  CREATE_PUBLIC_THREADS: 1n << 35n,
  CREATE_PRIVATE_THREADS: 1n << 36n,
  USE_EXTERNAL_STICKERS: 1n << 37n,
  SEND_MESSAGES_IN_THREADS: 1n << 38n,
  USE_EMBEDDED_ACTIVITIES: 1n << 39n,
  MODERATE_MEMBERS: 1n << 40n,
  VIEW_CREATOR_MONETIZATION_ANALYTICS: 1n << 41n,
  USE_SOUNDBOARD: 1n << 42n,
  CREATE_GUILD_EXPRESSIONS: 1n << 43n,
  CREATE_EVENTS: 1n << 44n,
  USE_EXTERNAL_SOUNDS: 1n << 45n,
  SEND_VOICE_MESSAGES: 1n << 46n,
  SEND_POLLS: 1n << 49n,
  USE_EXTERNAL_APPS: 1n << 50n,
  PIN_MESSAGES: 1n << 51n,
  BYPASS_SLOWMODE: 1n << 52n,
} as const;

/**
 * "All permissions": the OR of every bit above, 8584986789675007 (0x1E7FFFFFFFFFFF: bits 0–46 and 49–52;
 * 47 and 48 are not documented permissions). What the owner and administrators get.
 */
export const ALL_PERMISSIONS: bigint = Object.values(Permission).reduce((all, bit) => all | bit, 0n);

/** What a timed-out member keeps. */
export const TIMEOUT_KEEPS = Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY;

/** A guild role as cached in `guilds.roles` (only what the algorithm reads). */
export interface RoleLike {
  id?: unknown;
  permissions?: unknown;
}

/** A channel permission overwrite (`type` 0 = role, 1 = member; matched by id, as ids are unique). */
export interface OverwriteLike {
  id?: unknown;
  type?: unknown;
  allow?: unknown;
  deny?: unknown;
}

export interface PermissionInput {
  guildId: string;
  /** `guilds.owner_id`, when known. */
  ownerId?: string | null | undefined;
  /** `guilds.roles`. */
  roles?: readonly RoleLike[] | null | undefined;
  userId: string;
  /** `members.roles` (role ids). */
  memberRoles?: readonly string[] | null | undefined;
  /** `members.communication_disabled_until` (ISO-8601). */
  communicationDisabledUntil?: string | null | undefined;
  /** The channel's overwrites (a thread's: its parent's). Omit for guild-level permissions. */
  overwrites?: readonly OverwriteLike[] | null | undefined;
  /** Current time in ms since the epoch (for the timeout). */
  now: number;
}

/** A permission bit set from Discord's decimal string (or a safe integer); anything else is 0. */
export function parseBits(value: unknown): bigint {
  if (typeof value === 'string' && /^\d{1,30}$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  return 0n;
}

const idOf = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? String(value) : undefined);

/** Whether `communication_disabled_until` lies in the future. */
export function isTimedOut(until: string | null | undefined, now: number): boolean {
  if (!until) return false;
  const t = Date.parse(until);
  return !Number.isNaN(t) && t > now;
}

/** Base permissions: @everyone plus the member's roles (roles the guild does not list add nothing). */
function basePermissions(input: PermissionInput): bigint {
  const memberRoles = new Set(input.memberRoles ?? []);
  let base = 0n;
  for (const role of input.roles ?? []) {
    const id = idOf(role?.id);
    if (id !== undefined && (id === input.guildId || memberRoles.has(id))) base |= parseBits(role.permissions);
  }
  return base;
}

function applyOverwrites(base: bigint, input: PermissionInput, overwrites: readonly OverwriteLike[]): bigint {
  const memberRoles = new Set(input.memberRoles ?? []);
  let perms = base;
  const everyone = overwrites.find((o) => idOf(o?.id) === input.guildId);
  if (everyone) perms = (perms & ~parseBits(everyone.deny)) | parseBits(everyone.allow);
  let allow = 0n;
  let deny = 0n;
  for (const o of overwrites) {
    const id = idOf(o?.id);
    if (id === undefined || id === input.guildId || !memberRoles.has(id)) continue;
    allow |= parseBits(o.allow);
    deny |= parseBits(o.deny);
  }
  perms = (perms & ~deny) | allow;
  const own = overwrites.find((o) => idOf(o?.id) === input.userId);
  if (own) perms = (perms & ~parseBits(own.deny)) | parseBits(own.allow);
  return perms;
}

/** The member's permissions in the guild, or in the channel whose overwrites are given. */
export function computePermissions(input: PermissionInput): bigint {
  if (input.ownerId != null && input.ownerId === input.userId) return ALL_PERMISSIONS;
  const base = basePermissions(input);
  if ((base & Permission.ADMINISTRATOR) !== 0n) return ALL_PERMISSIONS;
  const perms = input.overwrites ? applyOverwrites(base, input, input.overwrites) : base;
  return isTimedOut(input.communicationDisabledUntil, input.now) ? perms & TIMEOUT_KEEPS : perms;
}
