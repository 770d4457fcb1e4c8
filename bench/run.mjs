#!/usr/bin/env node
// `npm run bench [-- flags]`: runs the TypeScript harness through tsx (see bench/src/run.ts).
import { spawnSync } from 'node:child_process';
const root = new URL('..', import.meta.url).pathname;
const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/src/run.ts', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
