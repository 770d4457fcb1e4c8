/**
 * The live-stream room page (`/live`): a host and co-hosts on video through the SFU, everyone else
 * watching; chat flying across the video as danmaku (reliable publications on the room bus, with
 * history for late viewers), reactions (volatile publications), and a leaderboard with a stock
 * counter pushed over Server-Sent Events from the HTTP publish API (`scripts/live-feed.mjs`).
 *
 * URL parameters: `?role=host|cohost|viewer` (default `viewer`), `?room=<slug>` (default `main`;
 * bus and media room `demo:live-<slug>`, leaderboard room `demo:live-<slug>:board`), `?name=`.
 */
import { AqueductClient } from '@aqueduct/client';
import { msgpackCodec } from '@aqueduct/client/msgpack';
import { ConnectionBadge } from '../connection-badge.js';
import { byId } from '../dom.js';
import { DemoTokens } from '../identity.js';
import { roomSlugFromUrl } from '../page-params.js';
import { ChatStream } from './chat-stream.js';
import { DanmakuLayer } from './danmaku-layer.js';
import { Leaderboard } from './leaderboard.js';
import { LiveLog } from './live-log.js';
import { Reactions } from './reactions.js';
import { createStageMedia } from './stage-media.js';
import { Stage } from './stage.js';

type Role = 'host' | 'cohost' | 'viewer';
/** Chat lines a joining viewer gets from the room's history. */
export const CHAT_HISTORY = 50;

function roleFromUrl(params: URLSearchParams): Role {
  const r = params.get('role');
  return r === 'host' || r === 'cohost' ? r : 'viewer';
}


async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const role = roleFromUrl(params);
  const slug = roomSlugFromUrl(params, 'main');
  const roomName = `demo:live-${slug}`;
  const boardRoom = `${roomName}:board`;
  const status = byId('page-status');
  byId('room-name').textContent = slug;
  byId('role-badge').textContent = role;

  const tokens = new DemoTokens({ role });
  let identity;
  try {
    identity = await tokens.fetch(params.get('name')?.trim() || undefined);
  } catch (err) {
    status.textContent = `Could not get a demo token: ${(err as Error).message}`;
    return;
  }
  const me = () => ({ name: tokens.identity?.name ?? identity.name, color: tokens.identity?.color ?? identity.color });
  const you = byId('you');
  you.textContent = identity.name;
  you.style.setProperty('--me-color', identity.color);

  const log = new LiveLog();
  const client = new AqueductClient({ url: location.origin, token: () => tokens.token(), codec: msgpackCodec });
  const badge = new ConnectionBadge(byId('connection-badge'), client);
  window.addEventListener('offline', () => { if (client.state === 'connected') client.reconnectNow(); });
  window.addEventListener('online', () => { if (client.state !== 'connected' && client.state !== 'closed') client.connect(); });

  const room = client.room(roomName, { history: CHAT_HISTORY });
  const danmaku = new DanmakuLayer(byId('danmaku-layer'));
  const danmakuOn = byId<HTMLInputElement>('danmaku-on');
  danmakuOn.addEventListener('change', () => danmaku.setEnabled(danmakuOn.checked));
  const chat = new ChatStream({ log: byId('chat-log'), form: byId<HTMLFormElement>('chat-form'), input: byId<HTMLInputElement>('chat-input') }, client, room, me, danmaku, log, badge);
  const reactions = new Reactions(client, room, byId('reaction-layer'), byId('reaction-count'), log, document.querySelectorAll<HTMLButtonElement>('button.reaction'));

  const board = new Leaderboard({ list: byId('board-list'), stock: byId('stock-count'), stockLabel: byId('stock-label'), status: byId('board-status') }, boardRoom, log);
  void board.start(identity.token);
  window.addEventListener('offline', () => board.pause());
  window.addEventListener('online', () => void tokens.token().then((t) => board.resume(t)));
  tokens.onToken((id) => board.setToken(id.token));

  const media = createStageMedia(client, roomName);
  const stage = new Stage({ tiles: byId('stage-tiles'), badge: byId('media-badge'), status, sound: byId<HTMLButtonElement>('sound') }, media, identity.user);
  const viewerCount = byId('viewer-count');
  room.on('presence', (members) => {
    stage.setMembers(members);
    const users = new Set(members.map((m) => m.user)).size;
    viewerCount.textContent = `${users} here`;
  });
  const publishing = role !== 'viewer';
  if (publishing) {
    byId('host-controls').hidden = false;
    for (const kind of ['video', 'audio'] as const) {
      const button = byId<HTMLButtonElement>(kind === 'video' ? 'mute-video' : 'mute-audio');
      button.addEventListener('click', () => {
        const muted = button.getAttribute('aria-pressed') !== 'true';
        button.setAttribute('aria-pressed', String(muted));
        stage.mute(kind, muted);
      });
    }
  }
  window.addEventListener('pagehide', () => void stage.leave());
  // Media requests travel on the bus: start once the bus is up and the room joined.
  void room.ready().then(() => stage.start(publishing)).catch((err: Error) => { status.textContent = `Video: ${err.message}`; });

  // For tests and the curious: the live objects of this page.
  Object.assign(window as object, { live: { client, room, media, chat, reactions, board, stage, log, tokens, role } });
}

void main();
