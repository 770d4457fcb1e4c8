/**
 * The fuzz and soak suite (README §Reliability): a real server process (from source), fuzzed
 * input on every endpoint, then the churn soak; returns the counts `npm run soak` prints.
 */
import { readFileSync } from 'node:fs';
import { signToken, spawnServer } from '@aqueduct/testkit';
import { churnSoak, type ChurnCounts } from './churn.js';
import { fuzzPosts, fuzzStreams, newHttpStats, type HttpStats } from './fuzz-http.js';
import { wsInputs, wsTarget } from './fuzz-ws.js';
import { yjsInputs, yjsTarget } from './fuzz-yjs.js';
import { newPumpStats, pump, type PumpStats } from './pump.js';

export interface SoakOptions {
  /** Fuzzed inputs in all (default 100,000). */
  inputs: number;
  /** Length of the churn soak (default 300). */
  seconds: number;
  seed: number;
  log(line: string): void;
}

export interface SoakReport {
  seed: number;
  inputsTried: number;
  byEndpoint: Record<string, number>;
  /** Server process exits, fatal log lines and uncaught exceptions: must be 0. */
  crashes: number;
  /** HTTP 5xx answers other than 503: must be 0. */
  serverErrors: number;
  serverErrorExamples: string[];
  closeCodes: Record<string, number>;
  httpStatuses: Record<string, number>;
  churn: ChurnCounts;
  rssStartMb: number;
  rssAfterFuzzMb: number;
  rssEndMb: number;
  rssMaxMb: number;
  /**
   * Lowest heap in use sampled (every second, from /metrics) in the first and the last minute of the
   * churn: the live data left after garbage collection, a better leak signal than RSS.
   */
  heapFloorMb: { churnFirstMinute: number; churnLastMinute: number };
  postRoutes: string[];
  durationSec: number;
}

const SECRET = 'soak-secret-0123456789abcdef0123';
const API_KEY = 'soak-api-key-0123456789abcdef';

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : 0;
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const t0 = performance.now();
  const srv = await spawnServer({
    env: {
      AQUEDUCT_JWT_SECRET: SECRET, AQUEDUCT_API_KEY: API_KEY, AQUEDUCT_DEMO: '1', AQUEDUCT_LOG_LEVEL: 'info',
      AQUEDUCT_SET: [
        // History bounded well below what the soak publishes (so the RSS figures show memory levelling off),
        // yet deep enough (~2 min of a room's traffic) that no cut or slow-reader pause outruns it.
        'namespaces.soak.historySize=20000', 'namespaces.soak.historyTtlMs=3600000',
        'namespaces.soak.publishRatePerSec=100000', 'namespaces.soak.publishBurst=100000',
        'limits.outboundQueueBytes=262144', 'compression.enabled=true', // fuzz and soak with compression negotiated (by some clients)
      ].join(';'),
    },
    keepLines: 2000,
  });
  let crashes = 0;
  let exited = false;
  void srv.exited.then(() => { exited = true; });
  srv.onLine((line) => {
    if (line.includes('"level":60') || /uncaught|unhandled/i.test(line)) {
      crashes++;
      o.log(`server: ${line.slice(0, 300)}`);
    }
  });
  let rssMax = 0;
  const sampler = setInterval(() => { try { rssMax = Math.max(rssMax, rssMb(srv.pid)); } catch { /* exited */ } }, 1000);
  const rssStartMb = rssMb(srv.pid);
  const heap: Array<{ t: number; mb: number }> = [];
  const heapTimer = setInterval(() => {
    fetch(`${srv.url}/metrics`).then((r) => r.text()).then((text) => {
      const m = /^aqueduct_process_nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)/m.exec(text);
      if (m) heap.push({ t: Date.now(), mb: Math.round(Number(m[1]) / 104857.6) / 10 });
    }, () => undefined);
  }, 1000);
  const heapFloor = (from: number, to: number) => Math.min(...heap.filter((h) => h.t >= from && h.t < to).map((h) => h.mb));
  const wsUrl = srv.url.replace('http', 'ws');
  const token = (sub: string) => signToken(SECRET, { sub, rooms: { 'fuzz:*': ['sub', 'pub', 'presence', 'signal'], 'doc:*': ['sub', 'pub'], 'soak:*': ['sub', 'pub', 'presence'] } });
  const byEndpoint: Record<string, number> = {};
  const wsStats = newPumpStats();
  const http: HttpStats = newHttpStats();
  const n = o.inputs;
  const share = { json: Math.round(n * 0.3), msgpack: Math.round(n * 0.25), yjs: Math.round(n * 0.25), streams: Math.round(n * 0.08) };
  const posts = n - share.json - share.msgpack - share.yjs - share.streams;
  let routes: string[] = [];
  try {
    const tok = await token('fuzzer');
    for (const codec of ['json', 'msgpack'] as const) {
      const before = wsStats.tried;
      const inputs = wsInputs(codec, share[codec], o.seed + (codec === 'json' ? 0 : 10));
      const target = wsTarget(`${wsUrl}/ws`, tok, codec, wsStats, codec === 'json');
      await pump(target, inputs.structured, { batch: 50, parallel: 4 }, wsStats);
      await pump(target, inputs.malformed, { batch: 1, parallel: 8 }, wsStats);
      byEndpoint[`/ws ${codec}`] = wsStats.tried - before;
      o.log(`fuzz /ws ${codec}: ${byEndpoint[`/ws ${codec}`]} inputs`);
    }
    {
      const before = wsStats.tried;
      const inputs = yjsInputs(share.yjs, o.seed + 20);
      const docs = Array.from({ length: 8 }, (_, i) => `doc:fuzz-${i}`);
      await pump(yjsTarget(`${wsUrl}/yjs`, docs, tok, wsStats, true), inputs.structured, { batch: 50, parallel: 4 }, wsStats);
      await pump(yjsTarget(`${wsUrl}/yjs`, docs, tok, wsStats, false), inputs.malformed, { batch: 1, parallel: 8 }, wsStats);
      byEndpoint['/yjs'] = wsStats.tried - before;
      o.log(`fuzz /yjs: ${byEndpoint['/yjs']} inputs`);
    }
    await fuzzStreams(srv.url, tok, share.streams, o.seed + 30, http);
    byEndpoint['SSE/poll query'] = http.tried;
    o.log(`fuzz SSE/poll: ${http.tried} requests`);
    routes = await fuzzPosts(srv.url, [`Bearer ${API_KEY}`, `Bearer ${tok}`, '', 'Bearer x.y.z', `Basic ${Buffer.from('a:b').toString('base64')}`], posts, o.seed + 40, http);
    byEndpoint['POST bodies'] = http.tried - byEndpoint['SSE/poll query'];
    o.log(`fuzz POST (${routes.length} routes): ${byEndpoint['POST bodies']} requests`);
  } catch (err) {
    if (!exited) throw err;
  }
  const rssAfterFuzzMb = exited ? 0 : rssMb(srv.pid);
  let churnStart = 0;
  let churnEnd = 0;
  let churn: ChurnCounts = { acked: 0, lost: 0, resets: 0, delivered: 0, churnConnections: 0, cuts: 0, slowDisconnects: 0, docEdits: 0, docsCorrupted: 0, docsChecked: 0 };
  if (!exited) {
    o.log(`soak: ${o.seconds} s of churn`);
    churnStart = Date.now();
    churn = await churnSoak({
      url: srv.url, port: srv.port, seconds: o.seconds, apiKey: API_KEY, token, log: o.log,
      memory: () => `server RSS ${rssMb(srv.pid)} MB, heap floor (30 s) ${heapFloor(Date.now() - 30_000, Date.now())} MB`,
    });
    churnEnd = churnStart + o.seconds * 1000;
  }
  const rssEndMb = exited ? 0 : rssMb(srv.pid);
  clearInterval(sampler);
  clearInterval(heapTimer);
  if (exited) crashes++;
  else await srv.kill();
  return {
    seed: o.seed,
    inputsTried: wsStats.tried + http.tried,
    byEndpoint,
    crashes,
    serverErrors: http.serverErrors,
    serverErrorExamples: http.examples,
    closeCodes: Object.fromEntries([...wsStats.closeCodes].sort((a, b) => a[0] - b[0])),
    httpStatuses: Object.fromEntries(http.statuses),
    churn,
    rssStartMb, rssAfterFuzzMb, rssEndMb, rssMaxMb: rssMax,
    heapFloorMb: {
      churnFirstMinute: heapFloor(churnStart, Math.min(churnEnd, churnStart + 60_000)),
      churnLastMinute: heapFloor(Math.max(churnStart, churnEnd - 60_000), churnEnd),
    },
    postRoutes: routes,
    durationSec: Math.round((performance.now() - t0) / 1000),
  };
}
