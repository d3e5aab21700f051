import { describe, expect, it } from 'vitest';
import { GUILD_CREATE } from '../../../src/cache/events/guilds.js';
import { mapDispatch, mappers, trackedEvents } from '../../../src/cache/events/index.js';
import { READY } from '../../../src/cache/events/ready.js';
import { PayloadError } from '../../../src/discord/errors.js';
import { captureD, ctx, kinds, loadCapture, thrown } from '../_helpers.js';

const opts = { deleteOfflinePresences: false };

describe('the dispatch table', () => {
  it('tracks exactly these events', () => {
    expect([...trackedEvents].sort()).toEqual(
      [
        'READY',
        'GUILD_CREATE',
        'GUILD_LOADED_DD',
        'GUILD_UPDATE',
        'GUILD_DELETE',
        'GUILD_EMOJIS_UPDATE',
        'GUILD_ROLE_CREATE',
        'GUILD_ROLE_UPDATE',
        'GUILD_ROLE_DELETE',
        'GUILD_MEMBER_ADD',
        'GUILD_MEMBER_UPDATE',
        'GUILD_MEMBER_REMOVE',
        'GUILD_MEMBERS_CHUNK',
        'CHANNEL_CREATE',
        'CHANNEL_UPDATE',
        'CHANNEL_DELETE',
        'CHANNEL_PINS_UPDATE',
        'THREAD_CREATE',
        'THREAD_UPDATE',
        'THREAD_DELETE',
        'THREAD_LIST_SYNC',
        'THREAD_MEMBERS_UPDATE',
        'MESSAGE_CREATE',
        'MESSAGE_UPDATE',
        'MESSAGE_DELETE',
        'MESSAGE_DELETE_BULK',
        'MESSAGE_REACTION_ADD',
        'MESSAGE_REACTION_REMOVE',
        'MESSAGE_REACTION_REMOVE_ALL',
        'MESSAGE_REACTION_REMOVE_EMOJI',
        'PRESENCE_UPDATE',
        'USER_UPDATE',
        'VOICE_STATE_UPDATE',
      ].sort(),
    );
    expect(trackedEvents).toEqual(Object.keys(mappers));
  });
});

describe('mapDispatch: gateway payloads', () => {
  it('maps a recorded READY payload with the mapper and the d path', () => {
    const payload = loadCapture('ready')[0]!;
    const mapped = mapDispatch(payload, 'body[0]', opts);
    expect(mapped.type).toBe('READY');
    expect(mapped.tracked).toBe(true);
    expect(mapped.changes).toEqual(READY(captureD('ready'), ctx()));
    expect(kinds(mapped.changes)[0]).toBe('upsert:users');
  });

  it('maps each envelope of a list capture independently', () => {
    const [first, second] = loadCapture('guild_create');
    expect(mapDispatch(first, 'body[0]', opts).changes).toEqual(GUILD_CREATE(captureD('guild_create', 0), ctx()));
    expect(mapDispatch(second, 'body[1]', opts).changes).toEqual(GUILD_CREATE(captureD('guild_create', 1), ctx()));
  });

  it('passes deleteOfflinePresences through to the mappers', () => {
    const payload = { op: 0, t: 'PRESENCE_UPDATE', s: 3, d: { guild_id: '100', user: { id: '200' }, status: 'offline' } };
    expect(kinds(mapDispatch(payload, 'body[0]', { deleteOfflinePresences: true }).changes)).toEqual(['delete:presences']);
    expect(kinds(mapDispatch(payload, 'body[0]', { deleteOfflinePresences: false }).changes)).toEqual(['upsert:presences']);
  });

  it('does not need s', () => {
    const mapped = mapDispatch({ op: 0, t: 'MESSAGE_DELETE', d: captureD('message_delete') }, 'body[0]', opts);
    expect(mapped).toEqual({
      type: 'MESSAGE_DELETE',
      tracked: true,
      changes: [{ kind: 'delete', table: 'messages', key: { id: '900000000000000090' } }],
    });
  });
});

describe('mapDispatch: forwards {payload, shardId}', () => {
  it('maps the inner payload like a gateway payload, with its shard and sequence number', () => {
    const payload = loadCapture('message_delete')[0]!;
    const forward = mapDispatch({ payload, shardId: 3 }, 'body[1]', opts);
    const { sequence, ...rest } = forward;
    expect(rest).toEqual(mapDispatch(payload, 'body[1]', opts));
    expect(sequence).toEqual({ shardId: 3, seq: payload.s });
  });

  it('sequences forwards only: a bare payload, a forward without s or without shardId, GUILD_LOADED_DD are not', () => {
    const payload = loadCapture('message_delete')[0]!;
    expect(mapDispatch(payload, 'body', opts).sequence).toBeUndefined();
    expect(mapDispatch({ payload: { ...payload, s: null }, shardId: 3 }, 'body', opts).sequence).toBeUndefined();
    expect(mapDispatch({ payload }, 'body', opts).sequence).toBeUndefined();
    const guild = loadCapture('guild_create')[0]!;
    expect(mapDispatch({ payload: { ...guild, t: 'GUILD_LOADED_DD' }, shardId: 0 }, 'body', opts).sequence).toBeUndefined();
    expect(mapDispatch({ payload: guild, shardId: 0 }, 'body', opts).sequence).toEqual({ shardId: 0, seq: guild.s });
  });

  it('READY carries its session; a bad s is a 400 naming it', () => {
    const ready = loadCapture('ready')[0]!;
    const seq = mapDispatch({ payload: ready, shardId: 0 }, 'body', opts).sequence;
    expect(seq).toEqual({ shardId: 0, seq: ready.s, session: (ready.d as { session_id: string }).session_id });
    expect(() => mapDispatch({ payload: { ...ready, s: -1 }, shardId: 0 }, 'body[2]', opts)).toThrow('body[2].payload.s must be a non-negative integer');
  });

  it('accepts a forward without shardId, and shard 0', () => {
    const payload = loadCapture('message_delete')[0]!;
    expect(mapDispatch({ payload }, 'body[0]', opts).tracked).toBe(true);
    expect(mapDispatch({ payload, shardId: 0 }, 'body[0]', opts).tracked).toBe(true);
  });

  it('names fields under .payload', () => {
    const payload = { op: 0, t: 'GUILD_MEMBER_ADD', d: { guild_id: '1', user: { id: 2 } } };
    const e = thrown(() => mapDispatch({ payload, shardId: 0 }, 'body[2]', opts));
    expect(e).toBeInstanceOf(PayloadError);
    expect((e as PayloadError).path).toBe('body[2].payload.d.user.id');
    expect(e.message).toBe('body[2].payload.d.user.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)');
  });

  it.each([-1, 1.5, '0', null])('rejects shardId %j', (shardId) => {
    const payload = loadCapture('message_delete')[0]!;
    const e = thrown(() => mapDispatch({ payload, shardId }, 'body[4]', opts));
    expect(e).toBeInstanceOf(PayloadError);
    expect(e.message).toBe('body[4].shardId must be an integer from 0 to 2147483646');
  });

  it.each([null, 'x', [], 5])('rejects a payload that is not an object (%j)', (payload) => {
    expect(thrown(() => mapDispatch({ payload, shardId: 0 }, 'body[0]', opts)).message).toBe(
      'body[0].payload must be a gateway payload object {op, t, d}',
    );
  });

  it('ignores non-dispatch payloads inside a forward too', () => {
    expect(mapDispatch({ payload: loadCapture('hello')[0], shardId: 1 }, 'body[0]', opts)).toEqual({
      type: 'op:10',
      tracked: false,
      changes: [],
    });
  });
});

describe('mapDispatch: what is ignored', () => {
  it('ignores op != 0 (HELLO, HEARTBEAT_ACK) as untracked with no changes', () => {
    expect(mapDispatch(loadCapture('hello')[0], 'body[0]', opts)).toEqual({ type: 'op:10', tracked: false, changes: [] });
    for (const ack of loadCapture('heartbeat_ack')) {
      expect(mapDispatch(ack, 'body[0]', opts)).toEqual({ type: 'op:11', tracked: false, changes: [] });
    }
  });

  it('ignores op != 0 even when t names a tracked event', () => {
    expect(mapDispatch({ op: 1, t: 'READY', d: null }, 'body[0]', opts)).toEqual({ type: 'op:1', tracked: false, changes: [] });
  });

  it.each(['interaction_create', 'voice_channel_status_update'])(
    'ignores the recorded untracked event %s',
    (name) => {
      for (const payload of loadCapture(name)) {
        const mapped = mapDispatch(payload, 'body[0]', opts);
        expect(mapped).toEqual({ type: payload.t, tracked: false, changes: [] });
      }
    },
  );

  it('ignores unknown event names, including Object.prototype names', () => {
    for (const t of ['TYPING_START', 'constructor', 'toString', '__proto__', 'hasOwnProperty', 'ready']) {
      expect(mapDispatch({ op: 0, t, d: { id: '1' } }, 'body[0]', opts)).toEqual({ type: t, tracked: false, changes: [] });
    }
  });

  it('does not validate the d of untracked events', () => {
    expect(mapDispatch({ op: 0, t: 'TYPING_START', d: { channelId: 5 } }, 'body[0]', opts).tracked).toBe(false);
    expect(mapDispatch({ op: 0, t: 'TYPING_START' }, 'body[0]', opts).tracked).toBe(false);
  });
});

describe('mapDispatch: malformed envelopes', () => {
  it.each([null, undefined, 'READY', 5, []])('rejects an item that is not an object (%j)', (item) => {
    const e = thrown(() => mapDispatch(item, 'body[7]', opts));
    expect(e).toBeInstanceOf(PayloadError);
    expect(e.message).toBe('body[7] must be a gateway payload object {op, t, d} or a forward {payload, shardId}');
  });

  it.each([undefined, '0', 0.5, null])('requires an integer op (%j)', (op) => {
    expect(thrown(() => mapDispatch({ op, t: 'READY', d: {} }, 'body[0]', opts)).message).toBe(
      'body[0].op is required (an integer gateway opcode)',
    );
  });

  it('requires t for op 0', () => {
    expect(thrown(() => mapDispatch({ op: 0, t: null, d: {} }, 'body[1]', opts)).message).toBe(
      'body[1].t is required for op 0 (the event name)',
    );
  });

  it.each([undefined, null, [], 'x'])('requires d to be an object for a tracked event (%j)', (d) => {
    expect(thrown(() => mapDispatch({ op: 0, t: 'GUILD_DELETE', d }, 'body[0]', opts)).message).toBe(
      'body[0].d is required for GUILD_DELETE (an object)',
    );
  });
});

describe('mapDispatch: camelCase (transformed) packets are rejected', () => {
  it('names the camelCased key and says to forward the raw snake_case packet', () => {
    const e = thrown(() =>
      mapDispatch({ op: 0, t: 'GUILD_MEMBER_ADD', d: { guildId: '1', user: { id: '2' } } }, 'body[0]', opts),
    );
    expect(e).toBeInstanceOf(PayloadError);
    expect((e as PayloadError).path).toBe('body[0].d.guildId');
    expect(e.message.startsWith('body[0].d.guildId is camelCased')).toBe(true);
    expect(e.message).toContain('forward the raw gateway packet with snake_case keys');
  });

  it('inside a forward, the path goes through .payload', () => {
    const e = thrown(() =>
      mapDispatch({ payload: { op: 0, t: 'MESSAGE_DELETE', d: { id: '1', channelId: '2' } }, shardId: 0 }, 'body[3]', opts),
    );
    expect((e as PayloadError).path).toBe('body[3].payload.d.channelId');
  });

  it('rejects a camelCased recorded payload before mapping it', () => {
    const d = captureD('message_create', 0);
    const { channel_id: channelId, ...rest } = d;
    const e = thrown(() => mapDispatch({ op: 0, t: 'MESSAGE_CREATE', d: { ...rest, channelId } }, 'body[0]', opts));
    expect(e.message).toMatch(/^body\[0\]\.d\.channelId is camelCased/);
  });

  it('rejects on any uppercase letter in a top-level key', () => {
    expect(() => mapDispatch({ op: 0, t: 'GUILD_DELETE', d: { id: '1', ID: '1' } }, 'body[0]', opts)).toThrow(
      'body[0].d.ID is camelCased',
    );
  });
});

describe('mapDispatch: error paths name the field', () => {
  it('body[2].d.user.id', () => {
    const e = thrown(() => mapDispatch({ op: 0, t: 'GUILD_MEMBER_ADD', d: { guild_id: '1', user: { id: 2 } } }, 'body[2]', opts));
    expect(e).toBeInstanceOf(PayloadError);
    expect((e as PayloadError).path).toBe('body[2].d.user.id');
    expect(e.message).toBe('body[2].d.user.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)');
  });

  it('deep paths into recorded payloads', () => {
    const payload = loadCapture('guild_create')[1]!;
    const d = payload.d as { members: { user: { id: unknown } }[] };
    d.members[2]!.user.id = 900000000000000065;
    expect(thrown(() => mapDispatch(payload, 'body[5]', opts)).message).toBe(
      'body[5].d.members[2].user.id must be a snowflake (a decimal string without leading zeros, at most 20 digits, below 2^63)',
    );
  });
});
