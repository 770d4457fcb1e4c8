/**
 * `npm run bench -- --compression` (or `node --import tsx bench/src/compression.ts`): bytes on the
 * wire and server CPU per delivery with and without permessage-deflate, for chat messages and
 * cursor updates on `/ws` (JSON and MessagePack) and Yjs updates on `/yjs`. One server process per
 * setting (from source, testkit's spawnServer); CPU is its own utime+stime (/proc), bytes are what
 * the subscribers' sockets read. Prints a Markdown table (BENCHMARKS.md §Compression).
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { AqueductClient, type WebSocketConstructor } from '@aqueduct/client';
import { msgpackCodec } from '@aqueduct/client/msgpack';
import { signToken, spawnServer, type ServerProcess } from '@aqueduct/testkit';
import { sampleProcess } from './measure.js';

const SECRET = 'aqueduct-bench-secret-0123456789abcdef';
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 50);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 400);

interface Setting { name: string; sets: string[] }
const ALL_SETTINGS: Setting[] = [
  { name: 'off', sets: ['compression.enabled=false'] },
  { name: 'on, threshold 256 B, shared', sets: ['compression.enabled=true', 'compression.thresholdBytes=256'] },
  { name: 'on, threshold 0, shared', sets: ['compression.enabled=true', 'compression.thresholdBytes=0'] },
  { name: 'on, context takeover (per connection)', sets: ['compression.enabled=true', 'compression.thresholdBytes=0', 'compression.serverNoContextTakeover=false'] },
];
/** `BENCH_REVERSE=1`: settings in reverse order (to see how much the order, i.e. machine load, moves the CPU figures). */
const ORDERED = process.env.BENCH_REVERSE === '1' ? [...ALL_SETTINGS].reverse() : ALL_SETTINGS;
/** `BENCH_SETTINGS=off,shared`: only the settings whose name contains one of these. */
const SETTINGS = ORDERED.filter((s) => !process.env.BENCH_SETTINGS || process.env.BENCH_SETTINGS.split(',').some((x) => s.name.includes(x)));
/** `BENCH_CASES=cursor`: only the cases whose payload name contains this (the Yjs cases: `Yjs`). */
const only = (payload: string) => !process.env.BENCH_CASES || payload.includes(process.env.BENCH_CASES);

const WORDS = 'the a meeting tomorrow at ten please review pull request looks good to me can we ship it today thanks I think build failed again let me check logs sure coffee later'.split(' ');
function sentence(i: number): string {
  const n = 8 + (i * 7) % 25;
  const out: string[] = [];
  for (let k = 0; k < n; k++) out.push(WORDS[(i * 31 + k * 17 + k * k) % WORDS.length]);
  return out.join(' ');
}
const chat = (i: number) => ({ id: `m-${i}-${(i * 2654435761 >>> 0).toString(36)}`, text: sentence(i), user: { id: `u-${i % 7}`, name: ['Alice', 'Bob', 'Carol', 'Dan', 'Eve', 'Frank', 'Grace'][i % 7] }, ts: 1_764_950_000_000 + i * 1337 });
const cursor = (i: number) => ({ x: (i * 37) % 1920, y: (i * 91) % 1080, color: '#3b82f6' });

function recording(sockets: WebSocket[]): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  } as unknown as WebSocketConstructor;
}
/**
 * The publisher's WebSocket. `BENCH_CLIENT_COMPRESS_ALL=1`: it compresses every message, as
 * browsers do (`ws` skips messages under 1 KiB when the server asks for client no context takeover).
 */
function publisherWs(): WebSocketConstructor {
  if (process.env.BENCH_CLIENT_COMPRESS_ALL !== '1') return WebSocket as unknown as WebSocketConstructor;
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { perMessageDeflate: { threshold: 0 } });
    }
  } as unknown as WebSocketConstructor;
}
const bytesRead = (sockets: WebSocket[]) => sockets.reduce((n, ws) => n + ((ws as unknown as { _socket?: Socket })._socket?.bytesRead ?? 0), 0);

async function until(p: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!p()) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Row { payload: string; codec: string; setting: string; payloadBytes: number; wireBytes: number; cpuUs: number }

async function busCase(srv: ServerProcess, setting: string, kind: 'chat' | 'cursor', codec: 'json' | 'msgpack'): Promise<Row> {
  const token = await signToken(SECRET, { sub: 'bench', rooms: { 'bench:*': ['sub', 'pub'] } });
  const sockets: WebSocket[] = [];
  const room = `bench:${kind}-${codec}`;
  const subs = Array.from({ length: SUBSCRIBERS }, () => new AqueductClient({ url: srv.url, token, codec: codec === 'msgpack' ? msgpackCodec : 'json', WebSocket: recording(sockets) }));
  let got = 0;
  const rooms = subs.map((c) => c.room(room));
  for (const r of rooms) r.on('message', () => { got++; });
  await Promise.all(rooms.map((r) => r.ready()));
  const pub = new AqueductClient({ url: srv.url, token, codec: codec === 'msgpack' ? msgpackCodec : 'json', WebSocket: publisherWs() });
  const pr = pub.room(`${room}`);
  await pr.ready();
  const make = kind === 'chat' ? chat : cursor;
  const b0 = bytesRead(sockets);
  const c0 = sampleProcess(srv.pid).cpuSec;
  let payloadBytes = 0;
  for (let i = 0; i < MESSAGES; i += 10) {
    const batch = Array.from({ length: 10 }, (_, k) => make(i + k));
    for (const m of batch) payloadBytes += JSON.stringify(m).length;
    await Promise.all(batch.map((m) => pr.publish(m)));
  }
  const deliveries = MESSAGES * (SUBSCRIBERS + 1);
  await until(() => got === MESSAGES * SUBSCRIBERS);
  const cpu = sampleProcess(srv.pid).cpuSec - c0;
  const wire = bytesRead(sockets) - b0;
  for (const c of [...subs, pub]) c.close();
  return { payload: kind, codec, setting, payloadBytes: payloadBytes / MESSAGES, wireBytes: wire / (MESSAGES * SUBSCRIBERS), cpuUs: (cpu * 1e6) / deliveries };
}

async function yjsCase(srv: ServerProcess, setting: string, kind: 'typing' | 'paste'): Promise<Row> {
  const token = await signToken(SECRET, { sub: 'bench', rooms: { 'bench:*': ['sub', 'pub'] } });
  const doc = `bench:yjs-${kind}`;
  const sockets: WebSocket[] = [];
  const url = srv.url.replace('http', 'ws') + '/yjs';
  const mk = (rec: boolean) => {
    const ydoc = new Y.Doc();
    const p = new WebsocketProvider(url, doc, ydoc, { params: { token }, disableBc: true, WebSocketPolyfill: (rec ? recording(sockets) : WebSocket) as unknown as typeof globalThis.WebSocket });
    return { ydoc, p };
  };
  const readers = Array.from({ length: SUBSCRIBERS }, () => mk(true));
  const writer = mk(false);
  await until(() => writer.p.synced && readers.every((r) => r.p.synced));
  const text = writer.ydoc.getText('t');
  const b0 = bytesRead(sockets);
  const c0 = sampleProcess(srv.pid).cpuSec;
  let payloadBytes = 0;
  writer.ydoc.on('update', (u: Uint8Array) => { payloadBytes += u.byteLength; });
  const n = kind === 'typing' ? MESSAGES : MESSAGES / 4;
  for (let i = 0; i < n; i++) {
    if (kind === 'typing') text.insert(text.length, sentence(i).slice(0, 1 + (i % 3)));
    else text.insert(text.length, Array.from({ length: 6 }, (_, k) => sentence(i + k)).join('. ') + '\n');
    if (i % 10 === 9) await new Promise((r) => setImmediate(r));
  }
  const want = text.length;
  await until(() => readers.every((r) => r.ydoc.getText('t').length === want));
  const cpu = sampleProcess(srv.pid).cpuSec - c0;
  const wire = bytesRead(sockets) - b0;
  for (const x of [...readers, writer]) { x.p.destroy(); x.ydoc.destroy(); }
  return { payload: `Yjs ${kind}`, codec: 'y-protocols', setting, payloadBytes: payloadBytes / n, wireBytes: wire / (n * SUBSCRIBERS), cpuUs: (cpu * 1e6) / (n * (SUBSCRIBERS + 1)) };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const s of SETTINGS) {
    const srv = await spawnServer({
      env: { AQUEDUCT_JWT_SECRET: SECRET, AQUEDUCT_LOG_LEVEL: 'info', NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS },
      args: ['--set', 'namespaces.bench.publishRatePerSec=1000000', '--set', 'namespaces.bench.publishBurst=1000000', ...s.sets.flatMap((kv) => ['--set', kv])],
    });
    try {
      // Warm-up (JIT, tsx) before the measured cases.
      await busCase(srv, s.name, 'chat', 'json');
      for (const kind of ['chat', 'cursor'] as const) for (const codec of ['json', 'msgpack'] as const) if (only(kind)) rows.push(await busCase(srv, s.name, kind, codec));
      for (const kind of ['typing', 'paste'] as const) if (only(`Yjs ${kind}`)) rows.push(await yjsCase(srv, s.name, kind));
      const rss = sampleProcess(srv.pid).rssBytes;
      console.error(`${s.name}: done, server RSS ${(rss / 1048576).toFixed(1)} MB`);
    } finally {
      await srv.kill();
    }
  }
  rows.sort((a, b) => (a.payload + a.codec).localeCompare(b.payload + b.codec));
  console.log(`Subscribers per room: ${SUBSCRIBERS}; messages per case: ${MESSAGES} (Yjs paste: ${MESSAGES / 4}).\n`);
  console.log('| payload | codec | compression | payload B (JSON text / Yjs update) | wire B per delivery | server CPU µs per delivery |');
  console.log('|---|---|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.payload} | ${r.codec} | ${r.setting} | ${r.payloadBytes.toFixed(0)} | ${r.wireBytes.toFixed(1)} | ${r.cpuUs.toFixed(2)} |`);
}

main().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(1); });
