import type { Permission } from '../../auth/grants.js';

/** Rooms a demo token may use, and what it may do there. */
export const DEMO_GRANTS: Record<string, Permission[]> = { 'demo:*': ['sub', 'pub', 'presence', 'signal'] };

/**
 * Roles of the live-stream room app (`/live`). A role adds grants on the live rooms (`demo:live-*`)
 * to the demo grants: the host and co-hosts publish and watch video; viewers only watch. Everyone
 * chats and reacts on the bus and reads the leaderboard over SSE (the `demo:*` grants).
 */
export const LIVE_ROLES = ['host', 'cohost', 'viewer'] as const;
export type LiveRole = (typeof LIVE_ROLES)[number];
/** The rooms of the live-stream app: `demo:live-<slug>` (bus and media) and `demo:live-<slug>:board` (SSE). */
export const LIVE_ROOM_PATTERN = 'demo:live-*';

/** The media grant of each role on the live rooms. */
const LIVE_MEDIA: Record<LiveRole, Permission[]> = {
  host: ['media'],
  cohost: ['media'],
  viewer: ['media:subscribe'],
};

export function isLiveRole(value: unknown): value is LiveRole {
  return typeof value === 'string' && (LIVE_ROLES as readonly string[]).includes(value);
}

/** The grants of a demo token: the demo grants, plus the role's media grant on the live rooms. */
export function demoGrants(role?: LiveRole): Record<string, Permission[]> {
  if (!role) return DEMO_GRANTS;
  return { ...DEMO_GRANTS, [LIVE_ROOM_PATTERN]: LIVE_MEDIA[role] };
}
