import type { AqueductClient, Member, OutboxDrop, OutboxEntry, Room, RoomMessage } from '@aqueduct/client';
import { ChatCache } from './chat-cache.js';
import { clock, el, safeColor } from './dom.js';
import type { ConnectionBadge } from './connection-badge.js';

/** A chat message as published in `demo:<room>` (event `chat`). */
export interface ChatData { text: string; name: string; color: string; nonce: string; at: number }

/** Largest chat message accepted by the form (the server's frame limit is far above it). */
export const MAX_CHAT_CHARS = 500;
/** Chat lines kept in the DOM; older ones are removed. */
const MAX_LINES = 200;
const TYPING_SEND_EVERY_MS = 1500;
const TYPING_SHOW_MS = 3500;

function isChatData(d: unknown): d is ChatData {
  const c = d as Partial<ChatData> | null;
  return !!c && typeof c.text === 'string' && typeof c.name === 'string' && typeof c.nonce === 'string';
}

const nonce = (): string => Math.random().toString(36).slice(2, 12);

export interface ChatPanelNodes {
  log: HTMLElement;
  outbox: HTMLElement;
  form: HTMLFormElement;
  input: HTMLInputElement;
  typing: HTMLElement;
  presence: HTMLElement;
  presenceCount: HTMLElement;
}

/**
 * Chat, presence and typing indicator on one room of the bus. Messages are stored publications
 * (history on join, recovered after reconnects, each shown once); typing is volatile. A message
 * sent while offline waits in the outbox (the SDK's queue, kept in IndexedDB across reloads) and
 * moves to the log when the server delivers it. The last lines are cached (`ChatCache`) so a reload
 * shows them at once, offline too; the SDK resumes the room after its saved position.
 */
export class ChatPanel {
  private readonly outbox = new Map<string, HTMLElement>();
  private readonly typingUntil = new Map<string, { name: string; until: number }>();
  private lastTypingSent = 0;
  private typingTimer?: ReturnType<typeof setInterval>;
  private readonly cache: ChatCache;

  constructor(
    private readonly nodes: ChatPanelNodes,
    private readonly client: AqueductClient,
    private readonly room: Room,
    private readonly me: () => { name: string; color: string },
    private readonly badge: ConnectionBadge,
  ) {
    this.cache = new ChatCache(`aqueduct.demo.chat:${room.name}`);
    for (const line of this.cache.load()) {
      if (isChatData(line.data)) nodes.log.append(this.line(line.data, false, line.user));
    }
    room.on('message', (m) => this.onMessage(m));
    room.on('presence', (members) => this.renderPresence(members));
    room.on('reset', () => {
      this.cache.clear();
      this.system('Some messages could not be recovered; showing what arrives from now on.');
    });
    // Messages queued before a reload (restored from IndexedDB, or taken over from a closed tab).
    client.on('outboxrestore', (entries) => this.showQueued(entries));
    void client.restored.then(() => this.showQueued(client.pendingPublishes()));
    client.on('outboxdrop', (d) => this.dropped(d));
    room.on('error', (err) => this.system(`Chat error: ${err.message}`));
    nodes.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.send();
    });
    nodes.input.maxLength = MAX_CHAT_CHARS;
    nodes.input.addEventListener('input', () => this.typed());
    this.typingTimer = setInterval(() => this.renderTyping(), 1000);
  }

  private send(): void {
    const text = this.nodes.input.value.trim();
    if (!text) return;
    this.nodes.input.value = '';
    const { name, color } = this.me();
    const data: ChatData = { text: text.slice(0, MAX_CHAT_CHARS), name, color, nonce: nonce(), at: Date.now() };
    const pending = this.line(data, true);
    this.outbox.set(data.nonce, pending);
    this.nodes.outbox.append(pending);
    this.lastTypingSent = 0;
    this.room.publishVolatile({ typing: false, name }, { event: 'typing' });
    const done = this.room.publish(data, { event: 'chat' });
    this.badge.render();
    done.then(
      () => this.settle(data.nonce),
      (err: Error & { code?: string }) => {
        // Entries that left the outbox are reported by `outboxdrop` (restored ones have no promise).
        if (err.code !== 'DROPPED' && !this.client.pendingPublishes().some((e) => (e.data as Partial<ChatData>)?.nonce === data.nonce)) this.fail(data.nonce, err.message);
      },
    ).finally(() => this.badge.render());
  }

  private showQueued(entries: OutboxEntry[]): void {
    for (const e of entries) {
      if (e.room !== this.room.name || e.event !== 'chat' || !isChatData(e.data) || this.outbox.has(e.data.nonce)) continue;
      const pending = this.line(e.data, true);
      this.outbox.set(e.data.nonce, pending);
      this.nodes.outbox.append(pending);
    }
    this.badge.render();
  }

  private dropped(d: OutboxDrop): void {
    if (d.room === this.room.name && isChatData(d.data)) this.fail(d.data.nonce, d.error?.message ?? d.reason);
    this.badge.render();
  }

  private fail(n: string, why: string): void {
    const pending = this.outbox.get(n);
    if (!pending || pending.classList.contains('failed')) return;
    pending.classList.add('failed');
    pending.querySelector('.meta')?.append(` · not sent: ${why}`);
  }

  private settle(n: string): void {
    this.outbox.get(n)?.remove();
    this.outbox.delete(n);
  }

  private typed(): void {
    const now = Date.now();
    if (now - this.lastTypingSent < TYPING_SEND_EVERY_MS) return;
    this.lastTypingSent = now;
    this.room.publishVolatile({ typing: true, name: this.me().name }, { event: 'typing' });
  }

  private onMessage(m: RoomMessage): void {
    if (m.event === 'typing') {
      const d = m.data as { typing?: unknown; name?: unknown } | null;
      if (!m.from || m.from.client === this.client.clientId || typeof d?.name !== 'string') return;
      if (d.typing === true) this.typingUntil.set(m.from.client, { name: d.name, until: Date.now() + TYPING_SHOW_MS });
      else this.typingUntil.delete(m.from.client);
      this.renderTyping();
      return;
    }
    if (m.event !== 'chat' || !isChatData(m.data)) return;
    // Shown already: cached before a reload and delivered again after the restored position.
    if (m.epoch !== undefined && m.offset !== undefined && !this.cache.add(m.data, m.from, m.epoch, m.offset)) return;
    if (m.from) this.typingUntil.delete(m.from.client);
    this.settle(m.data.nonce);
    this.nodes.log.append(this.line(m.data, false, m.from?.user));
    while (this.nodes.log.childElementCount > MAX_LINES) this.nodes.log.firstElementChild?.remove();
    this.nodes.log.scrollTop = this.nodes.log.scrollHeight;
    this.renderTyping();
  }

  private line(d: ChatData, pending: boolean, user?: string): HTMLElement {
    const who = el('span', { class: 'who', style: `color:${safeColor(d.color)}` }, d.name);
    const meta = el('span', { class: 'meta' }, pending ? 'queued' : clock(d.at));
    const li = el('li', { class: pending ? 'chat-line pending' : 'chat-line', 'data-nonce': d.nonce, 'data-user': user }, who, ' ', el('span', { class: 'text' }, d.text), ' ', meta);
    return li;
  }

  private system(text: string): void {
    this.nodes.log.append(el('li', { class: 'chat-line system' }, text));
  }

  private renderTyping(): void {
    const now = Date.now();
    const names: string[] = [];
    for (const [client, t] of this.typingUntil) {
      if (t.until < now) this.typingUntil.delete(client);
      else if (!names.includes(t.name)) names.push(t.name);
    }
    const text = names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, 3).join(', ')} are typing…`;
    if (this.nodes.typing.textContent !== text) this.nodes.typing.textContent = text;
  }

  private renderPresence(members: Member[]): void {
    const byUser = new Map<string, Member & { tabs: number }>();
    for (const m of members) {
      const prev = byUser.get(m.user);
      byUser.set(m.user, { ...m, tabs: (prev?.tabs ?? 0) + 1 });
    }
    const me = this.client.userId;
    const items = [...byUser.values()].sort((a, b) => (a.user === me ? -1 : b.user === me ? 1 : 0) || String(a.info?.name).localeCompare(String(b.info?.name)));
    this.nodes.presence.replaceChildren(...items.map((m) => {
      const name = typeof m.info?.name === 'string' ? m.info.name : m.user;
      return el('li', { 'data-user': m.user },
        el('span', { class: 'dot', style: `background:${safeColor(m.info?.color)}`, 'aria-hidden': 'true' }),
        name + (m.user === me ? ' (you)' : '') + (m.tabs > 1 ? ` ×${m.tabs}` : ''));
    }));
    this.nodes.presenceCount.textContent = String(items.length);
  }

  dispose(): void {
    clearInterval(this.typingTimer);
  }
}
