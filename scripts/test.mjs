#!/usr/bin/env node
// Runs every test file with node's test runner (TypeScript through tsx, workspace packages from
// source via the "aqueduct-source" export condition). Usage: npm test [-- file-or-substring ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureSystemDeps } from './system-deps.mjs';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir, out) {
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = [...walk(join(root, 'packages'), []), ...walk(join(root, 'bench'), [])]
  .sort()
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));

if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

ensureSystemDeps();

// The demo bundle and the compiled CLI are part of what the tests exercise.
const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

// A full run also type-checks the tests and the benchmark (the build covers only the packages' sources).
if (filters.length === 0) {
  const typecheck = spawnSync('npm', ['run', 'typecheck', '--silent'], { cwd: root, stdio: 'inherit' });
  if (typecheck.status !== 0) process.exit(typecheck.status ?? 1);
}

const result = spawnSync(process.execPath, [
  '--conditions=aqueduct-source', '--import', 'tsx',
  '--test', '--test-reporter=spec', '--test-timeout=900000',
  ...files,
], { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } });
process.exit(result.status ?? 1);
