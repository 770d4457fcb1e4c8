import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { UpdateGuard, UpdateRejected, checkUpdate } from '../src/docs/update-validator.js';
import { DocCloseCodes } from '../src/docs/yjs.js';
import { connectProvider, rawYjs, startDocsServer, synced, syncFrame, until, type DocsTestServer, type TestProvider } from './docs-helpers.js';

/** An update whose second struct names a content type that does not exist: Y.applyUpdate throws. */
function throwingUpdate(): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 1);
  encoding.writeVarUint(e, 2); encoding.writeVarUint(e, 4242); encoding.writeVarUint(e, 0);
  encoding.writeUint8(e, 4); encoding.writeVarUint(e, 1); encoding.writeVarString(e, 'text'); encoding.writeVarString(e, 'x');
  encoding.writeUint8(e, 31); encoding.writeVarUint(e, 1); encoding.writeVarString(e, 'text');
  encoding.writeVarUint(e, 0);
  return encoding.toUint8Array(e);
}

/** A well-formed update with a clock near 2^40: the kind of range that makes merges blow up. */
function hugeClockUpdate(): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 1);
  encoding.writeVarUint(e, 1); encoding.writeVarUint(e, 99); encoding.writeVarUint(e, 2 ** 40);
  encoding.writeUint8(e, 4); encoding.writeVarUint(e, 1); encoding.writeVarString(e, 'text'); encoding.writeVarString(e, 'z');
  encoding.writeVarUint(e, 0);
  return encoding.toUint8Array(e);
}

/** Deterministic pseudo-random bytes (a failure replays). */
function seededBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; out[i] = x >>> 24; }
  return out;
}

describe('docs: malformed input is rejected, the document and clients stay intact', () => {
  let ts: DocsTestServer;
  const providers: TestProvider[] = [];
  before(async () => { ts = await startDocsServer({ docs: { maxUpdateBytes: 4096, maxAwarenessBytes: 512 } }); });
  after(async () => {
    for (const p of providers) p.destroy();
    await ts.close();
  });

  test('random bytes, truncated, empty, throwing, out-of-range, oversize updates and bad awareness', async () => {
    const doc = 'doc:bad';
    const token = await ts.token('w', { 'doc:*': ['sub', 'pub'] });
    const writer = connectProvider(ts.yjsUrl, doc, token);
    const observer = connectProvider(ts.yjsUrl, doc, token);
    providers.push(writer, observer);
    await Promise.all([synced(writer), synced(observer)]);
    writer.ydoc.getText('text').insert(0, 'stable');
    await until(() => observer.ydoc.getText('text').toString() === 'stable', 5000, 'observer synced');
    const auditBefore = (await ts.api('GET', `/api/docs/${doc}/audit`, token)).body.entries as unknown[];

    const good = new Y.Doc();
    good.getText('text').insert(0, 'this update is fine but will be cut short');
    const valid = Y.encodeStateAsUpdate(good);
    const big = new Y.Doc();
    big.getText('text').insert(0, 'x'.repeat(8000));

    const cases: Array<{ name: string; frame: Uint8Array; code: number; reason?: RegExp }> = [
      { name: 'random frame', frame: new Uint8Array([7, ...seededBytes(40, 1)]), code: DocCloseCodes.INVALID_MESSAGE.code },
      { name: 'random bytes as update', frame: syncFrame(2, seededBytes(64, 2)), code: DocCloseCodes.INVALID_MESSAGE.code, reason: /UNDECODABLE|OUT_OF_RANGE|APPLY_FAILED/ },
      { name: 'random bytes as step 2', frame: syncFrame(1, Buffer.from('garbagedoc', 'base64')), code: DocCloseCodes.INVALID_MESSAGE.code, reason: /UNDECODABLE/ },
      { name: 'truncated update', frame: syncFrame(2, valid.subarray(0, valid.length - 5)), code: DocCloseCodes.INVALID_MESSAGE.code, reason: /UNDECODABLE/ },
      { name: 'empty update', frame: syncFrame(2, new Uint8Array(0)), code: DocCloseCodes.INVALID_MESSAGE.code, reason: /EMPTY/ },
      { name: 'throwing update', frame: syncFrame(2, throwingUpdate()), code: DocCloseCodes.INVALID_MESSAGE.code, reason: /UNDECODABLE|APPLY_FAILED/ },
      { name: 'clock out of range', frame: syncFrame(2, hugeClockUpdate()), code: DocCloseCodes.INVALID_MESSAGE.code, reason: /OUT_OF_RANGE/ },
      { name: 'oversize update', frame: syncFrame(2, Y.encodeStateAsUpdate(big)), code: 1009, reason: /TOO_LARGE/ },
      { name: 'frame cut inside the length', frame: new Uint8Array([0, 2, 0xff, 0xff]), code: DocCloseCodes.INVALID_MESSAGE.code },
      { name: 'awareness garbage', frame: new Uint8Array([1, 5, 1, 9, 1, 3, 0x7b, 0x7b, 0x7b]), code: DocCloseCodes.INVALID_MESSAGE.code },
      { name: 'oversize awareness', frame: (() => { const e = encoding.createEncoder(); encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, new Uint8Array(600)); return encoding.toUint8Array(e); })(), code: 1009 },
    ];
    for (const c of cases) {
      const raw = await rawYjs(ts.yjsUrl, doc, token);
      await until(() => raw.frames.length > 0, 5000, `${c.name}: server hello`);
      raw.send(c.frame);
      const closed = await raw.closed;
      assert.equal(closed.code, c.code, `${c.name}: close code`);
      if (c.reason) assert.match(raw.denied().join(' | '), c.reason, `${c.name}: the sender is told why`);
    }

    // Nothing reached the store or the other clients; both keep working.
    const auditAfter = (await ts.api('GET', `/api/docs/${doc}/audit`, token)).body.entries as unknown[];
    assert.equal(auditAfter.length, auditBefore.length);
    const content = await ts.api('GET', `/api/docs/${doc}`, token);
    assert.deepEqual(content.body.content, { text: 'stable' });
    assert.equal(observer.ydoc.getText('text').toString(), 'stable');
    assert.ok(writer.provider.wsconnected && observer.provider.wsconnected);
    writer.ydoc.getText('text').insert(6, ' and alive');
    await until(() => observer.ydoc.getText('text').toString() === 'stable and alive', 5000, 'edits still flow');
    const rejected = await ts.server.metrics.registry.getSingleMetricAsString('aqueduct_doc_updates_rejected_total');
    assert.match(rejected, /reason="EMPTY"/);
  });

  test('validation rules in isolation', () => {
    const ok = new Y.Doc();
    ok.getMap('m').set('a', 1);
    checkUpdate(Y.encodeStateAsUpdate(ok), 1024);
    const code = (u: Uint8Array, max = 1024) => { try { checkUpdate(u, max); return 'ok'; } catch (e) { return (e as UpdateRejected).code; } };
    assert.equal(code(new Uint8Array(0)), 'EMPTY');
    assert.equal(code(Y.encodeStateAsUpdate(ok), 4), 'TOO_LARGE');
    assert.equal(code(Buffer.from('garbagedoc', 'base64')), 'UNDECODABLE');
    assert.equal(code(hugeClockUpdate()), 'OUT_OF_RANGE');
  });

  test('an update that never returns is cut off by the time budget; the guard recovers', async () => {
    const hang = `
      const { parentPort } = require('node:worker_threads');
      parentPort.on('message', (batch) => {
        if (batch.some(({ update }) => update[0] === 0xee)) for (;;) {}
        parentPort.postMessage(batch.map(({ id }) => ({ id, ok: true })));
      });`;
    const guard = new UpdateGuard({ timeoutMs: 500, maxQueued: 10, workerSource: hang });
    try {
      await guard.check(new Uint8Array([1]));
      // The hanging update travels in a batch with innocent ones: only it is rejected.
      const results = await Promise.allSettled([3, 0xee, 4].map((b) => guard.check(new Uint8Array([b]))));
      assert.equal(results[0].status, 'fulfilled');
      assert.equal(results[2].status, 'fulfilled');
      assert.equal(results[1].status, 'rejected');
      const reason = (results[1] as PromiseRejectedResult).reason as UpdateRejected;
      assert.equal(reason.code, 'TIMEOUT');
      await guard.check(new Uint8Array([2]));
    } finally {
      await guard.close();
    }
  });
});
