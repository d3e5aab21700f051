/**
 * `x-change-id` on the answers of writes (dispatch, PUT, DELETE): the change feed id of the commit that
 * applied the request (absent when it changed nothing). A reader that keeps a local copy up to date from the
 * feed (the typed client's local cache) reads through the service until its feed has passed that id: it
 * then sees its own writes.
 */
import type { FastifyReply } from 'fastify';

export const CHANGE_ID_HEADER = 'x-change-id';

export function setChangeId(reply: FastifyReply, changeId: number | undefined) {
  if (changeId !== undefined) reply.header(CHANGE_ID_HEADER, String(changeId));
}
