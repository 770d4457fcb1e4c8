/**
 * `npm run bench -- --compression-memory`: server RSS per idle `/ws` connection with and without
 * permessage-deflate (each connection has sent one compressed message, so its inflater exists, and
 * received compressed deliveries), and the RSS cost of 50 concurrent deflate bombs (1 MiB inflating
 * frames against the 64 KiB limit). Prints Markdown rows (BENCHMARKS.md §Compression).
 */
import { once } from 'node:events';
import WebSocket from 'ws';
import { signToken, spawnServer } from '@aqueduct/testkit';
import { sampleProcess } from './measure.js';

const SECRET = 'aqueduct-bench-secret-0123456789abcdef';
const N = Number(process.env.BENCH_CONNECTIONS ?? 1000);

async function settle(pid: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 1500));
  return sampleProcess(pid).rssBytes;
}

async function run(name: string, sets: string[], deflate: boolean): Promise<string[]> {
  const srv = await spawnServer({ env: { AQUEDUCT_JWT_SECRET: SECRET, AQUEDUCT_LOG_LEVEL: 'info' }, args: ['--set', 'namespaces.bench.publishRatePerSec=1000000', '--set', 'namespaces.bench.publishBurst=1000000', ...sets.flatMap((s) => ['--set', s])] });
  try {
    const token = await signToken(SECRET, { sub: 'm', rooms: { 'bench:*': ['sub', 'pub'] } });
    const url = srv.url.replace('http', 'ws') + `/ws?token=${token}`;
    const rss0 = await settle(srv.pid);
    const conns: WebSocket[] = [];
    const big = JSON.stringify({ t: 'pub', id: 5, room: 'bench:m', data: { text: 'hello world, '.repeat(200) } });
    for (let i = 0; i < N; i++) {
      const ws = new WebSocket(url, 'aqueduct.json.v1', { perMessageDeflate: deflate });
      await once(ws, 'open');
      ws.on('message', () => {});
      ws.send(JSON.stringify({ t: 'join', id: 1, room: 'bench:m' }));
      ws.send(big, { compress: true }); // the server's inflater for this connection now exists
      conns.push(ws);
    }
    // A few compressed deliveries to everyone (per-connection compressors exist in takeover mode).
    for (let i = 0; i < 5; i++) conns[0].send(JSON.stringify({ t: 'pub', id: 10 + i, room: 'bench:m', data: { text: `delivery ${i} `.repeat(100) } }));
    const rss1 = await settle(srv.pid);
    const per = (rss1 - rss0) / N;
    const rows = [`| ${name} | ${N} | ${(rss0 / 1048576).toFixed(1)} | ${(rss1 / 1048576).toFixed(1)} | ${(per / 1024).toFixed(1)} |`];
    for (const ws of conns) ws.terminate();
    if (deflate) {
      const before = await settle(srv.pid);
      const bombs = await Promise.all(Array.from({ length: 50 }, async () => {
        const ws = new WebSocket(url, 'aqueduct.json.v1');
        await once(ws, 'open');
        return ws;
      }));
      const closes = bombs.map((ws) => once(ws, 'close'));
      const bomb = Buffer.alloc(1024 * 1024, '[');
      for (const ws of bombs) ws.send(bomb, { compress: true });
      const codes = (await Promise.all(closes)).map(([c]) => c as number);
      const peak = sampleProcess(srv.pid).rssBytes;
      rows.push(`<!-- bombs (${name}): 50 closed with ${[...new Set(codes)].join(',')}; RSS ${(before / 1048576).toFixed(1)} → ${(peak / 1048576).toFixed(1)} MB -->`);
    }
    return rows;
  } finally {
    await srv.kill();
  }
}

const rows: string[] = [];
rows.push(...await run('off', ['compression.enabled=false'], false));
rows.push(...await run('on, shared (server no context takeover)', ['compression.enabled=true'], true));
rows.push(...await run('on, server context takeover', ['compression.enabled=true', 'compression.serverNoContextTakeover=false'], true));
rows.push(...await run('on, context takeover, memLevel 4, window 10', ['compression.enabled=true', 'compression.serverNoContextTakeover=false', 'compression.memLevel=4', 'compression.serverMaxWindowBits=10'], true));
console.log('| compression | connections | server RSS before (MB) | after (MB) | KiB per connection |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
process.exit(0);
