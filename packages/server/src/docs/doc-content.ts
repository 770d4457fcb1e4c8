import * as Y from 'yjs';

/** The kind of a top-level shared type, inferred from its content (a server never declares types). */
export type SharedKind = 'text' | 'map' | 'array' | 'xml';

/** A document as JSON: every top-level shared type, text as plain text, XML as its string form. */
export interface DocContent {
  types: Record<string, SharedKind>;
  content: Record<string, unknown>;
}

/** A top-level shared type as `Y.Doc#share` holds it. */
type Shared = Y.Doc['share'] extends Map<string, infer T> ? T : never;

/**
 * Guesses what a top-level type is. A document decoded from updates holds untyped `AbstractType`s;
 * the items tell: string/format/embed content means text, XML element children mean an XML
 * fragment, other list content means an array, keys only means a map.
 */
function inferKind(type: Shared): SharedKind | null {
  let sawList = false;
  for (let item = type._start; item !== null; item = item.right) {
    sawList = true;
    const c = item.content;
    if (c instanceof Y.ContentString || c instanceof Y.ContentFormat || c instanceof Y.ContentEmbed) return 'text';
    if (c instanceof Y.ContentType && (c.type instanceof Y.XmlElement || c.type instanceof Y.XmlText || c.type instanceof Y.XmlHook)) return 'xml';
  }
  if (sawList) return 'array';
  if (type._map.size > 0) return 'map';
  return null;
}

/**
 * Reads a document state (a Yjs update) into JSON. Works on a private Y.Doc, so the live document
 * is never cast to guessed types.
 */
export function stateToContent(state: Uint8Array): DocContent {
  const doc = new Y.Doc();
  try {
    Y.applyUpdate(doc, state);
    return docToContent(doc);
  } finally {
    doc.destroy();
  }
}

/** JSON of a private document (its top-level types get cast; do not pass a live document). */
export function docToContent(doc: Y.Doc): DocContent {
  const types: Record<string, SharedKind> = {};
  const content: Record<string, unknown> = {};
  for (const name of [...doc.share.keys()].sort()) {
    const existing = doc.share.get(name);
    if (!existing) continue;
    const kind = existing.constructor === Y.AbstractType ? inferKind(existing) : kindOf(existing);
    if (kind === null) continue;
    types[name] = kind;
    switch (kind) {
      case 'text': content[name] = doc.getText(name).toString(); break;
      case 'map': content[name] = doc.getMap(name).toJSON(); break;
      case 'array': content[name] = doc.getArray(name).toJSON(); break;
      case 'xml': content[name] = doc.getXmlFragment(name).toString(); break;
    }
  }
  return { types, content };
}

function kindOf(t: Shared): SharedKind | null {
  if (t instanceof Y.Text) return 'text';
  if (t instanceof Y.Map) return 'map';
  if (t instanceof Y.Array) return 'array';
  if (t instanceof Y.XmlFragment) return 'xml';
  return inferKind(t);
}

/** One contiguous change of a sequence, with `index` in the old sequence. */
export type SeqChange<T> = { op: 'insert' | 'delete'; index: number; items: T[] };

/** What changed in one shared type between two states. */
export type TypeDiff =
  | { type: 'text'; inserted: string[]; deleted: string[]; changes: Array<{ op: 'insert' | 'delete'; index: number; text: string }> }
  | { type: 'map'; added: string[]; removed: string[]; changed: string[] }
  | { type: 'array'; inserted: unknown[]; deleted: unknown[]; changes: Array<SeqChange<unknown>> }
  | { type: 'xml'; before: string; after: string }
  | { type: 'kind'; before: SharedKind | null; after: SharedKind | null };

export interface ContentDiff {
  /** Only types that changed are listed. */
  changed: Record<string, TypeDiff>;
}

/**
 * Sequence diff: trims the common head and tail, then a longest-common-subsequence table over the
 * middle when it has at most `maxCells` cells; a larger middle is reported as one replacement (still
 * correct, less precise). Equality is `===` on the items.
 */
export function diffSequence<T>(a: readonly T[], b: readonly T[], maxCells: number): Array<SeqChange<T>> {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const changes: Array<SeqChange<T>> = [];
  const push = (op: 'insert' | 'delete', index: number, item: T) => {
    const last = changes[changes.length - 1];
    if (last && last.op === op && (op === 'insert' ? last.index === index : last.index + last.items.length === index)) last.items.push(item);
    else changes.push({ op, index, items: [item] });
  };
  if (am.length === 0 && bm.length === 0) return changes;
  const n = am.length;
  const m = bm.length;
  if (n === 0 || m === 0 || (n + 1) * (m + 1) > maxCells) {
    if (n > 0) changes.push({ op: 'delete', index: head, items: am });
    if (m > 0) changes.push({ op: 'insert', index: head + n, items: bm });
    return changes;
  }
  // lcs[i][j] = LCS length of am[i..] and bm[j..], row-major in one typed array.
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = am[i] === bm[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
  }
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && am[i] === bm[j]) { i++; j++; }
    else if (j < m && (i === n || lcs[i * w + j + 1] >= lcs[(i + 1) * w + j])) { push('insert', head + i, bm[j]); j++; }
    else { push('delete', head + i, am[i]); i++; }
  }
  return changes;
}

/** Compares two document contents type by type. */
export function diffContent(from: DocContent, to: DocContent, maxCells: number): ContentDiff {
  const changed: Record<string, TypeDiff> = {};
  const names = new Set([...Object.keys(from.types), ...Object.keys(to.types)]);
  for (const name of [...names].sort()) {
    const ka = from.types[name] ?? null;
    const kb = to.types[name] ?? null;
    const a = from.content[name];
    const b = to.content[name];
    // A type that appears or disappears is diffed against the empty value of its kind.
    const kind = ka ?? kb;
    if (ka !== null && kb !== null && ka !== kb) { changed[name] = { type: 'kind', before: ka, after: kb }; continue; }
    switch (kind) {
      case 'text': {
        const changes = diffSequence([...(typeof a === 'string' ? a : '')], [...(typeof b === 'string' ? b : '')], maxCells)
          .map((c) => ({ op: c.op, index: c.index, text: c.items.join('') }));
        if (changes.length) {
          changed[name] = {
            type: 'text', changes,
            inserted: changes.filter((c) => c.op === 'insert').map((c) => c.text),
            deleted: changes.filter((c) => c.op === 'delete').map((c) => c.text),
          };
        }
        break;
      }
      case 'map': {
        const ma = (a ?? {}) as Record<string, unknown>;
        const mb = (b ?? {}) as Record<string, unknown>;
        const added = Object.keys(mb).filter((k) => !(k in ma)).sort();
        const removed = Object.keys(ma).filter((k) => !(k in mb)).sort();
        const changedKeys = Object.keys(mb).filter((k) => k in ma && JSON.stringify(ma[k]) !== JSON.stringify(mb[k])).sort();
        if (added.length || removed.length || changedKeys.length) changed[name] = { type: 'map', added, removed, changed: changedKeys };
        break;
      }
      case 'array': {
        const xa = (Array.isArray(a) ? a : []) as unknown[];
        const xb = (Array.isArray(b) ? b : []) as unknown[];
        // Compare elements by their JSON form; report the elements themselves.
        const ja = xa.map((x) => JSON.stringify(x));
        const jb = xb.map((x) => JSON.stringify(x));
        const changes = diffSequence(ja, jb, maxCells).map((c) => ({ op: c.op, index: c.index, items: c.items.map((s) => JSON.parse(s ?? 'null') as unknown) }));
        if (changes.length) {
          changed[name] = {
            type: 'array', changes,
            inserted: changes.filter((c) => c.op === 'insert').flatMap((c) => c.items),
            deleted: changes.filter((c) => c.op === 'delete').flatMap((c) => c.items),
          };
        }
        break;
      }
      case 'xml':
        if (a !== b) changed[name] = { type: 'xml', before: typeof a === 'string' ? a : '', after: typeof b === 'string' ? b : '' };
        break;
      default:
        break;
    }
  }
  return { changed };
}

/**
 * Computes a forward update that turns `current` into the content of `target`, using the
 * UndoManager: replay target, apply the changes made since as one tracked transaction, undo it.
 * The result is an ordinary update (new operations), so clients apply it live and it can itself be
 * undone by restoring a version recorded just before. Returns null when nothing differs.
 */
export function revertUpdate(current: Uint8Array, target: Uint8Array): Uint8Array | null {
  // gc off: content deleted by the tracked transaction must stay readable for the undo to copy it.
  const tmp = new Y.Doc({ gc: false });
  try {
    Y.applyUpdate(tmp, target);
    const cur = new Y.Doc();
    let since: Uint8Array;
    try {
      Y.applyUpdate(cur, current);
      since = Y.encodeStateAsUpdate(cur, Y.encodeStateVector(tmp));
    } finally {
      cur.destroy();
    }
    const origin = Symbol('since-version');
    const undo = new Y.UndoManager(tmp, { trackedOrigins: new Set([origin]), captureTimeout: 0 });
    Y.applyUpdate(tmp, since, origin);
    if (undo.undoStack.length === 0) { undo.destroy(); return null; }
    const out: Uint8Array[] = [];
    const onUpdate = (u: Uint8Array) => { out.push(u); };
    tmp.on('update', onUpdate);
    undo.undo();
    tmp.off('update', onUpdate);
    undo.destroy();
    return out.length === 0 ? null : out.length === 1 ? out[0] : Y.mergeUpdates(out);
  } finally {
    tmp.destroy();
  }
}
