/**
 * GET /v1/shards: per shard, the gateway session and the last sequence number applied (exactly once,
 * cache/sequence.ts), and with TOTAL_SHARDS its lease: who holds it, who stands by, and what this instance is
 * to it (db/leases.ts). The typed client routes each forward to the instance that answers `here: "held"`.
 */
import type { FastifyInstance } from 'fastify';
import { ShardNotHeldError } from '../../cache/errors.js';
import { LIST_SHARDS } from '../../cache/sequence.js';
import { shardOfRow } from '../../cache/shards.js';
import { holdersOf, listWriters, type WriterRow } from '../../db/leases.js';
import { describe, type TableName } from '../../db/tables.js';
import { specs, type Row } from '../../discord/columns.js';
import type { RouteContext } from '../context.js';

const instance = {
  type: 'object',
  properties: { instance_id: { type: 'string' }, url: { type: 'string', nullable: true, description: 'its ADVERTISE_URL' } },
  required: ['instance_id', 'url'],
};

const shard = {
  type: 'object',
  properties: {
    shard_id: { type: 'integer' },
    session_id: { type: 'string', nullable: true, description: "READY's session_id (null until a READY was forwarded)" },
    last_sequence: { type: 'integer', nullable: true, description: 'the last `s` applied from this shard (null: none yet)' },
    last_event_at: { type: 'string', format: 'date-time', nullable: true },
    events_applied: { type: 'integer', description: 'sequenced events applied from this shard' },
    total_shards: { type: 'integer', nullable: true, description: 'TOTAL_SHARDS (null: this instance writes every shard, without leases)' },
    holder: { ...instance, nullable: true, description: 'the instance holding the lease (null: none now, or no leases)' },
    standbys: { type: 'array', items: instance, description: 'live instances started for this shard that do not hold it' },
    here: {
      type: 'string',
      nullable: true,
      enum: ['held', 'standby', null],
      description: 'this instance holds the lease (writes the shard), stands by for it, or neither (null; also without leases)',
    },
  },
  required: ['shard_id', 'session_id', 'last_sequence', 'last_event_at', 'events_applied', 'total_shards', 'holder', 'standbys', 'here'],
};

interface SessionRow extends Record<string, unknown> {
  shard_id: number;
  session_id: string | null;
  last_sequence: string;
  last_event_at: string;
  events_applied: string;
}

const who = (w: WriterRow) => ({ instance_id: w.instance_id, url: w.advertise_url });

/** 421 unless every one of `shards` is held here (nothing to check without leases). */
export function requireLeases(ctx: RouteContext, shards: Iterable<number>): void {
  if (!ctx.leases) return;
  const missing = [...shards].filter((s) => !ctx.leases!.holds(s)).sort((a, b) => a - b);
  if (missing.length > 0) throw new ShardNotHeldError(missing);
}

/**
 * The shard a PUT or DELETE of one row writes (leases only; none for `users`, which are shared and only ever
 * upserted): its guild's, from the path, else the body, else the cached row (a channel, thread or message),
 * else a message's channel; shard 0 without a guild (direct messages). The holder of that shard reads its
 * guild's rows and writes them back (roles, reactions, member counts), so nobody else may write them.
 */
export async function resourceShards(ctx: RouteContext, table: TableName, key: Row, body: Record<string, unknown> | undefined): Promise<number[]> {
  const guildColumn = describe(table).guild;
  if (!ctx.leases || guildColumn === undefined) return [];
  let guild = key[guildColumn] ?? body?.[guildColumn];
  if (guild == null) {
    guild = (await ctx.reads.one(table, ...specs[table].primaryKey.map((c) => String(key[c]))))?.[guildColumn];
  }
  const channelColumn = describe(table).channel;
  const channel = channelColumn === undefined ? undefined : (key[channelColumn] ?? body?.[channelColumn]);
  if (guild == null && channel != null) {
    guild = (await ctx.reads.one('channels', String(channel)))?.guild_id ?? (await ctx.reads.one('threads', String(channel)))?.guild_id;
  }
  return [shardOfRow(guild == null ? undefined : String(guild), ctx.leases.totalShards)];
}

/** A `ShardNotHeldError` with the holder of each shard looked up (best effort); any other error as it is. */
export async function explainNotHeld(ctx: RouteContext, err: unknown): Promise<unknown> {
  if (!(err instanceof ShardNotHeldError) || err.holders.length > 0) return err;
  try {
    return new ShardNotHeldError(err.shards, await holdersOf(ctx.db, err.shards));
  } catch {
    return err;
  }
}

export function shardsRoutes(app: FastifyInstance, ctx: RouteContext) {
  app.get(
    '/shards',
    {
      schema: {
        tags: ['ingest'],
        summary: 'Per shard: session, last sequence number, events applied; with TOTAL_SHARDS its lease holder, standbys and what this instance is to it',
        description:
          'Without TOTAL_SHARDS: the shards that forwarded sequenced events. With it: every shard from 0 to TOTAL_SHARDS - 1 ' +
          '(and any other that forwarded events), `holder` and `standbys` read from the database (pg_locks), `here` from this instance.',
        response: { 200: { type: 'array', items: shard } },
      },
    },
    async () => {
      const sessions = new Map((await ctx.db.query<SessionRow>(LIST_SHARDS)).map((r) => [r.shard_id, r]));
      const leases = ctx.leases;
      const writers = leases ? await listWriters(ctx.db) : [];
      const ids = new Set(sessions.keys());
      if (leases) for (let s = 0; s < leases.totalShards; s++) ids.add(s);
      return [...ids]
        .sort((a, b) => a - b)
        .map((id) => {
          const r = sessions.get(id);
          const holder = writers.find((w) => w.held.includes(id));
          return {
            shard_id: id,
            session_id: r?.session_id ?? null,
            last_sequence: r ? Number(r.last_sequence) : null,
            last_event_at: r?.last_event_at ?? null,
            events_applied: r ? Number(r.events_applied) : 0,
            total_shards: leases?.totalShards ?? null,
            holder: holder ? who(holder) : null,
            standbys: writers.filter((w) => w !== holder && w.shards.includes(id)).map(who),
            here: !leases ? null : leases.holds(id) ? 'held' : leases.serves(id) ? 'standby' : null,
          };
        });
    },
  );
}
