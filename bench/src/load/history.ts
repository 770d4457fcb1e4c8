import * as Y from 'yjs';

/** `n` single-character insert updates, as one editor typing (what a long-lived document's log holds). */
export function makeHistory(n: number): Uint8Array[] {
  const doc = new Y.Doc();
  const text = doc.getText('text');
  const out: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => out.push(u));
  for (let i = 0; i < n; i++) text.insert(Math.floor((i * 7919) % (text.length + 1)), String.fromCharCode(97 + (i % 26)));
  return out;
}

