#!/usr/bin/env node
// `npm run bench [-- flags]`: runs the TypeScript harness through tsx (see bench/src/run.ts).
// `--only=crossnode` runs the cross-node broker comparison instead (bench/src/cross-node.ts).
import { spawnSync } from 'node:child_process';
const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const crossNode = args.includes('--only=crossnode');
const script = crossNode ? 'bench/src/cross-node.ts' : 'bench/src/run.ts';
const flags = crossNode ? ['--conditions=aqueduct-source', '--import', 'tsx'] : ['--import', 'tsx'];
const r = spawnSync(process.execPath, [...flags, script, ...args], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
