/**
 * Pure role editing on a guild's cached `roles` array. Total over whatever is stored: data cached before
 * the shape checks (or written by hand) may be of any shape; what is not a role object is dropped.
 */
type Role = Record<string, unknown>;

const isRole = (r: unknown): r is Role => r !== null && typeof r === 'object' && !Array.isArray(r);

/** The cached roles that are role objects (an array of anything else, or no array: none). */
export function cachedRoles(current: unknown): Role[] {
  return Array.isArray(current) ? current.filter(isRole) : [];
}

/** GUILD_ROLE_CREATE / UPDATE: the role replaces the one with its id, in place, or is appended. */
export function putRole(current: unknown, role: Role): Role[] {
  const roles = cachedRoles(current);
  const id = String(role.id);
  const at = roles.findIndex((r) => String(r.id) === id);
  if (at < 0) return [...roles, role];
  return roles.filter((r, i) => i === at || String(r.id) !== id).map((r, i) => (i === at ? role : r));
}

/** GUILD_ROLE_DELETE: every role with that id leaves. */
export function removeRole(current: unknown, roleId: string): Role[] {
  return cachedRoles(current).filter((r) => String(r.id) !== roleId);
}
