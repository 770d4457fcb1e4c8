import { createHmac } from 'node:crypto';
import type { Config } from '../config.js';

/** One entry of `RTCConfiguration.iceServers`, as the browser takes it. */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** The body of `GET /api/ice-servers`. */
export interface IceServersResponse {
  iceServers: IceServer[];
  /** Whether TURN servers (with credentials) are included. */
  turn: boolean;
  /** TURN credential lifetime in seconds, and when they expire (ms since epoch); absent without TURN. */
  ttlSec?: number;
  expiresAt?: number;
}

/**
 * TURN credentials in coturn's REST-API form (`use-auth-secret`): the username is
 * `<expiry unix seconds>:<user id>` and the password is base64(HMAC-SHA1(secret, username)).
 * coturn recomputes the HMAC with its `static-auth-secret` and refuses usernames whose expiry has
 * passed, so credentials need no server-side state and cannot be used after `expiresAt`.
 */
export function turnCredentials(secret: string, userId: string, expiresAtSec: number): { username: string; credential: string } {
  const username = `${Math.floor(expiresAtSec)}:${userId}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential };
}

/** Whether TURN is usable: a shared secret and at least one TURN URL. */
export function turnConfigured(turn: Config['turn']): boolean {
  return Boolean(turn.secret) && turn.urls.length > 0;
}

/** The ICE servers for one user at `nowMs`: STUN URLs (no credentials), then TURN URLs with fresh credentials. */
export function iceServersFor(turn: Config['turn'], userId: string, nowMs: number): IceServersResponse {
  const iceServers: IceServer[] = [];
  if (turn.stunUrls.length > 0) iceServers.push({ urls: [...turn.stunUrls] });
  if (!turnConfigured(turn)) return { iceServers, turn: false };
  const expiresAtSec = Math.floor(nowMs / 1000) + turn.ttlSec;
  const { username, credential } = turnCredentials(turn.secret as string, userId, expiresAtSec);
  iceServers.push({ urls: [...turn.urls], username, credential });
  return { iceServers, turn: true, ttlSec: turn.ttlSec, expiresAt: expiresAtSec * 1000 };
}
