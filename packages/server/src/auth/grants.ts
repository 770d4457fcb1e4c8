/** Permissions a token can grant in a room. */
/** `media` = `media:publish` + `media:subscribe` (the SFU, README §Media (SFU)). */
export const PERMISSIONS = ['sub', 'pub', 'presence', 'signal', 'media', 'media:publish', 'media:subscribe'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** One entry of the `rooms` claim: an exact room name, or a prefix when the pattern ends in `*`. */
export interface Grant {
  pattern: string;
  prefix: boolean;
  perms: ReadonlySet<Permission>;
}

/** An authenticated identity, from a verified token or the server API key. */
export interface User {
  /** The token's `sub`. */
  id: string;
  grants: readonly Grant[];
  /** Shown in presence (name, colour, ...). */
  info?: Record<string, unknown>;
  /** Token expiry, ms since epoch. `Infinity` for API-key callers. */
  expiresAt: number;
  /** True for the server API key: every permission in every room. */
  superuser?: boolean;
}

/** Parses and validates the `rooms` claim; throws a message naming what is wrong. */
export function parseGrants(claim: unknown): Grant[] {
  if (claim === undefined) return [];
  if (typeof claim !== 'object' || claim === null || Array.isArray(claim)) throw new Error('rooms claim must be an object');
  const grants: Grant[] = [];
  for (const [pattern, perms] of Object.entries(claim)) {
    if (!Array.isArray(perms)) throw new Error(`rooms["${pattern}"] must be an array of permissions`);
    const set = new Set<Permission>();
    for (const p of perms) {
      if (!PERMISSIONS.includes(p as Permission)) throw new Error(`unknown permission "${String(p)}" in rooms["${pattern}"]`);
      set.add(p as Permission);
    }
    const prefix = pattern.endsWith('*');
    grants.push({ pattern: prefix ? pattern.slice(0, -1) : pattern, prefix, perms: set });
  }
  return grants;
}

/**
 * The one permission check every pipe uses: may `user` do `action` in `room`?
 * Grants are additive: any matching pattern that carries the permission allows it.
 */
export function can(user: User, action: Permission, room: string): boolean {
  if (user.superuser) return true;
  for (const g of user.grants) {
    if ((g.prefix ? room.startsWith(g.pattern) : room === g.pattern) && g.perms.has(action)) return true;
  }
  return false;
}

/** Parses a CLI grant `pattern=perm,perm` into the claim form. */
export function parseGrantArg(arg: string): [string, Permission[]] {
  const i = arg.lastIndexOf('=');
  if (i <= 0) throw new Error(`--room expects pattern=perm,perm (got "${arg}")`);
  const perms = arg.slice(i + 1).split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of perms) if (!PERMISSIONS.includes(p as Permission)) throw new Error(`unknown permission "${p}"`);
  return [arg.slice(0, i), perms as Permission[]];
}
