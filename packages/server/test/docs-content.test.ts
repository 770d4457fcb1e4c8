import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as Y from 'yjs';
import { diffContent, diffSequence, revertUpdate, stateToContent } from '../src/docs/doc-content.js';

describe('docs: content, diff and revert', () => {
  test('JSON of every shared type kind, inferred from a bare update', () => {
    const d = new Y.Doc();
    d.getText('body').insert(0, 'Hello');
    d.getText('body').format(0, 2, { bold: true });
    d.getMap('meta').set('title', 'T');
    const nested = new Y.Map();
    d.getMap('meta').set('nested', nested);
    nested.set('n', 1);
    d.getArray('items').push([1, 'two', { three: 3 }]);
    const frag = d.getXmlFragment('prose');
    const p = new Y.XmlElement('p');
    p.insert(0, [new Y.XmlText('hi')]);
    frag.insert(0, [p]);
    const c = stateToContent(Y.encodeStateAsUpdate(d));
    assert.deepEqual(c.types, { body: 'text', items: 'array', meta: 'map', prose: 'xml' });
    assert.equal(c.content.body, 'Hello');
    assert.deepEqual(c.content.meta, { title: 'T', nested: { n: 1 } });
    assert.deepEqual(c.content.items, [1, 'two', { three: 3 }]);
    assert.equal(c.content.prose, '<p>hi</p>');
    assert.deepEqual(stateToContent(Y.encodeStateAsUpdate(new Y.Doc())), { types: {}, content: {} });
  });

  test('sequence diff: exact when small, one replacement beyond the cell budget', () => {
    const small = diffSequence([...'kitten'], [...'sitting'], 1000);
    const apply = (a: string[], changes: typeof small) => {
      // Applying the changes (indexes refer to the old sequence) yields the new sequence.
      const out: string[] = [];
      let i = 0;
      for (const ch of changes) {
        while (i < ch.index) out.push(a[i++]);
        if (ch.op === 'delete') i += ch.items.length; else out.push(...ch.items);
      }
      while (i < a.length) out.push(a[i++]);
      return out.join('');
    };
    assert.equal(apply([...'kitten'], small), 'sitting');
    const big = diffSequence([...'abcdef'], [...'azzzzf'], 4);
    assert.deepEqual(big, [{ op: 'delete', index: 1, items: [...'bcde'] }, { op: 'insert', index: 5, items: [...'zzzz'] }]);
    assert.equal(apply([...'abcdef'], big), 'azzzzf');
    assert.deepEqual(diffSequence([1, 2], [1, 2], 10), []);
  });

  test('content diff reports kind changes and appearing types', () => {
    const a = { types: { t: 'text' as const, m: 'map' as const }, content: { t: 'x', m: { a: 1 } } };
    const b = { types: { t: 'array' as const, n: 'text' as const }, content: { t: [1], n: 'new' } };
    const d = diffContent(a, b, 1000);
    assert.deepEqual(d.changed.t, { type: 'kind', before: 'text', after: 'array' });
    assert.deepEqual(d.changed.m, { type: 'map', added: [], removed: ['a'], changed: [] });
    assert.deepEqual((d.changed.n as { inserted: string[] }).inserted, ['new']);
  });

  test('revert produces a forward update that brings a document back to a version', () => {
    const d = new Y.Doc();
    d.getText('t').insert(0, 'version one');
    d.getArray('a').push([1, 2]);
    const v = Y.encodeStateAsUpdate(d);
    d.getText('t').delete(0, 8);
    d.getText('t').insert(0, 'changed ');
    d.getArray('a').push([3]);
    d.getMap('added').set('k', 'v');
    const revert = revertUpdate(Y.encodeStateAsUpdate(d), v);
    assert.ok(revert);
    const before = Y.encodeStateVector(d);
    Y.applyUpdate(d, revert);
    assert.equal(d.getText('t').toString(), 'version one');
    assert.deepEqual(d.getArray('a').toJSON(), [1, 2]);
    assert.equal(d.getMap('added').size, 0);
    // Forward: new operations were added, history was not rewritten.
    assert.ok(Y.decodeStateVector(Y.encodeStateVector(d)).size >= Y.decodeStateVector(before).size);
    assert.equal(revertUpdate(Y.encodeStateAsUpdate(d), Y.encodeStateAsUpdate(d)), null);
  });
});
