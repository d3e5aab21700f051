import type { Change } from '../changes.js';

export interface EventContext {
  /** Path of `d` in the request body, for error messages (e.g. `body[2].payload.d`). */
  path: string;
  /** Shard that received the event, when the forward says so. */
  shardId: number | undefined;
  /** PRESENCE_UPDATE with status offline deletes the presence instead of storing it. */
  deleteOfflinePresences: boolean;
}

/** Maps the `d` of one dispatch to the changes it makes, in order. Pure: no I/O, no clock. */
export type EventMapper = (d: Record<string, unknown>, ctx: EventContext) => Change[];
