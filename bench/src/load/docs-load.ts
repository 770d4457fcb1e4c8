import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { LatencyHistogram } from '../measure.js';
import type { DocServerName, LoadJob } from '../types.js';
import { sync } from './ipc.js';
import { nowMicros } from './payload.js';
import { makeHistory } from './history.js';

process.setMaxListeners(0); // each stock provider adds an exit listener

type DocsJob = Extract<LoadJob, { kind: 'docs' }>;
type ColdJob = Extract<LoadJob, { kind: 'coldload' }>;

/** A stock provider (y-websocket's or Hocuspocus's) bound to one Y.Doc. */
interface DocClient {
  doc: Y.Doc;
  synced: Promise<void>;
  destroy(): void;
}

const DOC = 'bench:doc';

async function token(secret: string | undefined, sub: string): Promise<string> {
  if (!secret) return '';
  return new SignJWT({ rooms: { 'bench:*': ['sub', 'pub'] } })
    .setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('2h')
    .sign(new TextEncoder().encode(secret));
}

/**
 * Connects the stock client of each server: `y-websocket`'s WebsocketProvider for Aqueduct
 * (`/yjs/<doc>?token=`) and y-websocket's server, HocuspocusProvider for Hocuspocus.
 */
async function connectClient(server: DocServerName, port: number, name: string, secret: string | undefined, sub: string): Promise<DocClient> {
  const doc = new Y.Doc();
  if (server === 'hocuspocus') {
    const socket = new HocuspocusProviderWebsocket({ url: `ws://127.0.0.1:${port}`, WebSocketPolyfill: WebSocket });
    let resolve!: () => void;
    const synced = new Promise<void>((r) => { resolve = r; });
    const provider = new HocuspocusProvider({ websocketProvider: socket, name, document: doc, token: 'bench', onSynced: () => resolve() });
    provider.attach();
    return { doc, synced, destroy: () => { provider.destroy(); socket.destroy(); } };
  }
  const base = server === 'aqueduct' ? `ws://127.0.0.1:${port}/yjs` : `ws://127.0.0.1:${port}`;
  const params: Record<string, string> = server === 'aqueduct' ? { token: await token(secret, sub) } : {};
  const provider = new WebsocketProvider(base, name, doc, { WebSocketPolyfill: WebSocket as never, params, disableBc: true });
  const synced = new Promise<void>((resolve) => {
    if (provider.synced) resolve();
    else provider.once('sync', (s: boolean) => { if (s) resolve(); });
  });
  return { doc, synced, destroy: () => provider.destroy() };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e as Error); });
  });
}

/**
 * Documents: `clients` stock providers editing one document. Each edit inserts into a shared
 * Y.Text and stamps the sender's send time into a Y.Map in the same transaction (one update);
 * every other client records the latency when the stamp arrives.
 */
export async function runDocs(job: DocsJob): Promise<Record<string, unknown>> {
  const clients: DocClient[] = [];
  for (let i = 0; i < job.clients; i++) clients.push(await connectClient(job.server, job.port, DOC, job.jwtSecret, `editor-${i}`));
  await withTimeout(Promise.all(clients.map((c) => c.synced)), 30_000, 'initial sync');
  const latency = new LatencyHistogram(60_000);
  let measuring = false;
  let received = 0;
  clients.forEach((c) => {
    c.doc.getMap<string>('stamps').observe((ev) => {
      if (ev.transaction.local) return;
      const now = nowMicros();
      for (const key of ev.keysChanged) {
        received++;
        if (measuring) latency.record((now - Number(ev.target.get(key))) / 1000);
      }
    });
  });
  let updates = 0;
  let inWindow = 0;
  const intervalMs = 1000 / job.updatesPerSecPerClient;
  // Spread the clients' edits evenly over the interval.
  const timers = clients.map((c, i) => {
    const text = c.doc.getText('text');
    const stamps = c.doc.getMap<string>('stamps');
    const edit = () => {
      c.doc.transact(() => {
        text.insert(Math.floor(Math.random() * (text.length + 1)), 'ab');
        stamps.set(`c${i}`, String(nowMicros()));
      });
      updates++;
      if (measuring) inWindow++;
    };
    let timer: NodeJS.Timeout | undefined;
    const start = setTimeout(() => { edit(); timer = setInterval(edit, intervalMs); }, (intervalMs * i) / job.clients);
    return () => { clearTimeout(start); clearInterval(timer); };
  });
  await new Promise((r) => setTimeout(r, job.warmupMs));
  await sync('window-start');
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, job.measureMs));
  measuring = false;
  const windowSec = (performance.now() - t0) / 1000;
  await sync('window-end');
  for (const stop of timers) stop();
  // Every stamp reaches every other client (stamps of one sender may be merged by a later one
  // only if they arrive together, which the key count below tolerates), and the texts converge.
  const expectedText = () => clients[0].doc.getText('text').length;
  const converged = () => clients.every((c) => c.doc.getText('text').length === updates * 2) && expectedText() === updates * 2;
  const deadline = Date.now() + job.drainMs;
  while (!converged() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const result = {
    clients: job.clients,
    updates,
    updatesInWindow: inWindow,
    windowSec,
    stampsReceived: received,
    stampsExpected: updates * (job.clients - 1),
    converged: converged(),
    latency: latency.summary(),
  };
  for (const c of clients) c.destroy();
  return result;
}

/**
 * Cold load: a fresh client opens a document whose history is `updates` updates and waits for
 * sync. With `seed`, a first client first writes the history through the server (and stays
 * connected, as the peers keep documents only while someone is connected).
 */
export async function runColdLoad(job: ColdJob): Promise<Record<string, unknown>> {
  let seeder: DocClient | undefined;
  let seedSec = 0;
  if (job.seed) {
    const t0 = performance.now();
    seeder = await connectClient(job.server, job.port, DOC, job.jwtSecret, 'seeder');
    await withTimeout(seeder.synced, 30_000, 'seeder sync');
    // Apply the history update by update: the provider sends each as its own message.
    for (const u of makeHistory(job.updates)) Y.applyUpdate(seeder.doc, u);
    // The server has everything once a second client sees the full text.
    const probe = await connectClient(job.server, job.port, DOC, job.jwtSecret, 'probe');
    const deadline = Date.now() + 240_000;
    await probe.synced;
    while (probe.doc.getText('text').length < job.updates && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    probe.destroy();
    seedSec = (performance.now() - t0) / 1000;
  }
  await sync('load-start');
  const t0 = performance.now();
  const fresh = await connectClient(job.server, job.port, DOC, job.jwtSecret, 'reader');
  await withTimeout(fresh.synced, 120_000, 'cold load');
  const loadMs = performance.now() - t0;
  await sync('load-end');
  const length = fresh.doc.getText('text').length;
  const stateBytes = Y.encodeStateAsUpdate(fresh.doc).length;
  fresh.destroy();
  seeder?.destroy();
  return { updates: job.updates, seeded: job.seed, seedSec, loadMs, textLength: length, complete: length === job.updates, stateBytes };
}
