/**
 * The whiteboard's document model without a browser: per-user undo across two synced Y.Docs,
 * connectors deleted with their shapes, untrusted records rejected, stroke simplification, and the
 * live-stroke message check.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as Y from 'yjs';
import { Board } from '../src/whiteboard/board.js';
import { shapesOf, toShape } from '../src/whiteboard/shapes.js';
import { simplify, simplifyTo } from '../src/whiteboard/simplify.js';
import { MAX_POINTS_PER_MESSAGE, isStrokeChunk } from '../src/whiteboard/stroke-channel.js';

/** Two documents that exchange every update, the way the provider does (origin: the "provider"). */
function pair(): [Board, Board] {
  const a = new Y.Doc();
  const b = new Y.Doc();
  const remote = { provider: true };
  a.on('update', (u: Uint8Array, origin: unknown) => { if (origin !== remote) Y.applyUpdate(b, u, remote); });
  b.on('update', (u: Uint8Array, origin: unknown) => { if (origin !== remote) Y.applyUpdate(a, u, remote); });
  return [new Board(a, () => 'alice'), new Board(b, () => 'bob')];
}

const rect = (text: string) => ({ kind: 'rect' as const, x: 10, y: 10, w: 100, h: 50, color: '#112233', text });

describe('whiteboard model', () => {
  test('undo reverts only the local user\'s edits', () => {
    const [alice, bob] = pair();
    alice.beginStep();
    const a1 = alice.add(rect('a1'));
    alice.beginStep();
    const b1 = bob.add(rect('b1'));
    bob.beginStep();
    alice.beginStep();
    const a2 = alice.add(rect('a2'));
    assert.deepEqual(bob.list().map((s) => s.text), ['a1', 'b1', 'a2']);

    alice.undo();
    assert.deepEqual(bob.list().map((s) => s.id), [a1, b1]);
    alice.undo();
    assert.deepEqual(bob.list().map((s) => s.id), [b1], 'Bob\'s shape survives Alice\'s undos');
    assert.equal(alice.undoManager.undoStack.length, 0);
    // Bob moved his shape meanwhile; Alice's redo brings hers back without touching his move.
    bob.beginStep();
    bob.update(b1, { x: 300 });
    alice.redo();
    alice.redo();
    assert.deepEqual(bob.list().map((s) => s.id).sort(), [a1, a2, b1].sort());
    assert.equal(alice.get(b1)?.x, 300);
    bob.undo();
    assert.equal(alice.get(b1)?.x, 10, 'Bob\'s undo reverts his move');
    assert.equal(alice.list().length, 3);
    assert.equal(alice.get(a1)?.author, 'alice');
    assert.equal(alice.get(b1)?.author, 'bob');
  });

  test('a gesture of many updates is one undo step', () => {
    const [alice] = pair();
    alice.beginStep();
    const id = alice.add(rect('r'));
    alice.beginStep();
    for (let x = 11; x <= 60; x++) alice.update(id, { x });
    alice.beginStep();
    alice.undo();
    assert.equal(alice.get(id)?.x, 10);
    alice.undo();
    assert.equal(alice.get(id), undefined);
  });

  test('deleting a shape deletes its connectors, and undo brings both back', () => {
    const [alice, bob] = pair();
    const a = alice.add(rect('a'));
    const b = alice.add(rect('b'));
    const c = alice.add({ kind: 'connector', x: 0, y: 0, w: 1, h: 1, color: '#444444', text: '', from: a, to: b });
    alice.beginStep();
    alice.remove([b]);
    assert.deepEqual(bob.list().map((s) => s.id), [a]);
    alice.undo();
    assert.deepEqual(bob.list().map((s) => s.id).sort(), [a, b, c].sort());
  });

  test('untrusted records are checked', () => {
    assert.equal(toShape('x', { kind: 'rect', x: 1, y: 1, w: 1, h: 1, z: 1 })?.kind, 'rect');
    assert.equal(toShape('x', { kind: 'script', x: 1, y: 1, w: 1, h: 1, z: 1 }), undefined);
    assert.equal(toShape('x', { kind: 'rect', x: '1', y: 1, w: 1, h: 1, z: 1 }), undefined);
    assert.equal(toShape('bad id!', { kind: 'rect', x: 1, y: 1, w: 1, h: 1, z: 1 }), undefined);
    assert.equal(toShape('x', { kind: 'stroke', x: 1, y: 1, w: 1, h: 1, z: 1, points: [1, 'a'] }), undefined);
    assert.equal(toShape('x', { kind: 'connector', x: 1, y: 1, w: 1, h: 1, z: 1 }), undefined);
    assert.equal(toShape('x', { kind: 'rect', x: 1, y: 1, w: 1, h: 1, z: 1, color: 'red;background:url(x)' })?.color, '#333333');
    assert.deepEqual(shapesOf({ b: { kind: 'rect', x: 0, y: 0, w: 1, h: 1, z: 2 }, a: { kind: 'rect', x: 0, y: 0, w: 1, h: 1, z: 1 }, c: null }).map((s) => s.id), ['a', 'b']);
    assert.deepEqual(shapesOf('nope'), []);
  });

  test('strokes are simplified: straight runs collapse, corners stay, the cap holds', () => {
    const line: number[] = [];
    for (let i = 0; i <= 100; i++) line.push(i, 0);
    for (let i = 1; i <= 100; i++) line.push(100, i);
    assert.deepEqual(simplify(line, 1), [0, 0, 100, 0, 100, 100]);
    const wave: number[] = [];
    for (let i = 0; i < 5000; i++) wave.push(i, Math.sin(i / 10) * 50);
    const capped = simplifyTo(wave, 0.5, 200);
    assert.ok(capped.length / 2 <= 200 && capped.length / 2 > 10, `${capped.length / 2} points`);
    assert.deepEqual(capped.slice(0, 2), [0, 0]);
  });

  test('live-stroke messages are checked', () => {
    const ok = { id: 'abc123', seq: 0, pts: [1, 2, 3, 4], color: '#aabbcc', width: 4 };
    assert.equal(isStrokeChunk(ok), true);
    assert.equal(isStrokeChunk({ ...ok, pts: [1, 2, 3] }), false);
    assert.equal(isStrokeChunk({ ...ok, pts: new Array((MAX_POINTS_PER_MESSAGE + 2) * 2).fill(1) }), false);
    assert.equal(isStrokeChunk({ ...ok, seq: -1 }), false);
    assert.equal(isStrokeChunk({ ...ok, color: 'url(x)' }), false);
    assert.equal(isStrokeChunk({ ...ok, id: '../x' }), false);
  });
});
