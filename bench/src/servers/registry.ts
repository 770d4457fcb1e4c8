import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../proc.js';
import type { BusServerName, DocServerName } from '../types.js';

/** How the harness starts one server under test. */
export interface ServerSpec {
  name: BusServerName | DocServerName;
  /** Shown in the report. */
  label: string;
  /** npm packages whose versions the report names. */
  packages: string[];
  /** The command line (run from the repository root). */
  argv(port: number, dataDir: string): string[];
  env?: NodeJS.ProcessEnv;
  /** Why it cannot run, if it cannot (e.g. Aqueduct not built). */
  unavailable?(): string | undefined;
}

/** Shared by the harness (server env) and the load generator (signs its own tokens). */
export const JWT_SECRET = 'aqueduct-bench-secret-0123456789abcdef';

// Peer servers run from TypeScript through tsx, without the `source` condition (that would load
// some packages, e.g. Hocuspocus, from their TypeScript sources instead of their published builds).
const tsxScript = (file: string) => (port: number) => [process.execPath, '--import', 'tsx', join(ROOT, 'bench/src/servers', file), '--port', String(port)];

/** `AQUEDUCT_CLI` points the harness at another build (e.g. an experimental one). */
const AQUEDUCT_CLI = process.env.AQUEDUCT_CLI ?? join(ROOT, 'packages/server/dist/cli.js');
/** `AQUEDUCT_BENCH_NODE_FLAGS`: Node/V8 flags for the Aqueduct process only (experiments, e.g. `--trace-gc`). */
const NODE_FLAGS = (process.env.AQUEDUCT_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);

export const aqueduct: ServerSpec = {
  name: 'aqueduct',
  label: 'Aqueduct',
  packages: ['ws'],
  argv: (port, dataDir) => [
    process.execPath, ...NODE_FLAGS, AQUEDUCT_CLI, 'serve', '--port', String(port), '--host', '127.0.0.1',
    '--data-dir', dataDir, '--log-level', 'warn',
    // The load generator's single publisher connection publishes up to 1,000/s: lift the
    // per-connection client publish rate limit of the `bench` namespace (defaults: 100/s, burst 200).
    '--set', 'namespaces.bench.publishRatePerSec=1000000', '--set', 'namespaces.bench.publishBurst=1000000',
    ...(process.env.AQUEDUCT_BENCH_SET ?? '').split(' ').filter(Boolean).flatMap((kv) => ['--set', kv]),
  ],
  env: { AQUEDUCT_JWT_SECRET: JWT_SECRET },
  unavailable: () => (existsSync(AQUEDUCT_CLI) ? undefined : 'packages/server/dist/cli.js missing (npm run build)'),
};

export const busServers: ServerSpec[] = [
  aqueduct,
  { name: 'ws', label: 'bare ws', packages: ['ws'], argv: tsxScript('ws-bare.ts') },
  { name: 'socketio', label: 'Socket.IO 4', packages: ['socket.io'], argv: tsxScript('socketio.ts') },
];

export const docServers: ServerSpec[] = [
  aqueduct,
  { name: 'hocuspocus', label: 'Hocuspocus', packages: ['@hocuspocus/server', 'yjs'], argv: tsxScript('hocuspocus.ts') },
  { name: 'y-websocket', label: 'y-websocket server', packages: ['@y/websocket-server', 'yjs'], argv: tsxScript('y-websocket.ts') },
];

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'aqueduct-bench-'));
}
