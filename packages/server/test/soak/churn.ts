/**
 * The churn soak: for a fixed time, publishers publish through a ChaosProxy that cuts connections
 * at random; persistent subscribers (through the proxy) and a slow reader (paused for seconds at a
 * time, so the server closes it as slow and it recovers from history) must end up with every acknowledged
 * publication; short-lived clients connect, join, publish and leave in a loop; y-websocket editors
 * (through the proxy) edit one document, and at the end every editor and the server's stored copy
 * must hold the same content.
 */
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { AqueductClient, type WebSocketConstructor } from '@aqueduct/client';
import { msgpackCodec } from '@aqueduct/client/msgpack';
import { ChaosProxy } from '@aqueduct/testkit';

export interface ChurnOptions {
  /** Server base URL (direct) and port. */
  url: string;
  port: number;
  seconds: number;
  apiKey: string;
  token(sub: string): Promise<string>;
  log(line: string): void;
  /** The server's memory now (RSS, heap floor), for the progress lines. */
  memory?(): string;
}

export interface ChurnCounts {
  acked: number;
  /** Acknowledged publications some subscriber never received (and was not told about with `reset`). */
  lost: number;
  /** `reset` events (a subscriber told plainly that it missed something): 0 expected with the memory broker. */
  resets: number;
  delivered: number;
  churnConnections: number;
  cuts: number;
  slowDisconnects: number;
  docEdits: number;
  docsCorrupted: number;
  docsChecked: number;
}

const ROOMS = ['soak:r0', 'soak:r1', 'soak:r2'];
const PAD = 'p'.repeat(1500);

function recordingWs(sockets: WebSocket[], deflate: boolean): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { perMessageDeflate: deflate });
      sockets.push(this);
    }
  } as unknown as WebSocketConstructor;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];

async function until(p: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!p()) {
    if (Date.now() > end) return false;
    await sleep(50);
  }
  return true;
}

export async function churnSoak(o: ChurnOptions): Promise<ChurnCounts> {
  const proxy = new ChaosProxy({ targetPort: o.port });
  const proxyUrl = `http://127.0.0.1:${await proxy.listen()}`;
  const counts: ChurnCounts = { acked: 0, lost: 0, resets: 0, delivered: 0, churnConnections: 0, cuts: 0, slowDisconnects: 0, docEdits: 0, docsCorrupted: 0, docsChecked: 0 };
  const acked = new Map<string, Set<string>>(ROOMS.map((r) => [r, new Set()]));
  const opts = { reconnect: { minDelayMs: 20, maxDelayMs: 500 } };

  // Persistent subscribers (JSON and MessagePack, with and without compression) and one slow reader.
  interface Sub { name: string; client: AqueductClient; got: Map<string, Set<string>> }
  const subs: Sub[] = [];
  const slowSockets: WebSocket[] = [];
  for (let i = 0; i < 5; i++) {
    const slow = i === 4;
    const client = new AqueductClient({
      url: slow ? o.url : proxyUrl, token: () => o.token(`sub-${i}`), codec: i % 2 ? msgpackCodec : 'json',
      // The slow reader never compresses: compressed, the stream is too small to fill the socket buffers.
      WebSocket: recordingWs(slow ? slowSockets : [], !slow && i % 3 !== 0), ...opts,
    });
    const got = new Map<string, Set<string>>(ROOMS.map((r) => [r, new Set()]));
    if (slow) client.on('disconnected', (d) => { if (d.code === 4001) counts.slowDisconnects++; });
    for (const r of ROOMS) {
      const room = client.room(r);
      room.on('message', (m) => { got.get(r)!.add((m.data as { id: string }).id); counts.delivered++; });
      room.on('reset', () => { counts.resets++; });
    }
    await Promise.all(ROOMS.map((r) => client.room(r).ready()));
    subs.push({ name: slow ? 'slow reader' : `subscriber ${i}`, client, got });
  }

  // Editors of one document, through the proxy.
  const docName = 'soak:doc-0';
  const yjsUrl = proxyUrl.replace('http', 'ws') + '/yjs';
  const editorToken = await o.token('editor');
  const editors = Array.from({ length: 3 }, () => {
    const ydoc = new Y.Doc();
    const p = new WebsocketProvider(yjsUrl, docName, ydoc, { params: { token: editorToken }, disableBc: true, maxBackoffTime: 500, WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket });
    return { ydoc, p };
  });
  await until(() => editors.every((e) => e.p.synced), 30_000);

  let running = true;
  const tasks: Array<Promise<void>> = [];

  // Publishers: a few publishes in flight each; every ack is recorded.
  for (let p = 0; p < 2; p++) {
    tasks.push((async () => {
      const client = new AqueductClient({ url: proxyUrl, token: () => o.token(`pub-${p}`), codec: p ? msgpackCodec : 'json', WebSocket: recordingWs([], p === 0), ...opts });
      let n = 0;
      const inflight = new Set<Promise<void>>();
      while (running) {
        const room = pick(ROOMS);
        const id = `p${p}-${n++}`;
        const pr = client.room(room).publish({ id, pad: PAD.slice(0, Math.floor(Math.random() * PAD.length)) }).then(
          () => { acked.get(room)!.add(id); counts.acked++; },
          () => { /* not acknowledged (e.g. QUEUE_FULL): not counted */ },
        );
        inflight.add(pr);
        void pr.then(() => inflight.delete(pr));
        if (inflight.size >= 8) await Promise.race(inflight);
        await sleep(5);
      }
      await Promise.all(inflight);
      client.close();
    })());
  }

  // Short-lived clients: connect, join, publish, leave.
  for (let c = 0; c < 3; c++) {
    tasks.push((async () => {
      let k = 0;
      while (running) {
        const client = new AqueductClient({ url: Math.random() < 0.5 ? proxyUrl : o.url, token: () => o.token(`churn-${c}-${k}`), codec: Math.random() < 0.5 ? 'json' : msgpackCodec, WebSocket: recordingWs([], Math.random() < 0.5), ...opts });
        counts.churnConnections++;
        try {
          const room = client.room(pick(ROOMS));
          await Promise.race([room.ready(), sleep(5000)]);
          for (let i = 0, n = 1 + Math.floor(Math.random() * 3); i < n; i++) {
            const id = `c${c}-${k}-${i}`;
            const ack = await Promise.race([room.publish({ id }).then(() => true, () => false), sleep(5000).then(() => false)]);
            if (ack) { acked.get(room.name)!.add(id); counts.acked++; }
          }
        } finally {
          client.close();
        }
        k++;
        await sleep(Math.random() * 100);
      }
    })());
  }

  // The slow reader stops reading for a few seconds at a time.
  tasks.push((async () => {
    while (running) {
      await sleep(2000 + Math.random() * 2000);
      const ws = slowSockets[slowSockets.length - 1];
      if (!ws || ws.readyState !== WebSocket.OPEN) continue;
      ws.pause();
      await sleep(10_000 + Math.random() * 10_000); // longer than the kernel's buffers (~4 MB) take to fill
      ws.resume();
    }
  })());

  // Editors type; a reconnecting editor joins and leaves now and then.
  tasks.push((async () => {
    while (running) {
      const e = pick(editors);
      const t = e.ydoc.getText('t');
      if (Math.random() < 0.8 || t.length < 10) t.insert(Math.floor(Math.random() * (t.length + 1)), `w${counts.docEdits} `);
      else t.delete(Math.floor(Math.random() * (t.length - 5)), 3);
      counts.docEdits++;
      await sleep(20);
    }
  })());

  // Network cuts.
  proxy.startRandomCuts({ minMs: 300, maxMs: 1500 });

  const end = Date.now() + o.seconds * 1000;
  let nextLog = Date.now() + 30_000;
  while (Date.now() < end) {
    await sleep(Math.min(1000, end - Date.now()));
    if (Date.now() >= nextLog) {
      nextLog += 30_000;
      o.log(`soak: ${Math.round((end - Date.now()) / 1000)} s left; acked ${counts.acked}, delivered ${counts.delivered}, cuts ${proxy.cuts}, churned ${counts.churnConnections}, slow-reader disconnects ${counts.slowDisconnects}${o.memory ? `, ${o.memory()}` : ''}`);
    }
  }
  running = false;
  proxy.stopRandomCuts();
  await Promise.all(tasks);
  counts.cuts = proxy.cuts;
  for (const ws of slowSockets) ws.resume();

  // Every acknowledged publication must reach every persistent subscriber.
  const complete = () => subs.every((s) => ROOMS.every((r) => [...acked.get(r)!].every((id) => s.got.get(r)!.has(id))));
  await until(complete, 60_000);
  for (const s of subs) {
    for (const r of ROOMS) {
      const missing = [...acked.get(r)!].filter((id) => !s.got.get(r)!.has(id));
      if (missing.length > 0) o.log(`${s.name}: ${missing.length} acknowledged publications of ${r} missing, e.g. ${missing.slice(0, 5).join(', ')}`);
      counts.lost += missing.length;
    }
    s.client.close();
  }

  // Documents: every editor and the server's stored copy hold the same content.
  const texts = () => editors.map((e) => e.ydoc.getText('t').toString());
  await until(() => editors.every((e) => e.p.synced) && new Set(texts()).size === 1, 30_000);
  await sleep(500);
  const res = await fetch(`${o.url}/api/docs/${encodeURIComponent(docName)}`, { headers: { authorization: `Bearer ${o.apiKey}` } });
  const stored = (await res.json()) as { content?: { t?: unknown } };
  const want = texts()[0];
  counts.docsChecked = editors.length + 1;
  for (const t of texts()) if (t !== want) counts.docsCorrupted++;
  if (stored.content?.t !== want) {
    counts.docsCorrupted++;
    o.log(`stored document differs from the editors' (status ${res.status}): ${JSON.stringify(stored).slice(0, 200)} vs ${want.slice(0, 100)}`);
  }
  for (const e of editors) { e.p.destroy(); e.ydoc.destroy(); }
  await proxy.close();
  return counts;
}

