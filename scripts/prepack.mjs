#!/usr/bin/env node
// `prepack` of every publishable package (npm runs it with the package as cwd, before `npm pack` and
// `npm publish`): compiles the package and its references with `tsc -b`, deletes outputs in dist/
// whose source file no longer exists (a moved or deleted module must not ship as a stale copy), and
// for @aqueduct/server bundles the demo page and admin dashboard into public/build/ (served from the
// tarball) unless that bundle is newer than its sources. Packing happens from this repository only; an installed tarball never runs this script.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkgDir = process.cwd();
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`prepack ${pkg.name}: ${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})\n`);
    process.exit(r.status ?? 1);
  }
}

/** The source a dist/ output came from: dist/a/b.js, .js.map, .d.ts, .d.ts.map → src/a/b.ts. */
function sourceOf(outRel) {
  const m = /^(.*?)(\.d\.ts\.map|\.d\.ts|\.js\.map|\.js)$/.exec(outRel);
  return m ? join(pkgDir, 'src', `${m[1]}.ts`) : undefined;
}

/** Removes stale outputs under dir; returns whether dir is now empty. */
function prune(dir) {
  let empty = true;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (prune(p)) rmdirSync(p);
      else empty = false;
      continue;
    }
    const src = sourceOf(relative(join(pkgDir, 'dist'), p));
    if (src !== undefined && !existsSync(src)) {
      unlinkSync(p);
      process.stderr.write(`prepack ${pkg.name}: removed stale ${relative(pkgDir, p)}\n`);
    } else empty = false;
  }
  return empty;
}

/** The newest modification time under the given files and directories (0 if none exist). */
function newest(paths) {
  let t = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.isDirectory()) t = Math.max(t, newest(readdirSync(p).map((n) => join(p, n))));
    else t = Math.max(t, st.mtimeMs);
  }
  return t;
}

/**
 * Whether the server's page bundles are older than what they are built from (or missing). A fresh
 * bundle (`npm run build` just ran, as in `npm test`) is not rewritten: servers that other tests
 * run from this checkout may be serving those files at that moment.
 */
function pagesStale() {
  const outputs = ['demo.js', 'admin.js'].map((f) => join(pkgDir, 'public/build', f));
  if (!outputs.every((f) => existsSync(f))) return true;
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  const inputs = ['packages/demo/src', 'packages/demo/build.mjs', 'packages/client/src', 'packages/protocol/src', 'packages/server/src', 'package-lock.json'];
  return newest(inputs.map((p) => join(root, p))) > built;
}

run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', pkgDir]);
if (existsSync(join(pkgDir, 'dist'))) prune(join(pkgDir, 'dist'));
if (pkg.name === '@aqueduct/server' && pagesStale()) run(process.execPath, [join(root, 'packages/demo/build.mjs')]);
