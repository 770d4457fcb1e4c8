import { SignJWT } from 'jose';

export interface TestTokenClaims {
  sub: string;
  /** Grants: room pattern -> actions (`sub`, `pub`, `presence`, `signal`). */
  rooms: Record<string, string[]>;
  info?: Record<string, unknown>;
  /** Lifetime in seconds. Default 3600; negative makes an expired token. */
  ttlSec?: number;
  /** HMAC algorithm. Default HS256. */
  alg?: 'HS256' | 'HS384' | 'HS512';
  /** Extra claims (iss, aud, ...). */
  extra?: Record<string, unknown>;
}

/** Signs an HMAC JWT for tests. */
export async function signToken(secret: string, claims: TestTokenClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const ttl = claims.ttlSec ?? 3600;
  const payload: Record<string, unknown> = { ...claims.extra, rooms: claims.rooms };
  if (claims.info !== undefined) payload.info = claims.info;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: claims.alg ?? 'HS256' })
    .setSubject(claims.sub)
    .setIssuedAt(ttl < 0 ? now + ttl - 60 : now)
    .setExpirationTime(now + ttl)
    .sign(new TextEncoder().encode(secret));
}
