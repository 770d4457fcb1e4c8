/**
 * The demo room page: a shared CodeMirror document (Yjs over `/yjs/:doc`), chat with presence and
 * a typing indicator (room bus), live pointers (WebRTC DataChannels, falling back to the bus), an
 * announcement ticker (SSE), a version panel (docs HTTP API) and a connection badge.
 *
 * URL parameters: `?room=<name>` (default `lobby`), `?name=<display name>`.
 */
import { AqueductClient } from '@aqueduct/client';
import { msgpackCodec } from '@aqueduct/client/msgpack';
import { IndexedDbStore, offlineStorage } from '@aqueduct/client/offline';
import { AnnouncementTicker } from './announcements.js';
import { ChatPanel } from './chat-panel.js';
import { ConnectionBadge } from './connection-badge.js';
import { byId } from './dom.js';
import { EditorPanel } from './editor-panel.js';
import { DemoTokens } from './identity.js';
import { createPointerChannel } from './pointer-transport.js';
import { OnlineOnlyWebSocket, roomSlugFromUrl } from './page-params.js';
import { PointerLayer } from './pointer-layer.js';
import { VersionsPanel } from './versions-panel.js';



async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const roomSlug = roomSlugFromUrl(params, 'lobby');
  const roomName = `demo:${roomSlug}`;
  const docName = `demo:${roomSlug}:doc`;
  const status = byId('page-status');
  byId('room-name').textContent = roomSlug;

  const tokens = new DemoTokens();
  const wanted = params.get('name')?.trim();
  registerServiceWorker();
  let identity;
  try {
    // Offline (a reload without network): this tab's saved identity; the SDK fetches a token later.
    const cached = navigator.onLine ? undefined : tokens.cached();
    identity = cached ?? await tokens.fetch(wanted || undefined);
  } catch (err) {
    status.textContent = `Could not get a demo token: ${(err as Error).message}`;
    return;
  }
  const me = () => ({ name: tokens.identity?.name ?? identity.name, color: tokens.identity?.color ?? identity.color });
  const youNode = byId('you');
  youNode.textContent = identity.name;
  youNode.style.setProperty('--me-color', identity.color);

  // The outbox, room positions and SSE positions live in IndexedDB, per user: a reload (also
  // offline) keeps queued messages, and the tabs of one user share one outbox.
  const offline = offlineStorage({ store: new IndexedDbStore({ name: 'aqueduct-demo' }), name: identity.user });
  const client = new AqueductClient({ url: location.origin, token: () => tokens.token(), codec: msgpackCodec, WebSocket: OnlineOnlyWebSocket, offline });
  const badge = new ConnectionBadge(byId('connection-badge'), client);
  // The browser knows first when the network is gone: drop the socket rather than wait for the
  // heartbeat to time out, and reconnect at once when the network is back.
  window.addEventListener('offline', () => { if (client.state === 'connected') client.reconnectNow(); });
  window.addEventListener('online', () => { if (client.state !== 'connected' && client.state !== 'closed') client.connect(); });

  const room = client.room(roomName, { history: 50 });
  const chat = new ChatPanel({
    log: byId('chat-log'),
    outbox: byId('chat-outbox'),
    form: byId<HTMLFormElement>('chat-form'),
    input: byId<HTMLInputElement>('chat-input'),
    typing: byId('typing'),
    presence: byId('presence-list'),
    presenceCount: byId('presence-count'),
  }, client, room, me, badge);

  const editor = new EditorPanel({
    parent: byId('editor'),
    doc: docName,
    token: () => tokens.token(),
    user: me(),
    onStatus(s, synced) {
      const node = byId('doc-status');
      node.dataset.state = s;
      node.dataset.synced = String(synced);
      node.textContent = s === 'connected' ? (synced ? 'synced' : 'syncing…') : s === 'connecting' ? 'connecting…' : 'offline · edits kept locally';
    },
  });
  // y-websocket would keep dialing while offline; pause it and reconnect when the network is back
  // (edits made meanwhile stay in the local Y.Doc and sync then).
  window.addEventListener('offline', () => editor.provider.disconnect());
  window.addEventListener('online', () => void editor.connect());

  const ticker = new AnnouncementTicker(byId('announcements'), byId('announcement-status'));
  let tickerStarted = false;
  const startTicker = (token: string) => { tickerStarted = true; ticker.start(token); };
  if (identity.token) startTicker(identity.token);
  else ticker.pause();
  window.addEventListener('offline', () => ticker.pause());
  window.addEventListener('online', () => {
    if (tickerStarted) ticker.resume();
    else void tokens.token().then(startTicker, () => undefined);
  });
  if (!navigator.onLine) ticker.pause();
  tokens.onToken((id) => {
    editor.setToken(id.token);
    ticker.setToken(id.token);
  });

  const versions = new VersionsPanel({
    list: byId('version-list'),
    form: byId<HTMLFormElement>('version-form'),
    label: byId<HTMLInputElement>('version-label'),
    status: byId('version-status'),
  }, docName, () => tokens.token());
  byId('versions-refresh').addEventListener('click', () => void versions.refresh());
  if (navigator.onLine) void versions.refresh();
  else window.addEventListener('online', () => void versions.refresh(), { once: true });

  const pointers = new PointerLayer(byId('workspace'), byId('pointer-layer'), byId('pointer-path'), createPointerChannel(client, room, `${roomName}:pointers`), me);
  room.on('presence', (members) => pointers.syncMembers(members));

  // For tests and the curious: the live objects of this page.
  Object.assign(window as object, { aqueduct: { client, room, editor, chat, badge, versions, tokens } });
  status.textContent = '';
}

/**
 * The service worker (`/sw.js`) keeps the page, its bundle and its CSS, so the page also loads
 * without network (network first, cache as the fallback). Secure contexts only (https, localhost).
 */
function registerServiceWorker(): void {
  // Offline, the registration there is used as it is (its update check would only fail).
  if (!('serviceWorker' in navigator) || !navigator.onLine) return;
  navigator.serviceWorker.register('/sw.js').catch((err: Error) => {
    byId('page-status').textContent = `Offline reload unavailable: ${err.message}`;
  });
}

void main();
