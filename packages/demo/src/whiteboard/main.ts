/**
 * The whiteboard page (`/whiteboard`): shapes, text and connectors in a Y.Doc synced over
 * `/yjs/:doc` (the SDK's `createDocProvider`, i.e. the stock y-websocket provider), with per-user
 * undo; live freehand strokes over the peer mesh's unordered, unreliable DataChannel (bus fallback),
 * each finished stroke committed to the document; replay frames stored as document versions with
 * a timeline to scrub through them; presence cursors from awareness.
 *
 * URL parameters: `?room=<name>` (default `lobby`), `?name=<display name>`, `?frameMs=<ms>`.
 */
import { AqueductClient } from '@aqueduct/client';
import { createDocProvider } from '@aqueduct/client/yjs';
import * as Y from 'yjs';
import { ConnectionBadge } from '../connection-badge.js';
import { byId } from '../dom.js';
import { DemoTokens } from '../identity.js';
import { OnlineOnlyWebSocket, roomSlugFromUrl } from '../page-params.js';
import { Board } from './board.js';
import { Cursors } from './cursors.js';
import { FRAME_INTERVAL_MS, FrameRecorder, Timeline, frameIndex, type FrameRef } from './frames.js';
import { LiveStrokes, renderStrokePath } from './live-strokes.js';
import { renderSelection, renderShapes } from './render.js';
import type { Shape } from './shapes.js';
import { StrokeChannel } from './stroke-channel.js';
import { TOOLS, Tools, type Tool } from './tools.js';



function frameMsFromUrl(params: URLSearchParams): number {
  const n = Number(params.get('frameMs'));
  return Number.isFinite(n) && n >= 1000 && n <= 60_000 ? n : FRAME_INTERVAL_MS;
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const slug = roomSlugFromUrl(params, 'lobby');
  const docName = `demo:wb-${slug}`;
  const status = byId('page-status');
  byId('room-name').textContent = `whiteboard · ${slug}`;

  const tokens = new DemoTokens();
  let identity;
  try {
    identity = await tokens.fetch(params.get('name')?.trim() || undefined);
  } catch (err) {
    status.textContent = `Could not get a demo token: ${(err as Error).message}`;
    return;
  }
  const you = byId('you');
  you.textContent = identity.name;
  you.style.setProperty('--me-color', identity.color);
  const token = () => tokens.token();

  // The document: shapes and the frame index, over /yjs with the stock provider.
  const ydoc = new Y.Doc();
  const provider = createDocProvider({ url: location.origin, doc: docName, ydoc, getToken: token, providerOptions: { disableBc: true, maxBackoffTime: 5000 } });
  const docStatus = byId('doc-status');
  const showDoc = (s: string) => {
    docStatus.dataset.state = s;
    docStatus.dataset.synced = String(provider.synced);
    docStatus.textContent = s === 'connected' ? (provider.synced ? 'board synced' : 'syncing…') : s === 'connecting' ? 'connecting…' : 'offline · edits kept locally';
  };
  provider.on('status', ({ status: s }: { status: string }) => showDoc(s));
  provider.on('sync', () => showDoc(provider.wsconnected ? 'connected' : 'disconnected'));
  const board = new Board(ydoc, () => identity.user);

  // The bus connection: the peer mesh (live strokes) and its fallback.
  const client = new AqueductClient({ url: location.origin, token, WebSocket: OnlineOnlyWebSocket });
  const badge = new ConnectionBadge(byId('connection-badge'), client);
  const strokes = new StrokeChannel(client, `demo:wb-${slug}:mesh`, `demo:wb-${slug}:bus`);
  strokes.onPaths((paths, refused) => renderStrokePath(byId('stroke-path'), paths, refused));

  const svg = byId('board') as unknown as SVGSVGElement;
  const layer = (id: string) => byId(id) as unknown as SVGGElement;
  const shapesLayer = layer('shapes-layer');
  const frameLayer = layer('frame-layer');
  const selectionLayer = layer('selection-layer');
  const live = new LiveStrokes(layer('live-layer'), (id) => board.shapes.has(id));
  strokes.onChunk((from, chunk, via) => live.receive(from, chunk, via));

  const cursors = new Cursors(provider.awareness, layer('cursor-layer'), byId('people'), { name: identity.name, color: identity.color, id: identity.user });
  const colorInput = byId<HTMLInputElement>('color');
  colorInput.value = identity.color;
  const textInput = byId<HTMLInputElement>('shape-text');
  let viewingFrame = false;

  const tools = new Tools({
    board,
    svg,
    preview: layer('preview-layer'),
    strokes,
    color: () => (/^#[0-9a-f]{6}$/i.test(colorInput.value) ? colorInput.value : identity.color),
    text: () => textInput.value,
    editable: () => !viewingFrame,
    selectionChanged: (id) => {
      const s = id ? board.get(id) : undefined;
      textInput.value = s && s.kind !== 'stroke' && s.kind !== 'connector' ? s.text : '';
      if (s && s.kind !== 'connector') colorInput.value = s.color;
      byId<HTMLButtonElement>('delete').disabled = !id;
      schedule();
    },
    pointer: (p) => cursors.move(p),
  });

  // Rendering: one redraw per animation frame, whatever changed.
  let frame = 0;
  function schedule(): void {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      const shapes = board.list();
      renderShapes(shapesLayer, shapes);
      if (tools.selected && !board.shapes.has(tools.selected)) tools.select(undefined);
      const sel = tools.selected ? shapes.find((s) => s.id === tools.selected) : undefined;
      renderSelection(selectionLayer, sel);
      if (sel) shapesLayer.querySelector(`[data-id="${sel.id}"]`)?.classList.add('selected');
      live.prune();
      svg.dataset.shapes = String(shapes.length);
      byId<HTMLButtonElement>('undo').disabled = board.undoManager.undoStack.length === 0;
      byId<HTMLButtonElement>('redo').disabled = board.undoManager.redoStack.length === 0;
    });
  }
  board.onChange(() => schedule());
  board.undoManager.on('stack-item-added', () => schedule());
  board.undoManager.on('stack-item-popped', () => schedule());
  schedule();

  // Toolbar.
  const toolButtons = [...document.querySelectorAll<HTMLButtonElement>('button[data-tool]')];
  const setTool = (tool: Tool) => {
    tools.setTool(tool);
    for (const b of toolButtons) b.setAttribute('aria-pressed', String(b.dataset.tool === tool));
  };
  for (const b of toolButtons) b.addEventListener('click', () => { if (TOOLS.includes(b.dataset.tool as Tool)) setTool(b.dataset.tool as Tool); });
  setTool('select');
  byId('undo').addEventListener('click', () => { if (!viewingFrame) board.undo(); });
  byId('redo').addEventListener('click', () => { if (!viewingFrame) board.redo(); });
  byId('delete').addEventListener('click', () => tools.deleteSelected());
  textInput.addEventListener('input', () => {
    const s = tools.selected ? board.get(tools.selected) : undefined;
    if (!s || s.kind === 'stroke' || s.kind === 'connector' || viewingFrame) return;
    const text = textInput.value;
    board.update(s.id, s.kind === 'text' ? { text, w: Math.max(40, text.length * (s.h * 0.38) + 8) } : { text });
  });
  colorInput.addEventListener('change', () => {
    if (tools.selected && !viewingFrame) {
      board.beginStep();
      board.update(tools.selected, { color: colorInput.value });
    }
  });

  // Frames and the timeline.
  const recorder = new FrameRecorder({
    board,
    awareness: provider.awareness,
    doc: docName,
    token,
    name: () => tokens.identity?.name ?? identity.name,
    online: () => navigator.onLine && provider.wsconnected && provider.synced,
    intervalMs: frameMsFromUrl(params),
  });
  provider.once('sync', () => recorder.start());
  const timeline = new Timeline(frameIndex(ydoc), {
    slider: byId<HTMLInputElement>('timeline'),
    label: byId('timeline-label'),
    replay: byId<HTMLButtonElement>('replay'),
  }, docName, token, (shapes: Shape[] | null, f?: FrameRef, index?: number) => {
    viewingFrame = shapes !== null;
    svg.dataset.view = viewingFrame ? 'frame' : 'live';
    svg.dataset.frame = index === undefined ? '' : String(index);
    if (viewingFrame) tools.select(undefined);
    renderShapes(frameLayer, shapes ?? []);
    frameLayer.dataset.version = f?.v ?? '';
  });

  tokens.onToken((id) => cursors.setUser({ name: id.name, color: id.color, id: id.user }));
  // Offline: drop both sockets at once and dial nothing; shape edits stay in the local document.
  window.addEventListener('offline', () => {
    provider.disconnect();
    if (client.state === 'connected') client.reconnectNow();
  });
  window.addEventListener('online', () => {
    provider.connect();
    if (client.state !== 'connected' && client.state !== 'closed') client.connect();
  });

  // For tests and the curious: the live objects of this page.
  Object.assign(window as object, { whiteboard: { client, provider, ydoc, board, tools, strokes, live, recorder, timeline, badge, stateBytes: () => Y.encodeStateAsUpdate(ydoc).length } });
  status.textContent = '';
}

void main();
