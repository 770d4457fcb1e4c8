#!/usr/bin/env node
// `npm run bench [-- flags]`: runs the TypeScript harness through tsx (see bench/src/run.ts).
import { spawnSync } from 'node:child_process';
const root = new URL('..', import.meta.url).pathname;
// `--compression`: the permessage-deflate rows (bench/src/compression.ts) instead of the suite.
const args = process.argv.slice(2);
const script = args.includes('--compression') || args.includes('--compression-memory')
  ? ['--conditions=aqueduct-source', '--import', 'tsx', `bench/src/${args.includes('--compression') ? 'compression' : 'compression-memory'}.ts`]
  : ['--import', 'tsx', 'bench/src/run.ts', ...args];
const r = spawnSync(process.execPath, script, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
