import { describe, expect, it } from 'vitest';
import { GUILD_CREATE as GUILD_CREATE_PARTS } from '../../../src/cache/events/guilds.js';
import { mapDispatch } from '../../../src/cache/events/index.js';
import { VOICE_STATE_UPDATE, voiceStateChanges } from '../../../src/cache/events/voice-states.js';
import { PayloadError } from '../../../src/discord/errors.js';
import { captureD, changeAt, ctx, kinds, loadCapture, onlyUpsert, thrown, flat } from '../_helpers.js';

/** GUILD_CREATE's changes with its snapshot parts spread out. */
const GUILD_CREATE = (d: Record<string, unknown>, c: Parameters<typeof GUILD_CREATE_PARTS>[1]) => flat(GUILD_CREATE_PARTS(d, c));

// The recorded VOICE_STATE_UPDATEs: [0] user 65 joins channel 39 of guild 34, [1] user 2 is in channel 22 of
// guild 8, [2] user 65 again (same channel: a state change), [3] user 2 leaves (`channel_id: null`).
const G34 = '900000000000000034';
const G8 = '900000000000000008';
const U65 = '900000000000000065';
const U2 = '900000000000000002';

describe('VOICE_STATE_UPDATE (recorded)', () => {
  it('a join upserts the voice state keyed by guild and user, and caches the member with its user', () => {
    const changes = VOICE_STATE_UPDATE(captureD('voice_state_update', 0), ctx());
    expect(kinds(changes)).toEqual(['upsert:users', 'upsert:members', 'upsert:voice_states']);
    expect(onlyUpsert(changes, 'voice_states')).toEqual({
      guild_id: G34,
      user_id: U65,
      channel_id: '900000000000000039',
      session_id: 'session_id_1',
      deaf: false,
      mute: false,
      self_deaf: false,
      self_mute: false,
      self_video: false,
      suppress: false,
      request_to_speak_timestamp: null,
    }); // `member` and `discoverable` are not columns; `self_stream` was not sent, so it is not written
    expect(onlyUpsert(changes, 'members')).toMatchObject({ guild_id: G34, user_id: U65, joined_at: '2022-04-30T00:42:21.909000+00:00', roles: '{}' });
    expect(onlyUpsert(changes, 'users')).toMatchObject({ id: U65, username: 'username_7', global_name: 'global_name_3' });
  });

  it('a move (another channel) is the same upsert with the new channel', () => {
    const d = { ...captureD('voice_state_update', 1), channel_id: '900000000000000023', self_mute: true };
    const row = onlyUpsert(VOICE_STATE_UPDATE(d, ctx()), 'voice_states');
    expect(row).toMatchObject({ guild_id: G8, user_id: U2, channel_id: '900000000000000023', self_mute: true });
  });

  it('a leave (`channel_id: null`) deletes the voice state by its key; the member and user are still cached', () => {
    const changes = VOICE_STATE_UPDATE(captureD('voice_state_update', 3), ctx());
    expect(kinds(changes)).toEqual(['upsert:users', 'upsert:members', 'delete:voice_states']);
    expect(changeAt(changes, 2, 'delete').key).toEqual({ guild_id: G8, user_id: U2 });
    expect(onlyUpsert(changes, 'members')).toMatchObject({ guild_id: G8, user_id: U2, roles: '{900000000000000005}' });
  });

  it('a state without `member` writes the voice state only', () => {
    const { member: _member, ...d } = captureD('voice_state_update', 0);
    expect(kinds(VOICE_STATE_UPDATE(d, ctx()))).toEqual(['upsert:voice_states']);
  });

  it('a call in a DM (no guild_id, or null) is ignored: there is no guild to keep it in', () => {
    const { guild_id: _g, ...dm } = captureD('voice_state_update', 0);
    expect(VOICE_STATE_UPDATE(dm, ctx())).toEqual([]);
    expect(VOICE_STATE_UPDATE({ ...dm, guild_id: null }, ctx())).toEqual([]);
    // through the dispatch table too: tracked, with nothing to write
    expect(mapDispatch({ op: 0, t: 'VOICE_STATE_UPDATE', s: 1, d: dm }, 'body', { deleteOfflinePresences: false })).toEqual({
      type: 'VOICE_STATE_UPDATE',
      tracked: true,
      changes: [],
    });
  });

  it('every recorded envelope maps through the dispatch table', () => {
    const all = loadCapture('voice_state_update').map((p, i) => mapDispatch(p, `body[${i}]`, { deleteOfflinePresences: false }));
    expect(all.map((m) => kinds(m.changes).at(-1))).toEqual(['upsert:voice_states', 'upsert:voice_states', 'upsert:voice_states', 'delete:voice_states']);
  });

  it('refuses bad ids, naming the field', () => {
    const d = captureD('voice_state_update', 0);
    const e1 = thrown(() => VOICE_STATE_UPDATE({ ...d, user_id: 'x' }, ctx()));
    expect(e1).toBeInstanceOf(PayloadError);
    expect((e1 as PayloadError).path).toBe('body[0].d.user_id');
    const e2 = thrown(() => VOICE_STATE_UPDATE({ ...d, guild_id: 12 }, ctx()));
    expect((e2 as PayloadError).path).toBe('body[0].d.guild_id');
    const e3 = thrown(() => VOICE_STATE_UPDATE({ ...d, channel_id: 'lobby' }, ctx()));
    expect((e3 as PayloadError).path).toBe('body[0].d.channel_id');
  });

  it('voiceStateChanges: the given guild id wins over one in the state (GUILD_CREATE injects it)', () => {
    const { guild_id: _g, member: _m, ...state } = captureD('voice_state_update', 0);
    const row = onlyUpsert(voiceStateChanges(state, '42', 'body.d.voice_states[0]'), 'voice_states');
    expect(row).toMatchObject({ guild_id: '42', user_id: U65 });
    expect(onlyUpsert(voiceStateChanges({ ...state, guild_id: '7' }, '42', 'p'), 'voice_states').guild_id).toBe('42');
  });
});

describe("GUILD_CREATE's voice_states (recorded guild 34: one user in a voice channel)", () => {
  const d = captureD('guild_create', 1);

  it('is authoritative: a retain keeping the listed users, and one upsert per state with guild_id injected', () => {
    const changes = GUILD_CREATE(d, ctx());
    const retains = changes.filter((c) => c.kind === 'retain' && c.table === 'voice_states');
    expect(retains).toEqual([{ kind: 'retain', table: 'voice_states', guildId: G34, keep: [U65] }]);
    expect(onlyUpsert(changes, 'voice_states')).toMatchObject({ guild_id: G34, user_id: U65, channel_id: '900000000000000039', session_id: 'session_id_1' });
    // the retain runs before the upserts it keeps
    expect(changes.indexOf(retains[0]!)).toBeLessThan(changes.findIndex((c) => c.kind === 'upsert' && c.table === 'voice_states'));
  });

  it('an empty list retains nothing: every cached voice state of the guild goes', () => {
    const changes = GUILD_CREATE({ ...d, voice_states: [] }, ctx());
    expect(changes.filter((c) => c.kind === 'retain' && c.table === 'voice_states')).toEqual([
      { kind: 'retain', table: 'voice_states', guildId: G34, keep: [] },
    ]);
    expect(kinds(changes)).not.toContain('upsert:voice_states');
  });

  it('an absent (or null) list says nothing: no retain, the cached voice states stay', () => {
    const { voice_states: _v, ...without } = d;
    for (const guild of [without, { ...d, voice_states: null }]) {
      const changes = GUILD_CREATE(guild, ctx());
      expect(kinds(changes)).not.toContain('retain:voice_states');
      expect(kinds(changes)).not.toContain('upsert:voice_states');
      expect(kinds(changes)).toContain('retain:channels'); // the other lists are still authoritative
    }
  });

  it('a listed state that already left (`channel_id: null`) is deleted and not kept', () => {
    const states = [
      { user_id: '1', channel_id: '900000000000000039', session_id: 's1' },
      { user_id: '2', channel_id: null, session_id: 's2' },
    ];
    const changes = GUILD_CREATE({ ...d, voice_states: states }, ctx());
    expect(changes.find((c) => c.kind === 'retain' && c.table === 'voice_states')).toMatchObject({ keep: ['1'] });
    expect(kinds(changes).filter((k) => k.endsWith(':voice_states'))).toEqual(['retain:voice_states', 'upsert:voice_states', 'delete:voice_states']);
  });

  it('a bad state names its position in the list', () => {
    const e = thrown(() => GUILD_CREATE({ ...d, voice_states: [{ user_id: '1' }, { user_id: 'nope' }] }, ctx()));
    expect((e as PayloadError).path).toBe('body[0].d.voice_states[1].user_id');
    const notList = thrown(() => GUILD_CREATE({ ...d, voice_states: {} }, ctx()));
    expect((notList as PayloadError).path).toBe('body[0].d.voice_states');
  });

  it('an unavailable guild writes only its outage mark (no retain)', () => {
    expect(kinds(GUILD_CREATE({ id: G34, unavailable: true, voice_states: [] }, ctx()))).toEqual(['upsert:unavailable_guilds']);
  });
});
