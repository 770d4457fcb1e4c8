import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { freePort, startCoturn, type CoturnHandle } from '@aqueduct/testkit';
import { turnCredentials } from '../src/webrtc/ice.js';
import { MESH_GRANTS, send, startHarness, waitForChannelOpen, waitForMessage, waitForP2p, type Harness } from './webrtc-browser.js';

const TURN_SECRET = 'coturn-shared-secret-for-tests';

interface GatherResult { relay: number; candidates: string[]; errors: Array<{ code: number; text: string; url: string }> }

/**
 * Gathers ICE candidates in the page with only the given TURN server (relay policy) and reports
 * relay candidates and `icecandidateerror` events. Gathering ends ('complete') after coturn has
 * answered (or refused) the allocation.
 */
function gather(page: Page, iceServers: RTCIceServer[]): Promise<GatherResult> {
  return page.evaluate(async (servers) => {
    const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: 'relay' });
    const out = { relay: 0, candidates: [] as string[], errors: [] as Array<{ code: number; text: string; url: string }> };
    pc.onicecandidateerror = (e) => {
      const ev = e as RTCPeerConnectionIceErrorEvent;
      out.errors.push({ code: ev.errorCode, text: ev.errorText, url: ev.url });
    };
    const done = new Promise<void>((resolve) => {
      pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') resolve(); };
    });
    pc.onicecandidate = (e) => {
      if (!e.candidate) return;
      out.candidates.push(e.candidate.candidate);
      if (e.candidate.type === 'relay') out.relay++;
    };
    pc.createDataChannel('probe');
    await pc.setLocalDescription();
    await done;
    pc.close();
    return out;
  }, iceServers);
}

describe('webrtc through coturn (relay only)', { timeout: 300_000 }, () => {
  let turn: CoturnHandle;
  let h: Harness;
  before(async () => {
    turn = await startCoturn({ secret: TURN_SECRET });
    h = await startHarness({ turn: { secret: TURN_SECRET, urls: turn.urls.filter((u) => u.endsWith('udp')), ttlSec: 600 } });
  });
  after(async () => {
    await h?.close();
    await turn?.stop();
  });

  test('two pages connect through TURN with /api/ice-servers credentials; the selected pair is relayed', async () => {
    const [a, b] = [await h.open(), await h.open()];
    const mesh = { iceTransportPolicy: 'relay' };
    const ra = await h.boot(a, 'alice', 'call:relay', { mesh });
    const rb = await h.boot(b, 'bob', 'call:relay', { mesh });
    assert.ok(ra.ok && rb.ok);
    assert.equal(await waitForP2p(a, rb.id as string), 'p2p-relay');
    assert.equal(await waitForP2p(b, ra.id as string), 'p2p-relay');
    const stats = await a.evaluate(async (id) => (window as never as { mesh: { stats(id: string): Promise<unknown> } }).mesh.stats(id), rb.id as string) as { relayed: boolean; localCandidateType: string; rttMs?: number };
    assert.equal(stats.relayed, true);
    assert.equal(stats.localCandidateType, 'relay');
    // The page used the server's credentials (REST form `expiry:user`), not a hard-coded list.
    const usedTurn = await a.evaluate(async () => {
      const pcs = (window as never as { mesh: { peerList: Array<{ id: string }>; connection(id: string): RTCPeerConnection } }).mesh;
      const cfg = pcs.connection(pcs.peerList[0].id).getConfiguration();
      return cfg.iceServers?.map((s) => ({ urls: s.urls, username: s.username })) ?? [];
    });
    assert.equal(usedTurn.length, 1);
    assert.match(String(usedTurn[0].username), /^\d+:alice$/);
    await waitForChannelOpen(a, rb.id as string);
    await waitForChannelOpen(b, ra.id as string);
    await send(a, 'chat', 'via turn');
    await send(b, 'chat', 'via turn too');
    assert.equal((await waitForMessage(b, 'chat', 'via turn')).via, 'p2p');
    assert.equal((await waitForMessage(a, 'chat', 'via turn too')).via, 'p2p');
    // Both ends reported a relayed connection to the server's metrics.
    assert.ok(await eventuallyRelay(h), 'two relay reports');
    await a.context().close();
    await b.context().close();
  });

  test('coturn refuses expired credentials and accepts fresh ones', async () => {
    const page = await h.open();
    const urls = turn.urls.filter((u) => u.endsWith('udp'));
    const now = Math.floor(Date.now() / 1000);
    const expired = turnCredentials(TURN_SECRET, 'alice', now - 60);
    const refused = await gather(page, [{ urls, username: expired.username, credential: expired.credential }]);
    assert.equal(refused.relay, 0, JSON.stringify(refused));
    assert.ok(refused.errors.some((e) => e.code === 401), JSON.stringify(refused.errors));
    // A wrong secret is refused the same way.
    const forged = turnCredentials('not-the-secret', 'alice', now + 600);
    const bad = await gather(page, [{ urls, username: forged.username, credential: forged.credential }]);
    assert.equal(bad.relay, 0);
    assert.ok(bad.errors.some((e) => e.code === 401), JSON.stringify(bad.errors));
    // Fresh credentials from the endpoint allocate a relay.
    const token = await h.ts.token('alice', MESH_GRANTS);
    const res = await fetch(`${h.ts.url}/api/ice-servers?turn=required`, { headers: { Authorization: `Bearer ${token}` } });
    const { iceServers } = await res.json() as { iceServers: RTCIceServer[] };
    const ok = await gather(page, iceServers);
    assert.ok(ok.relay > 0, JSON.stringify(ok));
    await page.context().close();
  });

  test('when no peer connection can be made, channel data goes over the room bus with the same API', async () => {
    const [a, b] = [await h.open(), await h.open()];
    // A TURN server that does not exist, relay only: ICE cannot succeed, not even after a restart.
    const dead = `turn:127.0.0.1:${await freePort()}?transport=udp`;
    const creds = turnCredentials(TURN_SECRET, 'x', Math.floor(Date.now() / 1000) + 600);
    const mesh = { iceTransportPolicy: 'relay', iceServers: [{ urls: [dead], ...creds }], connectTimeoutMs: 1500, retryAfterMs: 600_000 };
    const ra = await h.boot(a, 'alice', 'call:fallback', { mesh });
    const rb = await h.boot(b, 'bob', 'call:fallback', { mesh });
    const serverPath = (p: Page, id: string) => p.waitForFunction((peer) => (window as never as { pathOf(id: string): string }).pathOf(peer) === 'server', id, { timeout: 30_000, polling: 50 });
    await serverPath(a, rb.id as string);
    await serverPath(b, ra.id as string);
    assert.deepEqual(await send(a, 'chat', { text: 'over the bus' }), []);
    await send(b, 'cursor', { x: 3 });
    const m1 = await waitForMessage(b, 'chat', { text: 'over the bus' });
    const m2 = await waitForMessage(a, 'cursor', { x: 3 });
    assert.deepEqual([m1.from, m1.via], [ra.id, 'server']);
    assert.deepEqual([m2.from, m2.via], [rb.id, 'server']);
    const paths = await a.evaluate(() => (window as never as { log: { paths: Array<{ path: string }> } }).log.paths.map((p) => p.path));
    assert.deepEqual(paths, ['server']);
    await a.context().close();
    await b.context().close();
  });
});

/** The two reports are posted asynchronously by the pages; wait for them (bounded). */
async function eventuallyRelay(h: Harness): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const text = await h.ts.server.metrics.registry.getSingleMetricAsString('aqueduct_webrtc_connections_total');
    if (/path="relay"[^}]*\} 2/.test(text)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
