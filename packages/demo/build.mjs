#!/usr/bin/env node
// Bundles the demo page, the whiteboard and the admin dashboard for the browser into packages/server/public/build/
// (gitignored), next to the committed HTML and CSS in packages/server/public/. Run by `npm run build`
// (and so by `npm start` and `npm test`); `--watch` rebuilds on change while developing.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const outdir = here('../server/public/build/');
mkdirSync(outdir, { recursive: true });

/** @type {import('esbuild').BuildOptions} */
const options = {
  entryPoints: { demo: here('src/demo.ts'), admin: here('src/admin.ts'), whiteboard: here('src/whiteboard/main.ts'), live: here('src/live/live.ts'), sw: here('src/sw.ts') },
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  // Workspace packages are bundled from their TypeScript sources (no prior tsc needed).
  conditions: ['aqueduct-source'],
  sourcemap: true,
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  // Node built-ins must never reach the browser bundle; fail loudly if one does.
  define: { 'process.env.NODE_ENV': '"production"' },
};

if (process.argv.includes('--watch')) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log(`demo: watching, writing to ${outdir}`);
} else {
  const result = await esbuild.build({ ...options, metafile: true });
  const bytes = Object.values(result.metafile.outputs).filter((o) => !o.entryPoint?.endsWith('.map') && o.bytes).reduce((n, o) => n + o.bytes, 0);
  console.log(`demo: bundled demo.js, admin.js, whiteboard.js, live.js and sw.js (${Math.round(bytes / 1024)} KiB with maps) into packages/server/public/build/`);
}
