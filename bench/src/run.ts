/**
 * `npm run bench`: starts each server in its own process (core 0) and drives it from a separate
 * load-generator process (core 1), scenario by scenario, then writes BENCHMARKS.md and the chart.
 *
 * Flags: --quick (tiny sizes: the smoke test), --only=fanout,idle,docs,coldload,
 * --servers=aqueduct,ws,..., --case=TEXT (only the fanout cases whose title contains TEXT, e.g.
 * --case="@ 100 pub"), --out=FILE (results JSON), --no-report, --no-build.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sampleProcess, type ProcSample } from './measure.js';
import { children, freePort, ROOT, startServer, wrapped, PINNING } from './proc.js';
import { busServers, docServers, JWT_SECRET, tempDataDir, type ServerSpec } from './servers/registry.js';
import type { HarnessMessage, LoadJob, LoadMessage } from './types.js';
import { writeReport } from './report.js';
import { makeHistory } from './load/history.js';

export interface NamedSample extends ProcSample { name: string; value?: number }

export interface PhaseRecord {
  scenario: string;
  server: string;
  label: string;
  job?: LoadJob;
  load?: Record<string, unknown>;
  samples: NamedSample[];
  /** The load generator's own CPU and RSS at the same points (is it the bottleneck?). */
  loadSamples: NamedSample[];
  /** /proc/loadavg before the phase: other work on the machine skews wall-clock figures. */
  loadavg?: string;
  error?: string;
  skipped?: string;
}

export interface RunResults {
  startedAt: string;
  finishedAt: string;
  durationSec: number;
  quick: boolean;
  pinned: boolean;
  phases: PhaseRecord[];
}

interface FanoutCase { id: string; rooms: number; subscribersPerRoom: number; pubsPerSec: number; measureMs: number; drainMs: number }

interface Plan {
  fanout: FanoutCase[];
  warmupMs: number;
  idleCheckpoints: number[];
  idleSettleMs: number;
  docClients: number;
  docUpdatesPerSecPerClient: number;
  docMeasureMs: number;
  coldUpdates: number;
}

export const FULL: Plan = {
  fanout: [
    { id: 'fanout 1 room x 1,000 subs @ 100 pub/s', rooms: 1, subscribersPerRoom: 1000, pubsPerSec: 100, measureMs: 10_000, drainMs: 10_000 },
    { id: 'fanout 1 room x 1,000 subs @ 300 pub/s', rooms: 1, subscribersPerRoom: 1000, pubsPerSec: 300, measureMs: 10_000, drainMs: 10_000 },
    { id: 'fanout 1 room x 1,000 subs @ 1,000 pub/s', rooms: 1, subscribersPerRoom: 1000, pubsPerSec: 1000, measureMs: 6_000, drainMs: 6_000 },
    { id: 'fanout 100 rooms x 10 subs @ 1,000 pub/s', rooms: 100, subscribersPerRoom: 10, pubsPerSec: 1000, measureMs: 10_000, drainMs: 10_000 },
  ],
  warmupMs: 3000,
  idleCheckpoints: [10_000, 19_000],
  idleSettleMs: 3000,
  docClients: 50,
  docUpdatesPerSecPerClient: 2,
  docMeasureMs: 10_000,
  coldUpdates: 100_000,
};

const QUICK: Plan = {
  fanout: [{ id: 'fanout 1 room x 20 subs @ 50 pub/s', rooms: 1, subscribersPerRoom: 20, pubsPerSec: 50, measureMs: 1000, drainMs: 5000 }],
  warmupMs: 300,
  idleCheckpoints: [20, 40],
  idleSettleMs: 200,
  docClients: 3,
  docUpdatesPerSecPerClient: 5,
  docMeasureMs: 1000,
  coldUpdates: 200,
};

function arg(name: string): string | undefined {
  const hit = process.argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (!hit) return undefined;
  return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : 'true';
}

/**
 * Writes `n` updates straight into Aqueduct's default DocStore (SQLite in the data dir) before the
 * server starts: the document's log is then `n` uncompacted updates, the worst case of a cold load.
 */
async function seedDocStore(dataDir: string, n: number): Promise<void> {
  const mod = (await import(join(ROOT, 'packages/server/dist/docs/doc-store-sqlite.js'))) as {
    SqliteDocStore: { forDataDir(dir: string, file: string, sync: 'normal' | 'full'): { append(i: { doc: string; update: Uint8Array; author: string; time: number }): Promise<unknown>; close(): Promise<void> } };
  };
  const store = mod.SqliteDocStore.forDataDir(dataDir, 'docs.sqlite', 'normal');
  const time = Date.now();
  for (const update of makeHistory(n)) await store.append({ doc: 'bench:doc', update, author: 'bench-seed', time });
  await store.close();
}

const LOG_DIR = join(ROOT, 'bench/results/logs');
/** `AQUEDUCT_BENCH_LOADGEN_FLAGS`: Node/V8 flags for the load generator (experiments, e.g. `--trace-gc`). */
const LOADGEN_FLAGS = (process.env.AQUEDUCT_BENCH_LOADGEN_FLAGS ?? '').split(' ').filter(Boolean);

/** Runs one load job against one server; the harness samples the server at each sync point. */
async function runPhase(scenario: string, spec: ServerSpec, makeJob: (port: number) => LoadJob, opts: { settleMs: number; timeoutMs: number; prepare?: (dataDir: string) => Promise<void> }): Promise<PhaseRecord> {
  const record: PhaseRecord = { scenario, server: spec.name, label: spec.label, samples: [], loadSamples: [], loadavg: readFileSync('/proc/loadavg', 'utf8').trim() };
  const why = spec.unavailable?.();
  if (why) {
    record.skipped = why;
    console.log(`  ${spec.label}: skipped (${why})`);
    return record;
  }
  const port = await freePort();
  const dataDir = tempDataDir();
  const logFile = join(LOG_DIR, `${scenario.replace(/[^a-z0-9]+/gi, '-')}-${spec.name}.log`);
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  const started = performance.now();
  try {
    await opts.prepare?.(dataDir);
    server = await startServer(spec.argv(port, dataDir), { port, env: spec.env, logFile, core: 0 });
    const pid = server.pid;
    await new Promise((r) => setTimeout(r, 1000));
    record.samples.push({ name: 'baseline', ...sampleProcess(pid) });
    const job = makeJob(port);
    record.job = job;
    record.load = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const [cmd, args] = wrapped(1, [process.execPath, ...LOADGEN_FLAGS, '--import', 'tsx', join(ROOT, 'bench/src/load/main.ts')]);
      const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.add(child);
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`phase timed out after ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
      let done = false;
      child.on('message', (raw) => {
        const msg = raw as LoadMessage;
        if (msg.type === 'sync') {
          const reply = () => {
            try {
              record.samples.push({ name: msg.name, value: msg.value, ...sampleProcess(pid) });
              if (child.pid) record.loadSamples.push({ name: msg.name, value: msg.value, ...sampleProcess(child.pid) });
            } catch (err) {
              record.error = `server gone: ${(err as Error).message}`;
            }
            child.send({ type: 'sync-ok', id: msg.id } satisfies HarnessMessage);
          };
          if (msg.name === 'checkpoint') setTimeout(reply, opts.settleMs);
          else reply();
        } else if (msg.type === 'result') {
          done = true;
          clearTimeout(timer);
          try { record.samples.push({ name: 'end', ...sampleProcess(pid) }); } catch { /* server gone */ }
          resolve(msg.result);
        } else if (msg.type === 'error') {
          done = true;
          clearTimeout(timer);
          reject(new Error(msg.message));
        }
      });
      child.once('exit', (code) => {
        children.delete(child);
        clearTimeout(timer);
        if (!done) reject(new Error(`load generator exited with ${code}`));
      });
      child.send({ type: 'job', job } satisfies HarnessMessage);
    });
  } catch (err) {
    record.error = (err as Error).message.split('\n').slice(0, 3).join(' | ');
  } finally {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`  ${spec.label}: ${record.error ? `ERROR ${record.error}` : 'ok'} (${secs} s)`);
  return record;
}

export async function runSuite(opts: { quick: boolean; only?: string[]; servers?: string[]; fanoutCase?: string; outFile: string; report: boolean; build: boolean }): Promise<RunResults> {
  const plan = opts.quick ? QUICK : FULL;
  const wanted = (s: string) => !opts.only || opts.only.includes(s);
  const pick = (list: ServerSpec[]) => list.filter((s) => !opts.servers || opts.servers.includes(s.name));
  mkdirSync(LOG_DIR, { recursive: true });
  if (opts.build) {
    const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) console.warn('build failed; benchmarking whatever is already built');
  }
  const t0 = performance.now();
  const results: RunResults = { startedAt: new Date().toISOString(), finishedAt: '', durationSec: 0, quick: opts.quick, pinned: PINNING, phases: [] };
  const phaseTimeout = (ms: number) => ms + 120_000;

  if (wanted('fanout')) {
    for (const c of plan.fanout.filter((f) => !opts.fanoutCase || f.id.includes(opts.fanoutCase))) {
      console.log(c.id);
      for (const spec of pick(busServers)) {
        results.phases.push(await runPhase(c.id, spec, (port) => ({
          kind: 'fanout', server: spec.name as 'aqueduct', port, rooms: c.rooms, subscribersPerRoom: c.subscribersPerRoom,
          pubsPerSec: c.pubsPerSec, payloadBytes: 100, warmupMs: plan.warmupMs, measureMs: c.measureMs, drainMs: c.drainMs, jwtSecret: JWT_SECRET,
        }), { settleMs: 0, timeoutMs: phaseTimeout(plan.warmupMs + c.measureMs + c.drainMs) }));
      }
    }
  }
  if (wanted('idle')) {
    const id = `idle connections (${plan.idleCheckpoints.join(', ')})`;
    console.log(id);
    for (const spec of pick(busServers)) {
      results.phases.push(await runPhase(id, spec, (port) => ({
        kind: 'idle', server: spec.name as 'aqueduct', port, checkpoints: plan.idleCheckpoints, concurrency: 200, jwtSecret: JWT_SECRET,
      }), { settleMs: plan.idleSettleMs, timeoutMs: plan === QUICK ? 30_000 : 240_000 }));
    }
  }
  if (wanted('docs')) {
    const id = `documents: ${plan.docClients} clients editing one doc`;
    console.log(id);
    for (const spec of pick(docServers)) {
      results.phases.push(await runPhase(id, spec, (port) => ({
        kind: 'docs', server: spec.name as 'aqueduct', port, clients: plan.docClients, updatesPerSecPerClient: plan.docUpdatesPerSecPerClient,
        warmupMs: plan.warmupMs, measureMs: plan.docMeasureMs, drainMs: 10_000, jwtSecret: JWT_SECRET,
      }), { settleMs: 0, timeoutMs: phaseTimeout(plan.docMeasureMs) }));
    }
  }
  if (wanted('coldload')) {
    const id = `documents: cold load of ${plan.coldUpdates.toLocaleString('en-US')} updates`;
    console.log(id);
    for (const spec of pick(docServers)) {
      results.phases.push(await runPhase(id, spec, (port) => ({
        kind: 'coldload', server: spec.name as 'aqueduct', port, seed: spec.name !== 'aqueduct', updates: plan.coldUpdates, jwtSecret: JWT_SECRET,
      }), { settleMs: 0, timeoutMs: 300_000, prepare: spec.name === 'aqueduct' ? (dir) => seedDocStore(dir, plan.coldUpdates) : undefined }));
    }
  }
  results.finishedAt = new Date().toISOString();
  results.durationSec = Math.round((performance.now() - t0) / 1000);
  writeFileSync(opts.outFile, JSON.stringify(results, null, 2));
  if (opts.report) writeReport(results);
  return results;
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!);
if (isMain) {
  const quick = arg('quick') === 'true';
  const outFile = arg('out') ?? join(ROOT, 'bench/results', quick ? 'quick.json' : 'latest.json');
  runSuite({
    quick,
    only: arg('only')?.split(','),
    servers: arg('servers')?.split(','),
    fanoutCase: arg('case'),
    outFile,
    report: arg('no-report') !== 'true' && !quick,
    build: arg('no-build') !== 'true',
  }).then(
    (r) => { console.log(`done in ${r.durationSec} s; results in ${outFile}`); process.exit(0); },
    (err: unknown) => { console.error(err); process.exit(1); },
  );
}
