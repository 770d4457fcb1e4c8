import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CloseCodes, ErrorCodes, parseClientMessage, shouldReconnect } from '../src/index.js';

/** Done-means 9: PROTOCOL.md states the code catalogues and message types the implementation has. */
const doc = readFileSync(new URL('../../../PROTOCOL.md', import.meta.url), 'utf8');

function section(title: string): string {
  const start = doc.indexOf(title);
  assert.ok(start >= 0, `section ${title}`);
  const next = doc.indexOf('\n#', start + title.length);
  return doc.slice(start, next === -1 ? undefined : next);
}

test('every reply error code is documented with its temporary flag', () => {
  const rows = new Map<string, string>();
  for (const m of section('### Reply error codes').matchAll(/^\| `([A-Z_]+)` \| (yes|no) \|/gm)) rows.set(m[1], m[2]);
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ErrorCodes).sort());
  for (const [code, spec] of Object.entries(ErrorCodes)) {
    assert.equal(rows.get(code), spec.temporary ? 'yes' : 'no', code);
  }
});

test('every close code is documented with whether to reconnect', () => {
  const rows = new Map<number, { name: string; reconnect: string }>();
  for (const m of section('### Close codes').matchAll(/^\| (\d{4}) \| `([A-Z_]+)` \| (yes|no) \|/gm)) {
    rows.set(Number(m[1]), { name: m[2], reconnect: m[3] });
  }
  assert.equal(rows.size, Object.keys(CloseCodes).length);
  for (const [name, spec] of Object.entries(CloseCodes)) {
    assert.deepEqual(rows.get(spec.code), { name, reconnect: spec.reconnect ? 'yes' : 'no' }, name);
    assert.equal(shouldReconnect(spec.code), spec.reconnect, `shouldReconnect(${spec.code})`);
  }
});

test('every message type is documented', () => {
  const client = section('## Client → server messages');
  for (const t of ['auth', 'refresh', 'join', 'leave', 'pub', 'presence', 'history', 'signal', 'pong']) {
    assert.match(client, new RegExp(`^\\| \`${t}\` \\|`, 'm'), `client message ${t}`);
  }
  const server = section('## Server → client messages');
  for (const t of ['reply', 'msg', 'presence.join', 'presence.leave', 'signal', 'reset', 'ping', 'disconnect']) {
    assert.match(server, new RegExp(`^\\| \`${t.replace('.', '\\.')}\` `, 'm'), `server message ${t}`);
  }
});

test('the client frames of the example session are valid requests', () => {
  const example = section('## Example session');
  let checked = 0;
  for (const line of example.split('\n')) {
    if (!line.startsWith('> ')) continue;
    const json = line.slice(2).replace(/\s+\(.*\)$/, '').trim();
    const parsed = parseClientMessage(JSON.parse(json));
    assert.ok(parsed.ok, `${json}: ${parsed.ok ? '' : parsed.message}`);
    checked++;
  }
  assert.ok(checked >= 8, `checked ${checked} client frames`);
});
