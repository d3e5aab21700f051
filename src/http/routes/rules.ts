/**
 * How each resource differs from the plain one (`resources.ts`): the changes of a PUT and a DELETE, how an
 * object is read and shaped. A table with no entry here is plain: a PUT upserts the body's columns keyed by
 * the path, a DELETE deletes the row (guilds, channels and threads with what belongs to them).
 */
import { remove, upsert, type Change } from '../../cache/changes.js';
import { isThreadType } from '../../cache/events/channels.js';
import { memberRow } from '../../cache/events/members.js';
import { userChanges } from '../../cache/events/users.js';
import type { Reads } from '../../cache/reads.js';
import { describe, type TableName } from '../../db/tables.js';
import { objectAt, pickColumns, snowflakeAt, specs, type Row } from '../../discord/columns.js';
import { shape, type DiscordObject } from '../../discord/shape.js';
import { HttpError } from '../errors.js';
import { matchesPath } from '../params.js';

type Body = Record<string, unknown>;
type R = Record<string, unknown>;

export interface ResourceRules {
  /** The changes of a PUT (the body is an object whose path values were checked). */
  put?(body: Body, key: Row): Change[];
  /** The changes of a DELETE (may read first). */
  remove?(reads: Reads, key: Row): Promise<Change[]>;
  /** One object by the path's columns, shaped; undefined when not cached. */
  read?(reads: Reads, key: Row): Promise<DiscordObject | undefined>;
  /** A list's rows, shaped. */
  shapeList?(reads: Reads, rows: R[]): Promise<DiscordObject[]>;
  /** OpenAPI: what the PUT does beyond merging, and the DELETE's summary. */
  putDoc?: string;
  deleteDoc?: string;
}

const primaryKey = (table: TableName, key: Row) => specs[table].primaryKey.map((c) => String(key[c]));

/** The plain resource: every rule, for `table`. */
export function defaultRules(table: TableName): Required<ResourceRules> {
  const d = describe(table);
  const skip = new Set<string>([...d.hidden, ...d.derived]);
  return {
    put: (body, key) => [upsert(table, { ...pickColumns(table, body, 'body', skip), ...key })],
    remove: async (_reads, key) =>
      table === 'guilds' || table === 'channels' || table === 'threads'
        ? [{ kind: 'cascade', table, ids: [String(key.id)] }]
        : [remove(table, key)],
    read: async (reads, key) => {
      const row = await reads.one(table, ...primaryKey(table, key));
      // A path column that is not part of the key (a message's channel) must match too.
      if (!row || Object.entries(key).some(([c, v]) => String(row[c]) !== String(v))) return undefined;
      return shape(table, row);
    },
    shapeList: async (_reads, rows) => rows.map((r) => shape(table, r)),
    putDoc: '',
    deleteDoc: `Delete a ${d.kind}`,
  };
}

/** Members and presences carry their `user`: the cached user, or `{ id }`. */
const withUsers = (table: 'members' | 'presences') => async (reads: Reads, rows: R[]) => {
  const users = await reads.usersById(rows.map((r) => String(r.user_id)));
  return rows.map((r) => shape(table, r, users.get(String(r.user_id))));
};

/** A body's `user`, when present, must be the path's user. */
function bodyUser(body: Body, userId: string): Body | undefined {
  if (body.user == null) return undefined;
  const user = objectAt(body.user, 'body.user');
  matchesPath(user, 'id', userId, 'body.user.id');
  return user;
}

export const RULES: Partial<Record<TableName, ResourceRules>> = {
  guilds: {
    putDoc: 'Only the guild object itself is stored: nested channels, threads, members and presences are ignored.',
    deleteDoc: 'Delete a guild with its members, channels, threads, messages, presences and voice states',
  },
  members: {
    put(body, key) {
      const user = bodyUser(body, String(key.user_id));
      const changes: Change[] = user ? userChanges({ ...user, id: key.user_id }, 'body.user') : [];
      changes.push(upsert('members', memberRow(body, String(key.guild_id), String(key.user_id), 'body')));
      return changes;
    },
    // One query: the member with its user (the hottest read of a bot).
    async read(reads, key) {
      const found = await reads.memberWithUser(String(key.guild_id), String(key.user_id));
      return found && shape('members', found.member, found.user);
    },
    shapeList: withUsers('members'),
    putDoc: 'A `user` in the body also upserts the user. member_count is not changed.',
    deleteDoc: 'Delete a member (its user and presence stay)',
  },
  presences: {
    put(body, key) {
      bodyUser(body, String(key.user_id)); // checked, not stored: a presence's user is partial
      return [upsert('presences', { ...pickColumns('presences', body, 'body', new Set(['guild_id', 'user_id'])), ...key })];
    },
    async read(reads, key) {
      const [row, user] = await Promise.all([reads.one('presences', String(key.guild_id), String(key.user_id)), reads.one('users', String(key.user_id))]);
      return row && shape('presences', row, user);
    },
    shapeList: withUsers('presences'),
    putDoc: '`user` is not stored. An offline status is stored like any other (DELETE removes a presence).',
  },
  channels: {
    // A thread type is refused rather than stored as a thread: a PUT that a GET here could not read back
    // would be a trap. DM `recipients` stay in the channel row (a PUT writes its own resource only).
    put(body, key) {
      if (isThreadType(body.type)) throw new HttpError('INVALID_BODY', `body.type ${String(body.type)} is a thread type: PUT threads at /v1/threads/${String(key.id)}`);
      return [upsert('channels', { ...pickColumns('channels', body, 'body'), ...key })];
    },
    putDoc: 'A thread type (10, 11, 12) is a 400: PUT threads at /v1/threads/:threadId.',
    deleteDoc: 'Delete a channel with its threads, and the messages and voice states of both',
  },
  threads: {
    put(body, key) {
      if (body.type != null && !isThreadType(body.type)) {
        throw new HttpError('INVALID_BODY', `body.type ${String(body.type)} is not a thread type (10, 11, 12): PUT channels at /v1/channels/${String(key.id)}`);
      }
      return [upsert('threads', { ...pickColumns('threads', body, 'body'), ...key })];
    },
    putDoc: 'body.type, when present, must be a thread type (10, 11, 12).',
    deleteDoc: 'Delete a thread with its messages',
  },
  messages: {
    // Only the message is written: its `author` is kept as the snapshot stored with it (and `author_id`);
    // mentioned users and the author's member are not upserted (dispatch events do that).
    put(body, key) {
      const row: Row = { ...pickColumns('messages', body, 'body', new Set(['author_id'])), ...key };
      if (body.author === null) row.author_id = null;
      else if (body.author !== undefined) row.author_id = snowflakeAt(objectAt(body.author, 'body.author').id, 'body.author.id');
      return [upsert('messages', row)];
    },
    // A message cached in another channel is left alone (as if absent): the path names both.
    async remove(reads, key) {
      const row = await reads.one('messages', String(key.id));
      return row && String(row.channel_id) === String(key.channel_id) ? [remove('messages', { id: key.id })] : [];
    },
    putDoc: 'Only the message is stored (its `author` as a snapshot); the per-channel message limit applies.',
    deleteDoc: 'Delete a message of this channel',
  },
  voice_states: {
    put(body, key) {
      if (body.channel_id === null) {
        throw new HttpError('INVALID_BODY', 'body.channel_id is null: the user left the channel; DELETE the voice state instead');
      }
      return [upsert('voice_states', { ...pickColumns('voice_states', body, 'body', new Set(['guild_id', 'user_id'])), ...key })];
    },
    putDoc: '`channel_id: null` (the user left) is a 400: DELETE the voice state.',
  },
  unavailable_guilds: {
    putDoc: 'Takes no body (`{}` or `{ "id", "unavailable": true }` are accepted too). Its cached guild data, if any, is kept.',
    deleteDoc: 'Forget that a guild is unavailable',
  },
};
