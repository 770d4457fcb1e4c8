#!/usr/bin/env node
// `npm run bench [-- flags]`: runs the TypeScript harness through tsx (see bench/src/run.ts).
// `--compression` / `--compression-memory`: the permessage-deflate rows (bench/src/compression.ts,
// compression-memory.ts); `--only=crossnode`: the cross-node broker comparison (bench/src/cross-node.ts).
import { spawnSync } from 'node:child_process';
const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const source = ['--conditions=aqueduct-source', '--import', 'tsx'];
let script;
if (args.includes('--compression')) script = [...source, 'bench/src/compression.ts'];
else if (args.includes('--compression-memory')) script = [...source, 'bench/src/compression-memory.ts'];
else if (args.includes('--only=crossnode')) script = [...source, 'bench/src/cross-node.ts', ...args];
else script = ['--import', 'tsx', 'bench/src/run.ts', ...args];
const r = spawnSync(process.execPath, script, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
