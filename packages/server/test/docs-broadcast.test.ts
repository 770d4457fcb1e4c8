import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import * as decoding from 'lib0/decoding';
import * as Y from 'yjs';
import { rawYjs, startDocsServer, syncFrame, until, type DocsTestServer, type RawYjs } from './docs-helpers.js';

/** The sync messages in a raw client's frames: `{ sub, payload }` (sub 1: step 2, 2: update). */
function syncMessages(c: RawYjs): Array<{ sub: number; payload: Uint8Array }> {
  const out: Array<{ sub: number; payload: Uint8Array }> = [];
  for (const f of c.frames) {
    const d = decoding.createDecoder(f);
    if (decoding.readVarUint(d) !== 0) continue;
    const sub = decoding.readVarUint(d);
    out.push({ sub, payload: decoding.readVarUint8Array(d) });
  }
  return out;
}

function edit(doc: Y.Doc, fn: (d: Y.Doc) => void): Uint8Array {
  let u: Uint8Array | undefined;
  const h = (x: Uint8Array) => { u = x; };
  doc.on('update', h);
  fn(doc);
  doc.off('update', h);
  assert.ok(u);
  return u;
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe('docs: broadcasts', () => {
  const servers: DocsTestServer[] = [];
  after(async () => { for (const s of servers) await s.close(); });

  test('updates reach every other connection in order, never their sender; a coalescing window holds them back', async () => {
    const ts = await startDocsServer({ docs: { writeCoalesceMs: 100 } });
    servers.push(ts);
    const token = await ts.token('u', { 'doc:*': ['sub', 'pub'] });
    const [a, b, r] = await Promise.all([0, 1, 2].map(() => rawYjs(ts.yjsUrl, 'doc:bc', token)));
    await until(() => [a, b, r].every((c) => syncMessages(c).length > 0), 5000, 'sync step 1');
    const base = () => [a, b, r].map((c) => c.frames.length);
    const n0 = base();
    const da = new Y.Doc();
    const db = new Y.Doc();

    // The first broadcast of a quiet document leaves on the next tick.
    const u1 = edit(da, (d) => d.getText('text').insert(0, 'one '));
    Y.applyUpdate(db, u1);
    a.send(syncFrame(2, u1));
    await until(() => r.frames.length > n0[2] && b.frames.length > n0[1], 5000, 'u1');
    const t1 = Date.now();

    // Within the window: held back, then everything leaves together, in order, minus each sender's own.
    const u2 = edit(da, (d) => d.getText('text').insert(4, 'two '));
    const u3 = edit(db, (d) => d.getMap('map').set('k', 'three'));
    a.send(syncFrame(2, u2));
    b.send(syncFrame(2, u3));
    const sentAfter = Date.now() - t1;
    await until(() => syncMessages(r).length >= 4, 5000, 'u2 and u3 at the reader');
    // (Only meaningful when the sends made it into the window; a busy machine may be slower.)
    if (sentAfter < 20) assert.ok(Date.now() - t1 >= 50, 'held back until the window ended');
    await until(() => syncMessages(a).length >= 2 && syncMessages(b).length >= 3, 5000, 'u2/u3 at the writers');
    const updatesOf = (c: RawYjs) => syncMessages(c).filter((m) => m.sub === 2).map((m) => m.payload);
    const atR = updatesOf(r);
    assert.equal(atR.length, 3);
    assert.ok(same(atR[0], u1) && same(atR[1], u2) && same(atR[2], u3), 'in order, as the server stored them');
    assert.deepEqual(updatesOf(a).map((u) => same(u, u3)), [true], 'a got b\'s update only');
    assert.deepEqual(updatesOf(b).map((u) => [same(u, u1), same(u, u2)]), [[true, false], [false, true]], 'b got a\'s updates only');

    // A reply to one connection never overtakes broadcasts queued before it.
    const u4 = edit(da, (d) => d.getText('text').insert(0, 'zero '));
    await new Promise((res) => setTimeout(res, 200)); // let the window pass: u4 alone opens a new one
    a.send(syncFrame(2, u4));
    const u5 = edit(da, (d) => d.getText('text').insert(0, '-'));
    await until(() => updatesOf(r).length === 4, 5000, 'u4');
    // u5 is held back by the window u4 opened (or, on a slow machine, already sent): either way the
    // step 2 reply comes after it.
    a.send(syncFrame(2, u5));
    await new Promise((res) => setTimeout(res, 20));
    r.send(syncFrame(0, Y.encodeStateVector(new Y.Doc())));
    await until(() => syncMessages(r).some((m, i) => i > 4 && m.sub === 1), 5000, 'step 2 reply');
    const tail = syncMessages(r).slice(-2);
    assert.equal(tail[0].sub, 2, 'the queued update first');
    assert.ok(same(tail[0].payload, u5));
    assert.equal(tail[1].sub, 1, 'then the reply');
    const check = new Y.Doc();
    Y.applyUpdate(check, tail[1].payload);
    assert.equal(check.getText('text').toString(), '-zero one two ');
    for (const c of [a, b, r]) c.ws.close();
  });
});
