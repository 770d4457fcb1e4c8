import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { round } from './measure.js';
import { ROOT } from './proc.js';
import type { NamedSample, PhaseRecord, RunResults } from './run.js';
import type { FanoutLoadResult } from './types.js';

/** The figures one phase yields, derived from the server's samples and the load result. */
interface Figures {
  server: string;
  label: string;
  error?: string;
  skipped?: string;
  [k: string]: unknown;
}

const sample = (list: NamedSample[], name: string, value?: number) =>
  list.find((s) => s.name === name && (value === undefined || s.value === value));

function cpuBetween(list: NamedSample[], a: string, b: string): number | undefined {
  const x = sample(list, a);
  const y = sample(list, b);
  return x && y ? y.cpuSec - x.cpuSec : undefined;
}

export function fanoutFigures(p: PhaseRecord): Figures {
  const f: Figures = { server: p.server, label: p.label, error: p.error, skipped: p.skipped };
  const l = p.load as unknown as FanoutLoadResult | undefined;
  if (!l) return f;
  const cpu = cpuBetween(p.samples, 'window-start', 'drained');
  const windowCpu = cpuBetween(p.samples, 'window-start', 'window-end');
  const lgCpu = cpuBetween(p.loadSamples, 'window-start', 'window-end');
  f.deliveriesPerSec = Math.round(l.deliveredInWindow / l.windowSec);
  f.cpuUsPerDelivery = cpu !== undefined && l.deliveredSinceWindow > 0 ? round((cpu * 1e6) / l.deliveredSinceWindow) : undefined;
  f.serverCpuPct = windowCpu !== undefined ? Math.round((windowCpu / l.windowSec) * 100) : undefined;
  f.loadgenCpuPct = lgCpu !== undefined ? Math.round((lgCpu / l.windowSec) * 100) : undefined;
  if (l.latency.count > 0) {
    f.p50Ms = l.latency.p50Ms;
    f.p99Ms = l.latency.p99Ms;
    f.maxMs = l.latency.maxMs;
  }
  f.rssMB = round((sample(p.samples, 'drained')?.rssBytes ?? 0) / 2 ** 20, 1);
  f.received = l.received;
  f.expected = l.expected;
  f.inOrder = l.gaps === 0 && l.outOfOrder === 0;
  f.complete = l.complete;
  f.disconnected = l.disconnected;
  f.loadgenLoopDelayP99Ms = l.loadgenLoopDelayP99Ms;
  return f;
}

export function idleFigures(p: PhaseRecord): Figures {
  const f: Figures = { server: p.server, label: p.label, error: p.error, skipped: p.skipped };
  const base = sample(p.samples, 'baseline');
  const points = p.samples.filter((s) => s.name === 'checkpoint');
  const reached = (p.load?.reached as Array<{ connections: number; open: number }> | undefined) ?? [];
  f.points = points.map((s, i) => ({
    connections: reached[i]?.connections ?? s.value,
    open: s.value,
    rssMB: round(s.rssBytes / 2 ** 20, 1),
    kbPerConn: base && s.value ? round((s.rssBytes - base.rssBytes) / 1024 / s.value, 2) : undefined,
  }));
  f.baselineMB = base ? round(base.rssBytes / 2 ** 20, 1) : undefined;
  f.failures = p.load?.failures;
  return f;
}

export function docsFigures(p: PhaseRecord): Figures {
  const f: Figures = { server: p.server, label: p.label, error: p.error, skipped: p.skipped };
  const l = p.load as { updatesInWindow: number; windowSec: number; converged: boolean; stampsReceived: number; stampsExpected: number; latency: { p50Ms: number; p99Ms: number; maxMs: number } } | undefined;
  if (!l) return f;
  const cpu = cpuBetween(p.samples, 'window-start', 'window-end');
  f.updatesPerSec = round(l.updatesInWindow / l.windowSec, 1);
  f.cpuUsPerUpdate = cpu !== undefined && l.updatesInWindow ? Math.round((cpu * 1e6) / l.updatesInWindow) : undefined;
  f.p50Ms = l.latency.p50Ms;
  f.p99Ms = l.latency.p99Ms;
  f.maxMs = l.latency.maxMs;
  f.converged = l.converged && l.stampsReceived >= l.stampsExpected;
  return f;
}

export function coldFigures(p: PhaseRecord): Figures {
  const f: Figures = { server: p.server, label: p.label, error: p.error, skipped: p.skipped };
  const l = p.load as { loadMs: number; complete: boolean; seeded: boolean; seedSec: number; stateBytes: number } | undefined;
  if (!l) return f;
  const cpu = cpuBetween(p.samples, 'load-start', 'load-end');
  f.loadMs = Math.round(l.loadMs);
  f.serverCpuMs = cpu !== undefined ? Math.round(cpu * 1000) : undefined;
  f.complete = l.complete;
  f.history = l.seeded ? 'written through the server (kept in memory)' : 'pre-seeded as raw log in the DocStore (SQLite), loaded on first connect';
  f.rssMB = round((sample(p.samples, 'load-end')?.rssBytes ?? 0) / 2 ** 20, 1);
  return f;
}

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function machine(): Record<string, string> {
  let commit = '?';
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
  const serverPkg = JSON.parse(readFileSync(join(ROOT, 'packages/server/package.json'), 'utf8')) as { version: string };
  return {
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    kernel: `Linux ${release()}`,
    node: process.version,
    aqueduct: `${serverPkg.version} (commit ${commit})`,
  };
}

const fmt = (x: unknown, digits = 2): string => {
  if (x === undefined || x === null) return '–';
  if (typeof x === 'number') return x >= 1000 ? Math.round(x).toLocaleString('en-US') : String(round(x, digits));
  if (typeof x === 'boolean') return x ? 'yes' : '**no**';
  return String(x);
};

/** `peer / aqueduct` as "N.N×" (how many times Aqueduct's figure the peer's is). */
function ratio(peer: unknown, aq: unknown): string {
  if (typeof peer !== 'number' || typeof aq !== 'number' || aq === 0) return '–';
  return `${round(peer / aq, 2)}×`;
}

function status(f: Figures): string | undefined {
  if (f.skipped) return `skipped: ${f.skipped}`;
  if (f.error) return `error: ${f.error}`;
  return undefined;
}

function groupBy(phases: PhaseRecord[]): Map<string, PhaseRecord[]> {
  const m = new Map<string, PhaseRecord[]>();
  for (const p of phases) {
    const list = m.get(p.scenario) ?? [];
    list.push(p);
    m.set(p.scenario, list);
  }
  return m;
}

export function writeReport(r: RunResults, out = join(ROOT, 'BENCHMARKS.md'), chartFile = join(ROOT, 'bench/chart.svg')): void {
  const lines: string[] = [];
  const m = machine();
  const groups = groupBy(r.phases);
  lines.push('# Benchmarks', '');
  lines.push(`Generated by \`npm run bench\` on ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC; the suite took ${Math.floor(r.durationSec / 60)} min ${r.durationSec % 60} s.`);
  lines.push('Every server runs as its own process; one load-generator process drives it over real sockets' + (r.pinned ? ' (server pinned to core 0, load generator to core 1 with `taskset`).' : '.'));
  lines.push('Server CPU is the server process\'s own utime+stime from `/proc/<pid>/stat`; RSS is `VmRSS`; latency is from a send timestamp inside each payload to its arrival at the subscriber (one clock: publisher and subscribers share the load-generator process).', '');
  lines.push('![chart](bench/chart.svg)', '');
  lines.push('## Machine and versions', '');
  lines.push('| | |', '|---|---|');
  for (const [k, v] of Object.entries(m)) lines.push(`| ${k} | ${v} |`);
  for (const pkg of ['ws', 'socket.io', '@y/websocket-server', '@hocuspocus/server', '@hocuspocus/provider', 'y-websocket', 'yjs']) lines.push(`| ${pkg} | ${version(pkg)} |`);
  const loads = r.phases.map((p) => Number(p.loadavg?.split(' ')[0] ?? 0));
  lines.push(`| load average before phases | ${round(Math.min(...loads), 1)} – ${round(Math.max(...loads), 1)} (other work on the machine during the run; it skews wall-clock figures, not per-message CPU) |`, '');

  const chart: { fanout: Array<{ scenario: string; rows: Figures[] }>; idle: Figures[]; docs: Figures[] } = { fanout: [], idle: [], docs: [] };
  const done: string[] = [];

  lines.push('## Fanout', '');
  lines.push('Publications of 100 bytes from one publisher connection; every subscriber checks that it receives every sequence number of its room exactly once and in order. Latency includes the load generator\'s own queueing: one process reads all 1,000 sockets, so its event-loop delay (last column) is a floor under the measured p99. "CPU / delivery" is server CPU from the start of the measure window until the last delivery arrived, divided by the deliveries in that time. "× Aqueduct" is the peer\'s figure divided by Aqueduct\'s (above 1 = Aqueduct better).', '');
  for (const [scenario, phases] of groups) {
    if (!scenario.startsWith('fanout')) continue;
    const rows = phases.map(fanoutFigures);
    chart.fanout.push({ scenario, rows });
    const aq = rows.find((x) => x.server === 'aqueduct');
    lines.push(`### ${scenario}`, '');
    lines.push('| server | deliveries/s | CPU µs / delivery | × Aqueduct | p50 ms | p99 ms | max ms | × Aqueduct (p99) | RSS MB | delivered | in order | server CPU % | loadgen CPU % | loadgen loop delay p99 ms |');
    lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const f of rows) {
      const st = status(f);
      if (st) { lines.push(`| ${f.label} | ${st} |||||||||||| `); continue; }
      lines.push(`| ${f.label} | ${fmt(f.deliveriesPerSec)} | ${fmt(f.cpuUsPerDelivery)} | ${f.server === 'aqueduct' ? '1×' : ratio(f.cpuUsPerDelivery, aq?.cpuUsPerDelivery)} | ${fmt(f.p50Ms)} | ${fmt(f.p99Ms)} | ${fmt(f.maxMs)} | ${f.server === 'aqueduct' ? '1×' : ratio(f.p99Ms, aq?.p99Ms)} | ${fmt(f.rssMB)} | ${fmt(f.received)} / ${fmt(f.expected)}${f.complete ? '' : ' (**incomplete**)'} | ${fmt(f.inOrder)} | ${fmt(f.serverCpuPct)} | ${fmt(f.loadgenCpuPct)} | ${fmt(f.loadgenLoopDelayP99Ms)} |`);
    }
    lines.push('');
    const ws = rows.find((x) => x.server === 'ws');
    if (scenario.includes('1,000 subs @ 300') && aq && ws) {
      const ok = typeof aq.cpuUsPerDelivery === 'number' && typeof ws.cpuUsPerDelivery === 'number' && aq.cpuUsPerDelivery <= ws.cpuUsPerDelivery / 2 && aq.complete === true;
      done.push(`| 2 | 1,000 subs × 300 pub/s: Aqueduct CPU/delivery ≤ ½ of bare ws, all delivered in order | ${fmt(aq.cpuUsPerDelivery)} µs vs ${fmt(ws.cpuUsPerDelivery)} µs (${ratio(aq.cpuUsPerDelivery, ws.cpuUsPerDelivery)}); delivered ${fmt(aq.received)} / ${fmt(aq.expected)}, in order: ${fmt(aq.inOrder)} | ${ok ? 'pass' : '**fail**'} |`);
    }
    if (scenario.includes('1,000 subs @ 100 ') && aq) {
      const ok = typeof aq.p99Ms === 'number' && aq.p99Ms < 30;
      done.push(`| 3 | 100,000 deliveries/s: Aqueduct p99 < 30 ms | p99 ${fmt(aq.p99Ms)} ms at ${fmt(aq.deliveriesPerSec)} deliveries/s | ${ok ? 'pass' : '**fail**'} |`);
    }
  }

  for (const [scenario, phases] of groups) {
    if (!scenario.startsWith('idle')) continue;
    const rows = phases.map(idleFigures);
    chart.idle = rows;
    lines.push('## Idle connections', '');
    lines.push('Each connection is authenticated where the server has authentication (Aqueduct: a signed JWT per connection) and joined to its own room. RSS per connection = (RSS at the checkpoint − RSS of the idle server) / open connections, sampled after a settle time.', '');
    const aq = rows.find((x) => x.server === 'aqueduct');
    lines.push('| server | baseline RSS MB | connections | RSS MB | KB / connection | × Aqueduct |', '|---|---|---|---|---|---|');
    for (const f of rows) {
      const st = status(f);
      if (st) { lines.push(`| ${f.label} | ${st} |||||`); continue; }
      const points = f.points as Array<{ connections: number; open: number; rssMB: number; kbPerConn: number }>;
      for (const [i, pt] of points.entries()) {
        const aqPt = (aq?.points as typeof points | undefined)?.[i];
        lines.push(`| ${f.label} | ${fmt(f.baselineMB)} | ${fmt(pt.open)}${pt.open < pt.connections ? ` of ${fmt(pt.connections)}` : ''} | ${fmt(pt.rssMB)} | ${fmt(pt.kbPerConn)} | ${f.server === 'aqueduct' ? '1×' : ratio(pt.kbPerConn, aqPt?.kbPerConn)} |`);
      }
    }
    lines.push('');
    const last = (aq?.points as Array<{ connections: number; open: number; kbPerConn: number }> | undefined)?.at(-1);
    if (last) done.push(`| 4 | idle: ≤ 8 KB RSS per authenticated connection at 19,000 | ${fmt(last.kbPerConn)} KB at ${fmt(last.open)} connections | ${last.kbPerConn <= 8 && last.open >= 19_000 ? 'pass' : '**fail**'} |`);
  }

  for (const [scenario, phases] of groups) {
    if (!scenario.startsWith('documents:') || scenario.includes('cold')) continue;
    const rows = phases.map(docsFigures);
    chart.docs = rows;
    const aq = rows.find((x) => x.server === 'aqueduct');
    lines.push(`## Documents: ${scenario.slice('documents: '.length)}`, '');
    lines.push('Stock clients: `y-websocket`\'s WebsocketProvider for Aqueduct (`/yjs/<doc>?token=`) and for y-websocket\'s server, HocuspocusProvider for Hocuspocus. Each edit is one transaction (a text insert plus a timestamp in a map), so one update; latency is measured at every other client. CPU / update = server CPU in the window / updates sent in it.', '');
    lines.push('| server | updates/s | server CPU µs / update | × Aqueduct | p50 ms | p99 ms | max ms | converged |', '|---|---|---|---|---|---|---|---|');
    for (const f of rows) {
      const st = status(f);
      if (st) { lines.push(`| ${f.label} | ${st} |||||||`); continue; }
      lines.push(`| ${f.label} | ${fmt(f.updatesPerSec)} | ${fmt(f.cpuUsPerUpdate)} | ${f.server === 'aqueduct' ? '1×' : ratio(f.cpuUsPerUpdate, aq?.cpuUsPerUpdate)} | ${fmt(f.p50Ms)} | ${fmt(f.p99Ms)} | ${fmt(f.maxMs)} | ${fmt(f.converged)} |`);
    }
    lines.push('');
    const hp = rows.find((x) => x.server === 'hocuspocus');
    if (aq && hp && typeof aq.cpuUsPerUpdate === 'number') {
      const ok = typeof hp.cpuUsPerUpdate === 'number' && aq.cpuUsPerUpdate <= hp.cpuUsPerUpdate && typeof aq.p99Ms === 'number' && aq.p99Ms < 50;
      done.push(`| 5 | documents: CPU/update ≤ Hocuspocus, p99 < 50 ms | ${fmt(aq.cpuUsPerUpdate)} µs vs ${fmt(hp.cpuUsPerUpdate)} µs; p99 ${fmt(aq.p99Ms)} ms | ${ok ? 'pass' : '**fail**'} |`);
    }
  }

  for (const [scenario, phases] of groups) {
    if (!scenario.includes('cold')) continue;
    const rows = phases.map(coldFigures);
    const aq = rows.find((x) => x.server === 'aqueduct');
    lines.push(`## Documents: ${scenario.slice('documents: '.length)}`, '');
    lines.push('Time from a fresh client\'s connect to its `synced` event, with the full text present, and the server CPU spent meanwhile.', '');
    lines.push('| server | history | load ms | × Aqueduct | server CPU ms | RSS after MB | complete |', '|---|---|---|---|---|---|---|');
    for (const f of rows) {
      const st = status(f);
      if (st) { lines.push(`| ${f.label} | ${st} ||||||`); continue; }
      lines.push(`| ${f.label} | ${f.history} | ${fmt(f.loadMs)} | ${f.server === 'aqueduct' ? '1×' : ratio(f.loadMs, aq?.loadMs)} | ${fmt(f.serverCpuMs)} | ${fmt(f.rssMB)} | ${fmt(f.complete)} |`);
    }
    lines.push('');
  }

  lines.push('## Done means (issue 8)', '');
  lines.push('| # | criterion | this run | result |', '|---|---|---|---|');
  lines.push(`| 1 | suite end to end in < 15 min, writes BENCHMARKS.md and the chart | ${Math.floor(r.durationSec / 60)} min ${r.durationSec % 60} s | ${r.durationSec < 900 ? 'pass' : '**fail**'} |`);
  lines.push(...done);
  lines.push(`| 6 | figures from a run of the suite, machine and versions named | this file, run of ${r.startedAt} | pass |`, '');
  lines.push('Raw results: `bench/results/latest.json` (not committed); server logs: `bench/results/logs/`.', '');
  // Sections other bench modes produce (--only=crossnode, --compression) are kept as they are.
  let kept = '';
  try {
    const old = readFileSync(out, 'utf8');
    const at = old.indexOf(KEPT_MARKER);
    if (at >= 0) kept = old.slice(at);
  } catch { /* no previous file */ }
  writeFileSync(out, lines.join('\n') + (kept ? `\n${kept}` : ''));
  writeFileSync(chartFile, renderChart(chart));
}

/** Everything from this line on in BENCHMARKS.md survives a full `npm run bench`. */
export const KEPT_MARKER = '<!-- kept by npm run bench: sections from other bench modes below -->';

// ------------------------------------------------------------------ chart

const COLORS: Record<string, string> = { aqueduct: '#2563eb', ws: '#6b7280', socketio: '#f59e0b', hocuspocus: '#10b981', 'y-websocket': '#a855f7' };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** One bar panel: groups of bars (one per server), labelled values, own scale. */
function panel(x0: number, y0: number, w: number, h: number, title: string, unit: string, groups: Array<{ name: string; bars: Array<{ server: string; label: string; value: number | undefined }> }>): string {
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => b.value ?? 0)));
  const out: string[] = [`<text x="${x0}" y="${y0 + 14}" font-size="14" font-weight="bold">${esc(title)}</text>`];
  const top = y0 + 30;
  const plotH = h - 70;
  const gw = w / Math.max(1, groups.length);
  groups.forEach((g, gi) => {
    const bw = Math.min(36, (gw - 20) / Math.max(1, g.bars.length));
    g.bars.forEach((b, bi) => {
      const v = b.value ?? 0;
      const bh = (v / max) * plotH;
      const x = x0 + gi * gw + 10 + bi * bw;
      const y = top + plotH - bh;
      out.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${bh.toFixed(1)}" fill="${COLORS[b.server] ?? '#999'}"><title>${esc(b.label)}: ${b.value ?? 'n/a'} ${unit}</title></rect>`);
      out.push(`<text x="${(x + (bw - 4) / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" font-size="9" text-anchor="middle">${b.value === undefined ? 'n/a' : round(b.value, b.value < 10 ? 2 : 0)}</text>`);
    });
    out.push(`<text x="${(x0 + gi * gw + gw / 2).toFixed(1)}" y="${top + plotH + 16}" font-size="10" text-anchor="middle">${esc(g.name)}</text>`);
  });
  out.push(`<text x="${x0}" y="${top + plotH + 34}" font-size="10" fill="#555">${esc(unit)} (lower is better)</text>`);
  return out.join('\n');
}

function renderChart(c: { fanout: Array<{ scenario: string; rows: Figures[] }>; idle: Figures[]; docs: Figures[] }): string {
  const W = 980;
  const parts: string[] = [];
  const shortName = (s: string) => s.replace('fanout ', '').replace(' subs', '').replace(' room x', 'r×').replace(' rooms x', 'r×');
  parts.push(panel(20, 10, W - 40, 260, 'Fanout: server CPU per delivery', 'µs per delivery', c.fanout.map((f) => ({
    name: shortName(f.scenario),
    bars: f.rows.map((r) => ({ server: r.server, label: r.label, value: r.cpuUsPerDelivery as number | undefined })),
  }))));
  parts.push(panel(20, 280, W - 40, 260, 'Fanout: delivery latency p99', 'ms', c.fanout.map((f) => ({
    name: shortName(f.scenario),
    bars: f.rows.map((r) => ({ server: r.server, label: r.label, value: r.p99Ms as number | undefined })),
  }))));
  const idlePoints = (r: Figures) => (r.points as Array<{ open: number; kbPerConn: number }> | undefined) ?? [];
  const idleGroups = [0, 1].map((i) => ({
    name: `${idlePoints(c.idle[0] ?? ({} as Figures))[i]?.open ?? '?'} conns`,
    bars: c.idle.map((r) => ({ server: r.server, label: r.label, value: idlePoints(r)[i]?.kbPerConn })),
  }));
  parts.push(panel(20, 550, (W - 60) / 2, 240, 'Idle: RSS per connection', 'KB per connection', idleGroups));
  parts.push(panel(20 + (W - 20) / 2, 550, (W - 60) / 2, 240, 'Documents: server CPU per update', 'µs per update', [{
    name: '50 clients, one doc',
    bars: c.docs.map((r) => ({ server: r.server, label: r.label, value: r.cpuUsPerUpdate as number | undefined })),
  }]));
  const legend = Object.entries({ aqueduct: 'Aqueduct', ws: 'bare ws', socketio: 'Socket.IO 4', hocuspocus: 'Hocuspocus', 'y-websocket': 'y-websocket server' })
    .map(([k, label], i) => `<rect x="${20 + i * 150}" y="805" width="12" height="12" fill="${COLORS[k]}"/><text x="${36 + i * 150}" y="815" font-size="11">${label}</text>`).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="830" viewBox="0 0 ${W} 830" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n${legend}\n</svg>\n`;
}

// `node --import tsx bench/src/report.ts [results.json]`: rewrite the report from saved results.
if (process.argv[1]?.endsWith('report.ts')) {
  const file = process.argv[2] ?? join(ROOT, 'bench/results/latest.json');
  writeReport(JSON.parse(readFileSync(file, 'utf8')) as RunResults);
  console.log('wrote BENCHMARKS.md and bench/chart.svg');
}
