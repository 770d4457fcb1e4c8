import * as Y from 'yjs';
import { MAX_TEXT, newId, shapesOf, type Shape } from './shapes.js';

/** What a new shape needs; id, author and stacking order are filled in. */
export type NewShape = Omit<Shape, 'id' | 'author' | 'z'> & { id?: string };
/** Fields that may change after creation. */
export type ShapePatch = Partial<Pick<Shape, 'x' | 'y' | 'w' | 'h' | 'text' | 'color'>>;

/**
 * The board document: `shapes` is a Y.Map of shape id -> Y.Map of fields (so a move and a
 * concurrent resize or relabel by someone else both survive), `frames` the replay index
 * (`frames.ts`).
 *
 * Every local edit is one transaction with this page's own origin object, and the
 * `Y.UndoManager` tracks that origin only: updates applied by the provider (other users) are never
 * captured, so undo reverts this user's own edits and nobody else's. A gesture (a drag, a drawn
 * shape) is one undo step: `beginStep()` at its start closes the previous step.
 */
export class Board {
  readonly shapes: Y.Map<Y.Map<unknown>>;
  readonly undoManager: Y.UndoManager;
  /** The origin of this page's edits (identity matters, not content). */
  readonly origin = { whiteboard: 'local' };
  private zCounter = 0;

  constructor(readonly ydoc: Y.Doc, private readonly author: () => string) {
    this.shapes = ydoc.getMap('shapes');
    this.undoManager = new Y.UndoManager(this.shapes, { trackedOrigins: new Set([this.origin]), captureTimeout: 600 });
  }

  /** Every shape, in stacking order. */
  list(): Shape[] {
    return shapesOf(this.shapes.toJSON());
  }

  get(id: string): Shape | undefined {
    return shapesOf({ [id]: this.shapes.get(id)?.toJSON() })[0];
  }

  /** Called after every change of the shapes, local or remote. */
  onChange(fn: (local: boolean) => void): () => void {
    const handler = (_events: unknown, tx: Y.Transaction) => fn(tx.origin === this.origin || tx.origin === this.undoManager);
    this.shapes.observeDeep(handler);
    return () => this.shapes.unobserveDeep(handler);
  }

  /** Starts a new undo step (the next edit is not merged into the previous one). */
  beginStep(): void {
    this.undoManager.stopCapturing();
  }

  /** Adds a shape on top of the others; returns its id. */
  add(shape: NewShape): string {
    const id = shape.id ?? newId();
    // Above everything seen so far; the counter breaks ties between shapes made in one millisecond.
    const z = Math.max(Date.now(), this.topZ() + 1) + (this.zCounter++ % 1000) / 1000;
    const fields: Record<string, unknown> = { ...shape, id: undefined, author: this.author(), z, text: shape.text.slice(0, MAX_TEXT) };
    this.ydoc.transact(() => {
      const m = new Y.Map<unknown>();
      for (const [k, v] of Object.entries(fields)) if (v !== undefined) m.set(k, v);
      this.shapes.set(id, m);
    }, this.origin);
    return id;
  }

  /** Changes fields of a shape (no-op for an unknown or deleted shape). */
  update(id: string, patch: ShapePatch): void {
    const m = this.shapes.get(id);
    if (!m) return;
    this.ydoc.transact(() => {
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined || m.get(k) === v) continue;
        m.set(k, k === 'text' ? String(v).slice(0, MAX_TEXT) : v);
      }
    }, this.origin);
  }

  /** Deletes shapes and every connector attached to them, in one step. */
  remove(ids: Iterable<string>): void {
    const gone = new Set(ids);
    for (const [id, m] of this.shapes) {
      if (m.get('kind') === 'connector' && (gone.has(m.get('from') as string) || gone.has(m.get('to') as string))) gone.add(id);
    }
    this.ydoc.transact(() => {
      for (const id of gone) this.shapes.delete(id);
    }, this.origin);
  }

  undo(): void {
    this.undoManager.stopCapturing();
    this.undoManager.undo();
  }

  redo(): void {
    this.undoManager.redo();
  }

  private topZ(): number {
    let top = 0;
    for (const m of this.shapes.values()) {
      const z = m.get('z');
      if (typeof z === 'number' && z > top) top = z;
    }
    return top;
  }
}
