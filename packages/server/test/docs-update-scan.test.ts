import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { parseConfig } from '../src/config.js';
import { DocManager } from '../src/docs/doc-manager.js';
import { SqliteDocStore } from '../src/docs/doc-store-sqlite.js';
import { scanUpdateV1 } from '../src/docs/update-scan.js';
import { MAX_CLOCK, UpdateGuard, UpdateRejected, checkUpdate } from '../src/docs/update-validator.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';

/** Every update `fn` makes on `doc`, one per transaction. */
function updatesOf(doc: Y.Doc, fn: () => void): Uint8Array[] {
  const out: Uint8Array[] = [];
  const on = (u: Uint8Array) => { out.push(u); };
  doc.on('update', on);
  fn();
  doc.off('update', on);
  return out;
}

/** Updates covering every content type the scan knows, deletions, GC and Skip structs. */
function corpus(): Uint8Array[] {
  const all: Uint8Array[] = [];
  const d = new Y.Doc();
  const text = d.getText('text');
  const map = d.getMap<unknown>('map');
  const arr = d.getArray<unknown>('arr');
  const xml = d.getXmlFragment('xml');
  all.push(...updatesOf(d, () => {
    text.insert(0, 'hello wörld 🌍');
    text.format(0, 5, { bold: true, color: '#f00' });
    text.insertEmbed(3, { image: 'x.png', size: [1, 2.5] });
    text.delete(1, 2);
    map.set('int', 42); map.set('neg', -7_000_000); map.set('float', 1.5); map.set('big', 2n ** 60n);
    map.set('str', 'ß'); map.set('t', true); map.set('f', false); map.set('null', null);
    map.set('obj', { a: [1, { b: 'c' }], d: null, e: new Uint8Array([1, 2]) });
    map.set('bin', new Uint8Array([9, 8, 7]));
    map.set('nested', new Y.Map());
    arr.push([1, 'two', { three: 3 }, [4]]);
    arr.push([new Y.Text('inner'), new Y.Array()]);
    arr.delete(1, 1);
    const el = new Y.XmlElement('p');
    el.setAttribute('class', 'x');
    el.insert(0, [new Y.XmlText('para')]);
    xml.insert(0, [el, new Y.XmlHook('hook') as unknown as Y.XmlElement]);
    d.transact(() => { text.insert(2, 'batched'); map.set('str', 'ü'); map.delete('t'); });
  }));
  all.push(Y.encodeStateAsUpdate(d));
  // Deleted content collected into GC structs.
  text.delete(0, text.length);
  all.push(Y.encodeStateAsUpdate(d));
  // A merge of non-adjacent updates of one client contains a Skip struct.
  const e = new Y.Doc();
  const parts = updatesOf(e, () => { for (let i = 0; i < 3; i++) e.getText('t').insert(0, `p${i}`); });
  all.push(Y.mergeUpdates([parts[0], parts[2]]));
  // The legacy ContentJSON (ref 2), still decoded by Yjs.
  const j = encoding.createEncoder();
  encoding.writeVarUint(j, 1); encoding.writeVarUint(j, 1); encoding.writeVarUint(j, 5); encoding.writeVarUint(j, 0);
  encoding.writeUint8(j, 2); encoding.writeVarUint(j, 1); encoding.writeVarString(j, 'legacy');
  encoding.writeVarUint(j, 2); encoding.writeVarString(j, '{"a":[1,2]}'); encoding.writeVarString(j, 'undefined');
  encoding.writeVarUint(j, 0);
  all.push(encoding.toUint8Array(j));
  // An empty update (what an up-to-date client sends as sync step 2).
  all.push(new Uint8Array([0, 0]));
  return all;
}

/** Deterministic PRNG: a failure replays. */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 2 ** 32; };
}

function mutate(u: Uint8Array, r: () => number): Uint8Array {
  const at = Math.floor(r() * u.length);
  switch (Math.floor(r() * 5)) {
    case 0: { const m = u.slice(); m[at] = Math.floor(r() * 256); return m; }
    case 1: { const m = u.slice(); m[at] ^= 1 << Math.floor(r() * 8); return m; }
    case 2: return u.slice(0, at);
    case 3: return new Uint8Array([...u.subarray(0, at), Math.floor(r() * 256), ...u.subarray(at)]);
    default: return new Uint8Array([...u.subarray(0, at), ...u.subarray(Math.floor(r() * u.length))]);
  }
}

describe('docs: the inline update scan', () => {
  test('accepts every content type Yjs writes (except subdocuments)', () => {
    for (const [i, u] of corpus().entries()) assert.equal(scanUpdateV1(u, MAX_CLOCK), true, `corpus update ${i}`);
    const d = new Y.Doc();
    const [sub] = updatesOf(d, () => d.getMap('m').set('sub', new Y.Doc()));
    assert.equal(scanUpdateV1(sub, MAX_CLOCK), false, 'a subdocument goes to the worker');
  });

  test('never accepts what Yjs cannot decode or what is out of range (seeded mutations)', () => {
    const r = rng(20261122);
    const base = corpus();
    let accepted = 0;
    let rejected = 0;
    for (let n = 0; n < 4000; n++) {
      let u = base[Math.floor(r() * base.length)];
      for (let k = 1 + Math.floor(r() * 3); k > 0 && u.length > 0; k--) u = mutate(u, r);
      if (!scanUpdateV1(u, MAX_CLOCK)) { rejected++; continue; }
      accepted++;
      // What the scan accepts, the authoritative checks accept too (decode, clock/length ranges).
      assert.doesNotThrow(() => checkUpdate(u, 1 << 20), `mutation ${n}: ${Buffer.from(u).toString('hex')}`);
    }
    assert.ok(accepted > 100 && rejected > 100, `both outcomes exercised (${accepted} accepted, ${rejected} not)`);
  });

  test('leaves garbage, truncation, bad UTF-8, unknown types and huge clocks to the worker', () => {
    const valid = corpus()[0];
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      Buffer.from('garbagedoc', 'base64'),
      valid.subarray(0, valid.length - 3),
    ];
    const item = (content: (e: encoding.Encoder) => void, clock = 0) => {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 1); encoding.writeVarUint(e, 1); encoding.writeVarUint(e, 7); encoding.writeVarUint(e, clock);
      content(e);
      encoding.writeVarUint(e, 0);
      return encoding.toUint8Array(e);
    };
    const root = (e: encoding.Encoder, ref: number) => { encoding.writeUint8(e, ref); encoding.writeVarUint(e, 1); encoding.writeVarString(e, 'text'); };
    cases.push(item((e) => { root(e, 4); encoding.writeVarUint8Array(e, new Uint8Array([0xc3, 0x28])); })); // invalid UTF-8
    cases.push(item((e) => { root(e, 7); encoding.writeVarUint(e, 7); })); // type ref 7 does not exist
    cases.push(item((e) => { root(e, 11); })); // content ref 11 does not exist
    cases.push(item((e) => { root(e, 5); encoding.writeVarString(e, '{nope'); })); // embed that is not JSON
    cases.push(item((e) => { root(e, 4); encoding.writeVarString(e, 'z'); }, 2 ** 40)); // clock out of range
    cases.push(item((e) => { root(e, 1); encoding.writeVarUint(e, 2 ** 31 + 1); })); // deleted length out of range
    for (const [i, u] of cases.entries()) assert.equal(scanUpdateV1(u, MAX_CLOCK), false, `case ${i}`);
  });
});

describe('docs: DocManager validates inline when the scan allows it', () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => { for (const c of closers.reverse()) await c(); });

  // A worker that never answers: whatever reaches it times out.
  const hang = `require('node:worker_threads').parentPort.on('message', () => { for (;;) {} });`;
  function setup(inlineScanMaxBytes?: number) {
    const config = parseConfig({ docs: { applyTimeoutMs: 200, ...(inlineScanMaxBytes === undefined ? {} : { inlineScanMaxBytes }) } });
    const store = new SqliteDocStore({ file: ':memory:' });
    const guard = new UpdateGuard({ timeoutMs: config.docs.applyTimeoutMs, maxQueued: 10, workerSource: hang });
    const m = new DocManager({ store, config: config.docs, logger: createLogger('silent'), metrics: new Metrics({ node: 't' }), guard });
    closers.push(() => m.close(), () => store.close());
    return m;
  }
  const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof UpdateRejected ? e.code : String(e)));

  test('ordinary updates skip the worker; unrecognised ones still pass through it', async () => {
    const m = setup();
    const live = await m.acquire('doc:scan');
    const src = new Y.Doc();
    const [edit] = updatesOf(src, () => src.getText('text').insert(0, 'inline'));
    assert.deepEqual(await m.submit(live, edit, { author: 'a' }), { seq: 1 });
    assert.equal(live.ydoc.getText('text').toString(), 'inline');
    const [sub] = updatesOf(src, () => src.getMap('m').set('sub', new Y.Doc()));
    assert.equal(await code(m.submit(live, sub, { author: 'a' })), 'TIMEOUT');
    m.release(live);
  });

  test('inlineScanMaxBytes: 0 sends every update through the worker', async () => {
    const m = setup(0);
    const live = await m.acquire('doc:scan-off');
    const src = new Y.Doc();
    const [edit] = updatesOf(src, () => src.getText('text').insert(0, 'x'));
    assert.equal(await code(m.submit(live, edit, { author: 'a' })), 'TIMEOUT');
    assert.equal(live.ydoc.getText('text').toString(), '');
    m.release(live);
  });
});
