import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { JSDOM } from 'jsdom';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { act, createElement, StrictMode, useEffect, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { AqueductClient, type WebSocketConstructor } from '@aqueduct/client';
import { createDocProvider } from '@aqueduct/client/yjs';
import { signToken, spawnServer, type ServerProcess } from '@aqueduct/testkit';
import { AqueductProvider, useDoc, usePresence, useRoom } from '../src/index.js';

/**
 * The hooks rendered by react-dom in jsdom, against a real server process: messages, presence and
 * document updates from a plain SDK client (and a stock y-websocket provider) reach the DOM.
 */
const SECRET = 'react-test-secret-0123456789abcdef';
const dom = new JSDOM('<!doctype html><html><body></body></html>');
const g = globalThis as Record<string, unknown>;
g.window = dom.window;
g.document = dom.window.document;
g.MutationObserver = dom.window.MutationObserver;
g.IS_REACT_ACT_ENVIRONMENT = true;

type Chat = { text: string };
const WS = WebSocket as unknown as WebSocketConstructor;

/** Resolves when `container`'s text satisfies `check` (re-checked on every DOM mutation). */
function textOf(container: HTMLElement, check: (text: string) => boolean, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const done = () => {
      const text = container.textContent ?? '';
      if (!check(text)) return false;
      observer.disconnect();
      clearTimeout(timer);
      resolve(text);
      return true;
    };
    const observer = new dom.window.MutationObserver(() => void done());
    const timer = setTimeout(() => { observer.disconnect(); reject(new Error(`timed out waiting for ${what}; text: ${container.textContent}`)); }, 10_000);
    observer.observe(container, { subtree: true, childList: true, characterData: true });
    done();
  });
}

function Chat(): ReactNode {
  const { messages, joined, error } = useRoom<Chat>('chat:react');
  const members = usePresence('chat:react');
  return createElement('div', null,
    createElement('p', { id: 'state' }, joined ? 'joined' : error ? `error ${error.code}` : 'joining'),
    createElement('p', { id: 'members' }, members.map((m) => m.user).sort().join(',')),
    createElement('ul', null, ...messages.map((m) => createElement('li', { key: m.offset }, m.data.text))),
  );
}

/** The documents the Editor rendered (for the local-edit half of the test). */
const editorDocs: Y.Doc[] = [];

function Editor(): ReactNode {
  const { doc, synced } = useDoc('doc:react');
  useEffect(() => { editorDocs.push(doc); }, [doc]);
  return createElement('p', null, `${synced ? 'synced' : 'syncing'}:${doc.getText('t').toString()}`);
}

describe('@aqueduct/react hooks', () => {
  let proc: ServerProcess;
  const clients: AqueductClient[] = [];
  before(async () => { proc = await spawnServer({ env: { AQUEDUCT_JWT_SECRET: SECRET } }); });
  after(async () => {
    for (const c of clients) c.close();
    await proc.kill();
  });

  const token = (sub: string) => signToken(SECRET, { sub, rooms: { 'chat:*': ['sub', 'pub', 'presence'], 'doc:*': ['sub', 'pub'] } });
  const render = async (node: ReactNode): Promise<{ root: Root; container: HTMLElement }> => {
    const container = dom.window.document.createElement('div');
    dom.window.document.body.appendChild(container);
    const root = createRoot(container);
    await act(async () => root.render(createElement(StrictMode, null, node)));
    return { root, container };
  };

  test('useRoom and usePresence: real messages and members reach the DOM; unmount leaves the room', async () => {
    const options = { url: proc.url, token: await token('ann'), WebSocket: WS };
    const { root, container } = await render(createElement(AqueductProvider, { options }, createElement(Chat)));
    await textOf(container, (t) => t.startsWith('joined'), 'joined');
    const bob = new AqueductClient({ url: proc.url, token: await token('bob'), WebSocket: WS });
    clients.push(bob);
    const room = bob.room<Chat>('chat:react');
    await room.ready();
    await textOf(container, (t) => t.includes('ann,bob'), 'both members');
    await room.publish({ text: 'hello from bob' });
    await room.publish({ text: 'second' });
    const text = await textOf(container, (t) => t.includes('second'), 'both messages');
    assert.ok(text.indexOf('hello from bob') < text.indexOf('second'), 'in order');
    const left = new Promise<string>((resolve) => room.on('presence.leave', (m) => resolve(m.user)));
    await act(async () => root.unmount());
    assert.equal(await left, 'ann', 'the provider closed its client on unmount');
  });

  test('useDoc: an update from a stock y-websocket client appears, and a local edit reaches it', async () => {
    const options = { url: proc.url, token: await token('ann'), WebSocket: WS };
    const { root, container } = await render(createElement(AqueductProvider, { options }, createElement(Editor)));
    await textOf(container, (t) => t.startsWith('synced:'), 'first sync');
    const other = new Y.Doc();
    const provider = createDocProvider({ url: proc.url, doc: 'doc:react', ydoc: other, token: await token('bob'), WebSocketPolyfill: WebSocket });
    try {
      await new Promise<void>((resolve) => provider.once('sync', () => resolve()));
      other.getText('t').insert(0, 'typed elsewhere');
      await textOf(container, (t) => t === 'synced:typed elsewhere', 'the remote edit');
      const seen = new Promise<void>((resolve) => other.on('update', () => { if (other.getText('t').toString().endsWith('!')) resolve(); }));
      const mine = editorDocs.at(-1);
      assert.ok(mine, 'the hook rendered a document');
      await act(async () => { mine.getText('t').insert('typed elsewhere'.length, '!'); });
      await textOf(container, (t) => t === 'synced:typed elsewhere!', 'the local edit rendered');
      await seen;
    } finally {
      provider.destroy();
      await act(async () => root.unmount());
    }
  });
});

