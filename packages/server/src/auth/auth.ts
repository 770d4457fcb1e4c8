import { createPublicKey, createSecretKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import type { Config } from '../config.js';
import { parseGrants, type Grant, type Permission, type User } from './grants.js';

export type AuthErrorCode = 'TOKEN_INVALID' | 'TOKEN_EXPIRED';

/** A token was rejected. `code` is the reply/HTTP error code; `message` says why, never the token. */
export class AuthError extends Error {
  constructor(readonly code: AuthErrorCode, message: string) {
    super(message);
    this.name = 'AuthError';
  }
}

type Algorithm = NonNullable<Config['jwt']['algorithms']>[number];

/** Distinct `rooms` claims whose parsed grants are kept for reuse, and the largest claim kept. */
const GRANTS_CACHE_ENTRIES = 1000;
const GRANTS_CACHE_MAX_CLAIM_CHARS = 4096;
const NO_GRANTS: readonly Grant[] = Object.freeze([]);

/** WebCrypto hash of each HMAC JWS algorithm. */
const HMAC_HASH: Partial<Record<string, string>> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };
const HS: Algorithm[] = ['HS256', 'HS384', 'HS512'];

function defaultAlgorithmsFor(key: KeyObject): Algorithm[] {
  switch (key.asymmetricKeyType) {
    case 'rsa': return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss': return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve === 'secp384r1' ? ['ES384'] : curve === 'secp521r1' ? ['ES512'] : ['ES256'];
    }
    case 'ed25519': case 'ed448': return ['EdDSA'];
    default: throw new Error(`unsupported public key type ${key.asymmetricKeyType}`);
  }
}

/** Reads the development secret from the data dir, creating it on first start. */
export function loadOrCreateDevSecret(dataDir: string): string {
  const file = join(dataDir, 'jwt-secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const secret = randomBytes(32).toString('base64url');
    writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
    return readFileSync(file, 'utf8').trim();
  }
}

/**
 * Verifies JWTs (jose) and turns them into Users. Keys: an HMAC secret, a PEM public key, a JWKS
 * URL (cached), or any combination; tokens must use an algorithm on the allow-list, carry `sub` and
 * `exp`, and are accepted within `clockSkewSec` of expiry.
 */
export class Authenticator {
  private readonly secret?: KeyObject;
  private readonly publicKey?: KeyObject;
  private readonly jwks?: JWTVerifyGetKey;
  readonly algorithms: Algorithm[];
  /** The secret used by `sign` (dev tokens, demo mode), when an HMAC secret is configured. */
  readonly signingSecret?: string;
  /**
   * Parsed grants by `rooms` claim (as JSON). Tokens of an application mostly carry a handful of
   * distinct claims (roles, patterns), so connections share one frozen Grant list per claim instead
   * of each holding its own copy. Oldest entry evicted first.
   */
  private readonly grantsCache = new Map<string, readonly Grant[]>();
  /**
   * The HMAC secret imported as a WebCrypto key, per algorithm. jose verifies with WebCrypto: handed
   * the KeyObject it would import the secret again for every token (allocation, CPU).
   */
  private readonly hmacKeys = new Map<string, Promise<webcrypto.CryptoKey>>();
  /** The same keys once imported, for `directKey`. */
  private readonly hmacKeysReady = new Map<string, webcrypto.CryptoKey>();
  private readonly verifyOptions: JWTVerifyOptions;
  private readonly resolveKey: JWTVerifyGetKey = (header, input) => this.keyFor(header.alg, header, input);

  constructor(private readonly config: Config['jwt'], opts: { dataDir?: string } = {}) {
    let secret = config.secret;
    if (!secret && !config.publicKey && !config.jwksUrl) {
      if (!opts.dataDir) throw new Error('no JWT key configured and no data dir to generate one in');
      secret = loadOrCreateDevSecret(opts.dataDir);
    }
    const algs: Algorithm[] = [];
    if (secret) {
      this.secret = createSecretKey(Buffer.from(secret, 'utf8'));
      this.signingSecret = secret;
      algs.push(...HS);
    }
    if (config.publicKey) {
      this.publicKey = createPublicKey(config.publicKey);
      algs.push(...defaultAlgorithmsFor(this.publicKey));
    }
    if (config.jwksUrl) {
      this.jwks = createRemoteJWKSet(new URL(config.jwksUrl), { cacheMaxAge: config.jwksCacheMs, cooldownDuration: 30_000, timeoutDuration: 5000 });
      algs.push('RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA');
    }
    this.algorithms = config.algorithms ?? algs;
    this.verifyOptions = {
      algorithms: this.algorithms,
      clockTolerance: config.clockSkewSec,
      requiredClaims: ['sub', 'exp'],
      issuer: config.issuer,
      audience: config.audience,
    };
  }

  /** Verifies a token; throws AuthError. */
  async verify(token: string): Promise<User> {
    let payload: JWTPayload;
    try {
      const result = await jwtVerify(token, this.directKey(token) ?? this.resolveKey, this.verifyOptions);
      payload = result.payload;
    } catch (err) {
      throw toAuthError(err);
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 256) {
      throw new AuthError('TOKEN_INVALID', 'sub claim must be a non-empty string');
    }
    let grants;
    try { grants = this.grantsFor(payload.rooms); } catch (e) { throw new AuthError('TOKEN_INVALID', (e as Error).message); }
    const info = payload.info;
    if (info !== undefined && (typeof info !== 'object' || info === null || Array.isArray(info))) {
      throw new AuthError('TOKEN_INVALID', 'info claim must be an object');
    }
    return { id: payload.sub, grants, info: info as Record<string, unknown> | undefined, expiresAt: (payload.exp as number) * 1000 };
  }

  /** `parseGrants` of a claim, shared between tokens with the same claim (see `grantsCache`). */
  private grantsFor(claim: unknown): readonly Grant[] {
    if (claim === undefined) return NO_GRANTS;
    const key = JSON.stringify(claim);
    if (key.length > GRANTS_CACHE_MAX_CLAIM_CHARS) return parseGrants(claim);
    let grants = this.grantsCache.get(key);
    if (!grants) {
      grants = Object.freeze(parseGrants(claim).map((g) => Object.freeze(g)));
      if (this.grantsCache.size >= GRANTS_CACHE_ENTRIES) this.grantsCache.delete(this.grantsCache.keys().next().value as string);
      this.grantsCache.set(key, grants);
    }
    return grants;
  }

  /**
   * The imported HMAC key for a token whose algorithm is an allowed HS*, read from its header before
   * jose runs (undefined otherwise: jose then resolves the key through `keyFor`, as it always did).
   * Handed a resolver, jose returns the key in a spread copy of its result, which gives every token
   * a hidden class of its own (garbage maps, descriptor arrays and IC handlers per connection).
   */
  private directKey(token: string): webcrypto.CryptoKey | undefined {
    if (!this.secret || this.hmacKeysReady.size === 0) return undefined;
    let alg: unknown;
    try { alg = decodeProtectedHeader(token).alg; } catch { return undefined; }
    if (typeof alg !== 'string' || !(this.algorithms as string[]).includes(alg)) return undefined;
    return this.hmacKeysReady.get(alg);
  }

  private hmacKey(alg: string, secret: KeyObject): Promise<webcrypto.CryptoKey> | undefined {
    const hash = HMAC_HASH[alg];
    if (!hash) return undefined;
    let key = this.hmacKeys.get(alg);
    if (!key) {
      key = webcrypto.subtle.importKey('raw', secret.export(), { name: 'HMAC', hash }, false, ['verify']);
      this.hmacKeys.set(alg, key);
      key.then((k) => this.hmacKeysReady.set(alg, k), () => this.hmacKeys.delete(alg));
    }
    return key;
  }

  private keyFor(alg: string | undefined, header: Parameters<JWTVerifyGetKey>[0], input: Parameters<JWTVerifyGetKey>[1]) {
    if (alg?.startsWith('HS')) {
      if (!this.secret) throw new AuthError('TOKEN_INVALID', `algorithm ${alg} not allowed: no HMAC secret configured`);
      return this.hmacKey(alg, this.secret) ?? this.secret;
    }
    if (this.publicKey) return this.publicKey;
    if (this.jwks) return this.jwks(header, input);
    throw new AuthError('TOKEN_INVALID', `algorithm ${alg} not allowed`);
  }

  /** Signs a token with the HMAC secret (dev tokens, demo mode). */
  async sign(claims: { sub: string; rooms: Record<string, Permission[]>; info?: Record<string, unknown>; ttlSec: number }): Promise<string> {
    if (!this.secret) throw new Error('signing needs an HMAC secret (AQUEDUCT_JWT_SECRET or the generated dev secret)');
    const jwt = new SignJWT({ rooms: claims.rooms, ...(claims.info ? { info: claims.info } : {}) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.sub)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + claims.ttlSec);
    if (this.config.issuer) jwt.setIssuer(this.config.issuer);
    if (this.config.audience) jwt.setAudience(this.config.audience);
    return jwt.sign(this.secret);
  }
}

function toAuthError(err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof joseErrors.JWTExpired) return new AuthError('TOKEN_EXPIRED', 'token has expired');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new AuthError('TOKEN_INVALID', 'signature verification failed');
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return new AuthError('TOKEN_INVALID', 'algorithm not allowed');
  if (err instanceof joseErrors.JWTClaimValidationFailed) return new AuthError('TOKEN_INVALID', `claim "${err.claim}" invalid: ${err.reason}`);
  if (err instanceof joseErrors.JOSEError) return new AuthError('TOKEN_INVALID', err.message);
  if (err instanceof TypeError) return new AuthError('TOKEN_INVALID', 'key does not fit the token algorithm');
  return new AuthError('TOKEN_INVALID', 'token could not be verified');
}

/** Parses a duration like `90s`, `15m`, `1h`, `7d` or plain seconds. */
export function parseDurationSec(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) throw new Error(`invalid duration "${text}"`);
  const n = Number(m[1]);
  return n * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as const)[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}
