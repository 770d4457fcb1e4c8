/**
 * The admin dashboard: asks for the server API key (kept in sessionStorage, never in the page),
 * polls `GET /api/admin/stats` every second, and draws totals, per-node figures, rooms and charts.
 * Actions: post an announcement (HTTP publish to the room demo pages read over SSE), disconnect a
 * user from a room.
 */
import { AdminApiError, disconnectUser, fetchMembers, fetchStats, postAnnouncement, type NodeStats, type StatsResponse } from './admin-api.js';
import { ANNOUNCEMENT_ROOM } from './announcements.js';
import { byId, el } from './dom.js';
import { drawChart, formatNumber } from './sparkline.js';

const KEY = 'aqueduct.admin.key';
const POLL_MS = 1000;

let apiKey: string | null = sessionStorage.getItem(KEY);
let timer: ReturnType<typeof setTimeout> | undefined;
const pollBadge = byId('poll-badge');
const status = byId('admin-status');
const actionStatus = byId('action-status');

function setBadge(state: 'online' | 'reconnecting' | 'offline', text: string): void {
  pollBadge.dataset.state = state;
  pollBadge.textContent = text;
}

function useKey(key: string | null): void {
  apiKey = key;
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
  clearTimeout(timer);
  if (key) void poll();
  else setBadge('offline', 'No API key');
}

async function poll(): Promise<void> {
  const key = apiKey;
  if (!key) return;
  try {
    const stats = await fetchStats(key);
    if (key !== apiKey) return;
    render(stats);
    status.textContent = '';
    setBadge('online', `Live · ${new Date().toLocaleTimeString()}`);
  } catch (err) {
    if (err instanceof AdminApiError && (err.status === 401 || err.status === 403)) {
      status.textContent = `${err.code}: ${err.message}`;
      setBadge('offline', 'Key rejected');
      return; // stop polling until a new key is entered
    }
    setBadge('reconnecting', 'Server unreachable, retrying…');
  }
  timer = setTimeout(() => void poll(), POLL_MS);
}

function total(nodes: NodeStats[], f: (n: NodeStats) => number): number {
  return nodes.reduce((sum, n) => sum + f(n), 0);
}

function text(id: string, value: number): void {
  byId(id).textContent = formatNumber(Math.round(value * 10) / 10);
}

function render(stats: StatsResponse): void {
  const nodes = stats.nodes;
  text('stat-connections', total(nodes, (n) => n.connectionsTotal));
  text('stat-rooms', total(nodes, (n) => n.roomCount));
  text('stat-in', total(nodes, (n) => n.messagesInPerSec));
  text('stat-out', total(nodes, (n) => n.messagesOutPerSec));
  text('stat-drops', total(nodes, (n) => n.drops));
  text('stat-slow', total(nodes, (n) => n.slowDisconnects));
  text('stat-docs', total(nodes, (n) => n.docsLoaded));
  text('stat-nodes', nodes.length);
  // SFU (README §Media (SFU)): summed over nodes; "Janus down" when a configured node lost it.
  text('stat-sfu-rooms', total(nodes, (n) => n.sfu?.rooms ?? 0));
  text('stat-sfu-pub', total(nodes, (n) => n.sfu?.publishers ?? 0));
  text('stat-sfu-sub', total(nodes, (n) => n.sfu?.subscribers ?? 0));
  const sfuNodes = nodes.filter((n) => n.sfu);
  byId('stat-sfu-up').textContent = sfuNodes.length === 0 ? '(not configured)' : sfuNodes.every((n) => n.sfu?.up) ? '' : '(Janus down)';

  const self = nodes[0];
  if (self) {
    drawChart(byId('chart-traffic') as unknown as SVGSVGElement, [
      { values: self.series.map((s) => s.inPerSec), className: 'series-in' },
      { values: self.series.map((s) => s.outPerSec), className: 'series-out' },
    ], '/s');
    drawChart(byId('chart-connections') as unknown as SVGSVGElement, [{ values: self.series.map((s) => s.connections), className: 'series-conn' }]);
  }

  const num = (v: number) => el('td', { class: 'num' }, formatNumber(Math.round(v * 10) / 10));
  byId('nodes-table').querySelector('tbody')?.replaceChildren(...nodes.map((n) => el('tr', { 'data-node': n.node },
    el('th', { scope: 'row' }, n.node + (n.node === stats.node ? ' (this)' : '')),
    num(n.connectionsTotal), num(n.roomCount), num(n.messagesInPerSec), num(n.messagesOutPerSec),
    num(n.drops), num(n.slowDisconnects), num(n.docsLoaded), el('td', { class: 'num' }, uptime(n.uptimeSec)))));

  const rows = nodes.flatMap((n) => n.rooms.map((r) => ({ ...r, node: n.node })));
  rows.sort((a, b) => b.subscribers - a.subscribers || a.room.localeCompare(b.room));
  byId('rooms-table').querySelector('tbody')?.replaceChildren(...(rows.length === 0
    ? [el('tr', {}, el('td', { colspan: 4, class: 'meta' }, 'No rooms with members.'))]
    : rows.map((r) => {
      const button = el('button', { type: 'button', class: 'link', 'aria-label': `Show members of ${r.room}` }, 'Members');
      button.addEventListener('click', () => void showMembers(r.room));
      return el('tr', { 'data-room': r.room }, el('td', {}, r.room), el('td', {}, r.node), num(r.subscribers), el('td', {}, button));
    })));
}

/** Lists a room's members (presence) with a Disconnect button each. */
async function showMembers(room: string): Promise<void> {
  if (!apiKey) return;
  byId('members-room').textContent = room;
  const tbody = byId('members-table').querySelector('tbody');
  try {
    const members = await fetchMembers(apiKey, room);
    tbody?.replaceChildren(...(members.length === 0
      ? [el('tr', {}, el('td', { colspan: 4, class: 'meta' }, 'Nobody with presence in this room.'))]
      : members.map((m) => {
        const name = typeof m.info?.name === 'string' ? m.info.name : '';
        const button = el('button', { type: 'button', class: 'danger', 'aria-label': `Disconnect ${name || m.user} from ${room}` }, 'Disconnect');
        button.addEventListener('click', () => disconnect(room, m.user));
        return el('tr', { 'data-user': m.user }, el('td', {}, name), el('td', {}, m.user), el('td', {}, m.client), el('td', {}, button));
      })));
  } catch (err) {
    actionStatus.textContent = `Could not list members: ${(err as Error).message}`;
  }
}

function disconnect(room: string, user: string): void {
  if (!apiKey) { actionStatus.textContent = 'Enter the API key first.'; return; }
  disconnectUser(apiKey, room, user).then(
    () => {
      actionStatus.textContent = `Disconnected ${user} from ${room}.`;
      if (byId('members-room').textContent === room) setTimeout(() => void showMembers(room), 500);
    },
    (err: Error) => { actionStatus.textContent = `Could not disconnect: ${err.message}`; },
  );
}

function uptime(sec: number): string {
  if (sec < 120) return `${sec} s`;
  if (sec < 7200) return `${Math.round(sec / 60)} min`;
  return `${(sec / 3600).toFixed(1)} h`;
}

byId<HTMLFormElement>('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = byId<HTMLInputElement>('api-key');
  const key = input.value.trim();
  input.value = '';
  if (key) useKey(key);
});
byId('forget-key').addEventListener('click', () => useKey(null));

byId<HTMLFormElement>('announce-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = byId<HTMLInputElement>('announce-text');
  const value = input.value.trim();
  if (!apiKey) { actionStatus.textContent = 'Enter the API key first.'; return; }
  if (!value) return;
  postAnnouncement(apiKey, ANNOUNCEMENT_ROOM, value).then(
    () => { input.value = ''; actionStatus.textContent = `Announcement posted to ${ANNOUNCEMENT_ROOM}.`; },
    (err: Error) => { actionStatus.textContent = `Could not post: ${err.message}`; },
  );
});

byId<HTMLFormElement>('disconnect-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  disconnect(byId<HTMLInputElement>('disconnect-room').value.trim(), byId<HTMLInputElement>('disconnect-user').value.trim());
});

useKey(apiKey);
