import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SignJWT, exportJWK, type JWK } from 'jose';
import { CloseCodes } from '@aqueduct/protocol';
import { signToken } from '@aqueduct/testkit';
import { TEST_SECRET, connectClient, nextEvent, rawSocket, startTestServer, until, type RawSocket, type TestServer } from './helpers.js';

const b64url = (x: unknown) => Buffer.from(JSON.stringify(x)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const GRANT = { 'chat:*': ['sub', 'pub'] };

interface Rejection { code: string; close: number }

/** Sends `token` in the first message; returns the reply error code and the close code. */
async function authReject(ts: TestServer, token: string): Promise<Rejection> {
  const s = await rawSocket(ts.wsUrl);
  try {
    s.send({ t: 'auth', id: 1, token });
    const close = await s.closed;
    const reply = s.messages.find((m) => m.t === 'reply' && m.id === 1);
    return { code: (reply?.error as { code?: string } | undefined)?.code ?? 'NONE', close };
  } finally {
    s.close();
  }
}

async function authOk(ts: TestServer, token: string): Promise<RawSocket> {
  const s = await rawSocket(ts.wsUrl);
  const r = await s.request({ t: 'auth', id: 1, token });
  assert.ok(r.result, `expected auth to succeed: ${JSON.stringify(r.error)}`);
  return s;
}

describe('room bus: JWT verification (Done-means 5)', () => {
  let ts: TestServer;
  before(async () => { ts = await startTestServer(); });
  after(async () => { await ts.close(); });

  test('a valid HS256 token is accepted', async () => {
    const s = await authOk(ts, await signToken(TEST_SECRET, { sub: 'alice', rooms: GRANT }));
    s.close();
  });

  test('bad signature -> TOKEN_INVALID, close 4500', async () => {
    const token = await signToken('another-secret-0123456789abcdef', { sub: 'alice', rooms: GRANT });
    assert.deepEqual(await authReject(ts, token), { code: 'TOKEN_INVALID', close: CloseCodes.AUTH_FAILED.code });
    // A tampered payload with the original signature.
    const good = await signToken(TEST_SECRET, { sub: 'alice', rooms: GRANT });
    const [h, , sig] = good.split('.');
    const forged = `${h}.${b64url({ sub: 'admin', rooms: { '*': ['sub', 'pub'] }, exp: now() + 600 })}.${sig}`;
    assert.deepEqual(await authReject(ts, forged), { code: 'TOKEN_INVALID', close: 4500 });
  });

  test('expired -> TOKEN_EXPIRED, close 4500', async () => {
    const token = await signToken(TEST_SECRET, { sub: 'alice', rooms: GRANT, ttlSec: -120 });
    assert.deepEqual(await authReject(ts, token), { code: 'TOKEN_EXPIRED', close: 4500 });
  });

  test('alg: none -> TOKEN_INVALID, close 4500', async () => {
    const payload = { sub: 'alice', rooms: GRANT, exp: now() + 600, iat: now() };
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64url({ alg, typ: 'JWT' })}.${b64url(payload)}.`;
      assert.deepEqual(await authReject(ts, token), { code: 'TOKEN_INVALID', close: 4500 }, alg);
    }
  });

  test('missing sub, missing exp, bad rooms claim, garbage -> TOKEN_INVALID', async () => {
    const key = new TextEncoder().encode(TEST_SECRET);
    const noSub = await new SignJWT({ rooms: GRANT }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(now() + 600).sign(key);
    assert.deepEqual(await authReject(ts, noSub), { code: 'TOKEN_INVALID', close: 4500 });
    const emptySub = await new SignJWT({ rooms: GRANT }).setProtectedHeader({ alg: 'HS256' }).setSubject('').setExpirationTime(now() + 600).sign(key);
    assert.deepEqual(await authReject(ts, emptySub), { code: 'TOKEN_INVALID', close: 4500 });
    const noExp = await new SignJWT({ rooms: GRANT }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').sign(key);
    assert.deepEqual(await authReject(ts, noExp), { code: 'TOKEN_INVALID', close: 4500 });
    const badRooms = await signToken(TEST_SECRET, { sub: 'alice', rooms: { 'chat:*': ['admin'] } });
    assert.deepEqual(await authReject(ts, badRooms), { code: 'TOKEN_INVALID', close: 4500 });
    assert.deepEqual(await authReject(ts, 'not.a.jwt'), { code: 'TOKEN_INVALID', close: 4500 });
    // Presence `info` is bounded by limits.maxInfoBytes (default 1024).
    const bigInfo = await signToken(TEST_SECRET, { sub: 'alice', rooms: GRANT, info: { bio: 'x'.repeat(2000) } });
    assert.deepEqual(await authReject(ts, bigInfo), { code: 'TOKEN_INVALID', close: 4500 });
  });

  test('failures are counted in aqueduct_auth_failures_total', async () => {
    const text = await ts.server.metrics.registry.metrics();
    assert.match(text, /aqueduct_auth_failures_total\{code="TOKEN_INVALID"[^}]*\} \d+/);
    assert.match(text, /aqueduct_auth_failures_total\{code="TOKEN_EXPIRED"[^}]*\} \d+/);
  });

  test('?token= in the URL authenticates with reply id 0; a bad one is rejected with id 0 and 4500', async () => {
    const token = await signToken(TEST_SECRET, { sub: 'url-user', rooms: GRANT });
    const s = await rawSocket(`${ts.wsUrl}?token=${encodeURIComponent(token)}`);
    const r = await s.reply(0);
    assert.equal((r.result as { user: string }).user, 'url-user');
    const join = await s.request({ t: 'join', id: 1, room: 'chat:url' });
    assert.ok(join.result);
    s.close();
    const bad = await rawSocket(`${ts.wsUrl}?token=garbage`);
    assert.equal(await bad.closed, 4500);
    assert.equal(((bad.messages.find((m) => m.id === 0))?.error as { code: string }).code, 'TOKEN_INVALID');
  });
});

describe('room bus: algorithm allow-list and key kinds', () => {
  const servers: TestServer[] = [];
  let jwks: Server | undefined;
  after(async () => {
    for (const s of servers) await s.close();
    await new Promise<void>((r) => (jwks ? jwks.close(() => r()) : r()));
  });

  test('an algorithm not on the allow-list -> TOKEN_INVALID', async () => {
    const ts = await startTestServer({ jwt: { algorithms: ['HS512'] } });
    servers.push(ts);
    const hs256 = await signToken(TEST_SECRET, { sub: 'alice', rooms: GRANT, alg: 'HS256' });
    assert.deepEqual(await authReject(ts, hs256), { code: 'TOKEN_INVALID', close: 4500 });
    const hs512 = await signToken(TEST_SECRET, { sub: 'alice', rooms: GRANT, alg: 'HS512' });
    (await authOk(ts, hs512)).close();
  });

  test('an HS token signed with the configured public key as its secret -> TOKEN_INVALID', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ts = await startTestServer({ jwt: { secret: undefined, publicKey: pem } });
    servers.push(ts);
    // The classic confusion attack: HS256 keyed with the public key's PEM text.
    for (const alg of ['HS256', 'HS512'] as const) {
      const forged = await new SignJWT({ rooms: GRANT }).setProtectedHeader({ alg }).setSubject('alice')
        .setExpirationTime(now() + 600).sign(new TextEncoder().encode(pem));
      assert.deepEqual(await authReject(ts, forged), { code: 'TOKEN_INVALID', close: 4500 }, alg);
    }
    // The real key works.
    const real = await new SignJWT({ rooms: GRANT }).setProtectedHeader({ alg: 'RS256' }).setSubject('alice')
      .setExpirationTime(now() + 600).sign(privateKey);
    (await authOk(ts, real)).close();
  });

  test('ES256 and EdDSA public keys (PEM) are accepted', async () => {
    for (const kind of ['ec', 'ed25519'] as const) {
      const pair = kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
      const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const ts = await startTestServer({ jwt: { secret: undefined, publicKey: pem } });
      servers.push(ts);
      const alg = kind === 'ec' ? 'ES256' : 'EdDSA';
      const token = await new SignJWT({ rooms: GRANT }).setProtectedHeader({ alg }).setSubject(`${kind}-user`)
        .setExpirationTime(now() + 600).sign(pair.privateKey);
      const s = await authOk(ts, token);
      s.close();
      // Another key of the same kind is a bad signature.
      const other = kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
      const wrong = await new SignJWT({ rooms: GRANT }).setProtectedHeader({ alg }).setSubject('x')
        .setExpirationTime(now() + 600).sign(other.privateKey);
      assert.deepEqual(await authReject(ts, wrong), { code: 'TOKEN_INVALID', close: 4500 });
    }
  });

  test('JWKS: a token whose kid is in the served key set is accepted; an unknown key is not', async () => {
    const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keys: JWK[] = [
      { ...(await exportJWK(es.publicKey)), kid: 'es-1', alg: 'ES256', use: 'sig' },
      { ...(await exportJWK(rsa.publicKey)), kid: 'rs-1', alg: 'RS256', use: 'sig' },
    ];
    let fetches = 0;
    jwks = createHttpServer((req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => jwks!.listen(0, '127.0.0.1', () => r()));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    const ts = await startTestServer({ jwt: { secret: undefined, jwksUrl } });
    servers.push(ts);
    const es256 = await new SignJWT({ rooms: GRANT }).setProtectedHeader({ alg: 'ES256', kid: 'es-1' }).setSubject('jwks-es')
      .setExpirationTime(now() + 600).sign(es.privateKey);
    const rs256 = await new SignJWT({ rooms: GRANT }).setProtectedHeader({ alg: 'RS256', kid: 'rs-1' }).setSubject('jwks-rs')
      .setExpirationTime(now() + 600).sign(rsa.privateKey);
    (await authOk(ts, es256)).close();
    (await authOk(ts, rs256)).close();
    assert.equal(fetches, 1, 'the key set is cached');
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const unknown = await new SignJWT({ rooms: GRANT }).setProtectedHeader({ alg: 'ES256', kid: 'es-1' }).setSubject('x')
      .setExpirationTime(now() + 600).sign(stranger.privateKey);
    assert.deepEqual(await authReject(ts, unknown), { code: 'TOKEN_INVALID', close: 4500 });
    const hs = await signToken(TEST_SECRET, { sub: 'alice', rooms: GRANT });
    assert.deepEqual(await authReject(ts, hs), { code: 'TOKEN_INVALID', close: 4500 });
  });
});

describe('room bus: token lifetime on a live connection', () => {
  let ts: TestServer;
  before(async () => { ts = await startTestServer({ jwt: { clockSkewSec: 0 } }); });
  after(async () => { await ts.close(); });

  test('refresh extends a connection; the one that did not refresh is closed with 4003', async () => {
    const exp = now() + 2;
    const sign = (sub: string, expSec: number) => new SignJWT({ rooms: GRANT }).setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub).setExpirationTime(expSec).sign(new TextEncoder().encode(TEST_SECRET));
    const stale = await authOk(ts, await sign('alice', exp));
    const fresh = await authOk(ts, await sign('alice', exp));
    // Refresh errors keep the connection open.
    const other = await fresh.request({ t: 'refresh', id: 2, token: await sign('mallory', now() + 600) });
    assert.equal((other.error as { code: string }).code, 'TOKEN_INVALID');
    const expired = await fresh.request({ t: 'refresh', id: 3, token: await signToken(TEST_SECRET, { sub: 'alice', rooms: GRANT, ttlSec: -60 }) });
    assert.equal((expired.error as { code: string }).code, 'TOKEN_EXPIRED');
    const ok = await fresh.request({ t: 'refresh', id: 4, token: await sign('alice', now() + 600) });
    assert.ok((ok.result as { expiresAt: number }).expiresAt > Date.now() + 500_000);
    assert.equal(await stale.closed, CloseCodes.TOKEN_EXPIRED.code);
    assert.equal(stale.messages.at(-1)?.t, 'disconnect');
    // The refreshed connection outlived the first token.
    const join = await fresh.request({ t: 'join', id: 5, room: 'chat:after' });
    assert.ok(join.result);
    assert.equal(fresh.closeCode, undefined);
    fresh.close();
  });

  test('the SDK calls its token function again before expiry and stays connected', async () => {
    let calls = 0;
    const client = connectClient(ts.url, () => {
      calls++;
      return ts.token('bob', GRANT, { ttlSec: 3 });
    }, { refreshBeforeExpiryMs: 2500 });
    const disconnects: number[] = [];
    client.on('disconnected', (d) => disconnects.push(d.code));
    await nextEvent(client, 'connected');
    const room = client.room('chat:refresh');
    await room.ready();
    // Three refreshes take the connection well past the first token's expiry (3 s).
    await until(() => calls >= 4, 15_000, 'token refreshes');
    await room.publish({ still: 'here' });
    assert.deepEqual(disconnects, []);
    client.close();
  });
});
