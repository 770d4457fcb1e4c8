import type { AqueductClient, Room, RoomMessage } from '@aqueduct/client';
import { clock, el, safeColor } from '../dom.js';
import type { ConnectionBadge } from '../connection-badge.js';
import type { DanmakuLayer } from './danmaku-layer.js';
import type { LiveLog } from './live-log.js';

/** A chat line as published in `demo:live-<slug>` (event `chat`, stored: history and recovery). */
export interface LiveChat { text: string; name: string; color: string; nonce: string; at: number }

/** Longest chat line accepted by the form. */
export const MAX_LIVE_CHAT_CHARS = 200;
/** Chat lines kept in the DOM; older ones are removed. */
const MAX_LINES = 300;

function isLiveChat(d: unknown): d is LiveChat {
  const c = d as Partial<LiveChat> | null;
  return !!c && typeof c.text === 'string' && typeof c.name === 'string' && typeof c.nonce === 'string' && typeof c.at === 'number';
}

const nonce = (): string => Math.random().toString(36).slice(2, 12);

export interface ChatStreamNodes { log: HTMLElement; form: HTMLFormElement; input: HTMLInputElement }

/**
 * The live chat: reliable publications on the room bus (each delivered once, in room order, and
 * recovered after a reconnect), listed beside the stage and flown across it as danmaku. What the
 * room delivers before the first `joined` event is its recent history (the room is opened with
 * `history`): a late viewer sees it in the list, but it does not fly.
 */
export class ChatStream {
  private joinedOnce = false;

  constructor(
    private readonly nodes: ChatStreamNodes,
    private readonly client: AqueductClient,
    private readonly room: Room,
    private readonly me: () => { name: string; color: string },
    private readonly danmaku: DanmakuLayer,
    private readonly log: LiveLog,
    private readonly badge: ConnectionBadge,
  ) {
    room.on('message', (m) => this.onMessage(m));
    room.on('joined', () => { this.joinedOnce = true; });
    room.on('reset', () => this.system('Some chat could not be recovered; showing what arrives from now on.'));
    room.on('error', (err) => this.system(`Chat error: ${err.message}`));
    nodes.input.maxLength = MAX_LIVE_CHAT_CHARS;
    nodes.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = nodes.input.value.trim();
      if (!text) return;
      nodes.input.value = '';
      void this.send(text).catch((err: Error) => this.system(`Not sent: ${err.message}`));
    });
  }

  /** Publishes a chat line (queued by the SDK while offline); resolves with its room offset. */
  async send(text: string): Promise<number> {
    const { name, color } = this.me();
    const data: LiveChat = { text: text.slice(0, MAX_LIVE_CHAT_CHARS), name, color, nonce: nonce(), at: Date.now() };
    const done = this.room.publish(data, { event: 'chat' });
    this.badge.render();
    try {
      const pos = await done;
      if (pos.offset === undefined) throw new Error('the server stored no position for the chat line');
      return pos.offset;
    } finally {
      this.badge.render();
    }
  }

  private onMessage(m: RoomMessage): void {
    if (m.event !== 'chat' || m.volatile || !isLiveChat(m.data) || m.offset === undefined) return;
    const d = m.data;
    const history = !this.joinedOnce;
    this.log.add(this.log.chat, { offset: m.offset, nonce: d.nonce, text: d.text, user: m.from?.user, history });
    const who = el('span', { class: 'who', style: `color:${safeColor(d.color)}` }, d.name);
    const line = el('li', { class: history ? 'chat-line history' : 'chat-line', 'data-offset': m.offset, 'data-nonce': d.nonce },
      who, ' ', el('span', { class: 'text' }, d.text), ' ', el('span', { class: 'meta' }, clock(d.at)));
    const log = this.nodes.log;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.append(line);
    while (log.childElementCount > MAX_LINES) log.firstElementChild?.remove();
    if (atBottom) log.scrollTop = log.scrollHeight;
    if (!history) this.danmaku.fly(d.text, d.color, m.from?.client === this.client.clientId);
  }

  private system(text: string): void {
    this.nodes.log.append(el('li', { class: 'chat-line system' }, text));
  }
}
