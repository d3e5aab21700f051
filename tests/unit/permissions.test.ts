/** The pure permission computation (src/cache/permissions.ts), values computed by hand. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  ALL_PERMISSIONS,
  Permission as P,
  TIMEOUT_KEEPS,
  computePermissions,
  isTimedOut,
  parseBits,
  type PermissionInput,
} from '../../src/cache/permissions.js';

const G = '100';
const NOW = Date.parse('2025-06-01T00:00:00Z');
const s = (bits: bigint) => bits.toString();

const base = (over: Partial<PermissionInput> = {}): PermissionInput => ({
  guildId: G,
  ownerId: '1',
  roles: [
    { id: G, permissions: s(P.VIEW_CHANNEL | P.SEND_MESSAGES | P.READ_MESSAGE_HISTORY) },
    { id: '200', permissions: s(P.ADD_REACTIONS | P.EMBED_LINKS) },
    { id: '201', permissions: s(P.ATTACH_FILES) },
    { id: '202', permissions: s(P.ADMINISTRATOR) },
  ],
  userId: '5',
  memberRoles: [],
  now: NOW,
  ...over,
});

describe('ALL_PERMISSIONS', () => {
  test('is the OR of every documented bit: 8584986789675007', () => {
    expect(ALL_PERMISSIONS).toBe(8584986789675007n);
    expect(ALL_PERMISSIONS).toBe(0x1e7fffffffffffn);
    expect(ALL_PERMISSIONS & (1n << 47n)).toBe(0n);
    expect(ALL_PERMISSIONS & (1n << 48n)).toBe(0n);
    for (const bit of Object.values(P)) expect(ALL_PERMISSIONS & bit).toBe(bit);
  });
});

describe('base permissions', () => {
  test('the owner gets everything, whatever the roles and overwrites', () => {
    const overwrites = [{ id: '1', type: 1, allow: '0', deny: s(P.VIEW_CHANNEL) }];
    expect(computePermissions(base({ userId: '1', overwrites }))).toBe(ALL_PERMISSIONS);
    expect(computePermissions(base({ userId: '1', roles: [] }))).toBe(ALL_PERMISSIONS);
  });

  test('@everyone alone', () => {
    expect(computePermissions(base())).toBe(P.VIEW_CHANNEL | P.SEND_MESSAGES | P.READ_MESSAGE_HISTORY);
  });

  test('@everyone OR the member roles; unknown roles add nothing', () => {
    expect(computePermissions(base({ memberRoles: ['200', '201', '999'] }))).toBe(
      P.VIEW_CHANNEL | P.SEND_MESSAGES | P.READ_MESSAGE_HISTORY | P.ADD_REACTIONS | P.EMBED_LINKS | P.ATTACH_FILES,
    );
  });

  test('ADMINISTRATOR gives everything; overwrites and timeouts do not apply', () => {
    const overwrites = [{ id: '5', type: 1, allow: '0', deny: s(P.VIEW_CHANNEL) }];
    const until = '2099-01-01T00:00:00Z';
    expect(computePermissions(base({ memberRoles: ['202'], overwrites, communicationDisabledUntil: until }))).toBe(
      ALL_PERMISSIONS,
    );
  });

  test('ADMINISTRATOR on @everyone counts too', () => {
    expect(computePermissions(base({ roles: [{ id: G, permissions: s(P.ADMINISTRATOR) }] }))).toBe(ALL_PERMISSIONS);
  });

  test('no owner id known: nobody is owner', () => {
    expect(computePermissions(base({ ownerId: null, userId: '1' }))).toBe(
      P.VIEW_CHANNEL | P.SEND_MESSAGES | P.READ_MESSAGE_HISTORY,
    );
  });
});

describe('overwrites', () => {
  const member = { memberRoles: ['200', '201'] };
  const memberBase =
    P.VIEW_CHANNEL | P.SEND_MESSAGES | P.READ_MESSAGE_HISTORY | P.ADD_REACTIONS | P.EMBED_LINKS | P.ATTACH_FILES;

  test('no overwrites (empty list) keeps the base', () => {
    expect(computePermissions(base({ ...member, overwrites: [] }))).toBe(memberBase);
  });

  test('@everyone overwrite: deny then allow', () => {
    const overwrites = [{ id: G, type: 0, allow: s(P.MANAGE_MESSAGES), deny: s(P.SEND_MESSAGES) }];
    expect(computePermissions(base({ ...member, overwrites }))).toBe((memberBase & ~P.SEND_MESSAGES) | P.MANAGE_MESSAGES);
  });

  test('role overwrites are OR-ed: an allow of one role beats a deny of another', () => {
    const overwrites = [
      { id: '200', type: 0, allow: s(P.SEND_MESSAGES), deny: s(P.EMBED_LINKS) },
      { id: '201', type: 0, allow: '0', deny: s(P.SEND_MESSAGES | P.ATTACH_FILES) },
      { id: '999', type: 0, allow: s(P.MANAGE_ROLES), deny: '0' }, // not the member's role
    ];
    expect(computePermissions(base({ ...member, overwrites }))).toBe(
      P.VIEW_CHANNEL | P.SEND_MESSAGES | P.READ_MESSAGE_HISTORY | P.ADD_REACTIONS,
    );
  });

  test('role overwrites beat @everyone; the member overwrite beats roles', () => {
    const overwrites = [
      { id: '5', type: 1, allow: s(P.EMBED_LINKS), deny: s(P.VIEW_CHANNEL) },
      { id: G, type: 0, allow: '0', deny: s(P.SEND_MESSAGES | P.READ_MESSAGE_HISTORY) },
      { id: '200', type: 0, allow: s(P.SEND_MESSAGES), deny: s(P.EMBED_LINKS) },
    ];
    // @everyone: -SEND -READ; roles: -EMBED +SEND; member: -VIEW +EMBED (order in the array is irrelevant)
    expect(computePermissions(base({ ...member, overwrites }))).toBe(
      P.SEND_MESSAGES | P.ADD_REACTIONS | P.EMBED_LINKS | P.ATTACH_FILES,
    );
  });

  test("another member's overwrite does not apply", () => {
    const overwrites = [{ id: '6', type: 1, allow: '0', deny: s(P.VIEW_CHANNEL) }];
    expect(computePermissions(base({ ...member, overwrites }))).toBe(memberBase);
  });
});

describe('timeouts', () => {
  test('a member timed out keeps only VIEW_CHANNEL and READ_MESSAGE_HISTORY (of what it had)', () => {
    const until = '2025-06-01T00:00:01Z';
    expect(computePermissions(base({ memberRoles: ['200'], communicationDisabledUntil: until }))).toBe(TIMEOUT_KEEPS);
    const overwrites = [{ id: G, type: 0, allow: '0', deny: s(P.READ_MESSAGE_HISTORY) }];
    expect(computePermissions(base({ communicationDisabledUntil: until, overwrites }))).toBe(P.VIEW_CHANNEL);
  });

  test('an expired timeout (or now exactly) changes nothing', () => {
    expect(computePermissions(base({ communicationDisabledUntil: '2025-06-01T00:00:00Z' }))).toBe(
      P.VIEW_CHANNEL | P.SEND_MESSAGES | P.READ_MESSAGE_HISTORY,
    );
    expect(isTimedOut('2025-05-01T00:00:00Z', NOW)).toBe(false);
    expect(isTimedOut('2025-07-01T00:00:00+02:00', NOW)).toBe(true);
    expect(isTimedOut(null, NOW)).toBe(false);
    expect(isTimedOut('not a date', NOW)).toBe(false);
  });

  test('the owner is not restricted by a timeout', () => {
    expect(computePermissions(base({ userId: '1', communicationDisabledUntil: '2099-01-01T00:00:00Z' }))).toBe(ALL_PERMISSIONS);
  });
});

describe('robustness', () => {
  test('bits beyond 2^53 are exact', () => {
    const high = (1n << 52n) | (1n << 50n);
    expect(computePermissions(base({ roles: [{ id: G, permissions: s(high) }] }))).toBe(high);
  });

  test('malformed cached data counts as nothing rather than failing', () => {
    expect(parseBits('12x')).toBe(0n);
    expect(parseBits(null)).toBe(0n);
    expect(parseBits(-1)).toBe(0n);
    expect(parseBits(1024)).toBe(1024n);
    const roles = [{ id: G, permissions: 'oops' }, { permissions: '8' }, null as never, { id: '200', permissions: '64' }];
    expect(computePermissions(base({ roles, memberRoles: ['200'], overwrites: [null as never, { allow: '1' }] }))).toBe(64n);
  });

  const nonAdmin = fc.bigInt({ min: 0n, max: ALL_PERMISSIONS }).map((b) => b & ALL_PERMISSIONS & ~P.ADMINISTRATOR);

  test('property: with no overwrites and no timeout, the result is the OR of the applicable roles', () => {
    fc.assert(
      fc.property(fc.array(nonAdmin, { minLength: 1, maxLength: 6 }), (perms) => {
        const roles = perms.map((p, i) => ({ id: i === 0 ? G : String(300 + i), permissions: s(p) }));
        const memberRoles = roles.slice(1).map((r) => r.id);
        const expected = perms.reduce((a, b) => a | b, 0n);
        expect(computePermissions(base({ roles, memberRoles }))).toBe(expected);
      }),
    );
  });
});
