#!/usr/bin/env node
// Measures the browser bundle of the client SDK, min+gz, the way an app bundles it: esbuild,
// browser platform, ESM, minified, tree-shaken, every import of the entry kept alive; gzip level 9.
// Compares with socket.io-client measured the same way. Usage: node scripts/bundle-size.mjs [--json]
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/** What each measured app imports (everything the entry exports, so nothing is shaken off unfairly). */
export const CASES = {
  'client, JSON only': "export * from '@aqueduct/client';",
  'client + MessagePack': "export * from '@aqueduct/client'; export * from '@aqueduct/client/msgpack';",
  'client + offline storage': "export * from '@aqueduct/client'; export * from '@aqueduct/client/offline';",
  'socket.io-client': "export * from 'socket.io-client';",
};

/** Bundles `contents` as an app entry; returns the output's size, gzipped size and the inputs it holds. */
export async function bundle(contents) {
  const result = await esbuild.build({
    stdin: { contents, resolveDir: root, loader: 'js', sourcefile: 'app.js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    metafile: true,
    // The workspace packages from their sources (what `npm run build` compiles to dist/).
    conditions: ['aqueduct-source'],
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'error',
  });
  const code = result.outputFiles[0].contents;
  const [output] = Object.values(result.metafile.outputs);
  return {
    bytes: code.length,
    gzipBytes: gzipSync(code, { level: 9 }).length,
    // The files that contributed code to the output (metafile.inputs also lists what was shaken off).
    inputs: Object.entries(output.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([k]) => k),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = [];
  for (const [name, contents] of Object.entries(CASES)) {
    const { bytes, gzipBytes, inputs } = await bundle(contents);
    rows.push({ name, minKB: +(bytes / 1024).toFixed(1), minGzKB: +(gzipBytes / 1024).toFixed(1), msgpackr: inputs.some((i) => i.includes('node_modules/msgpackr/')) });
  }
  if (process.argv.includes('--json')) console.log(JSON.stringify(rows, null, 2));
  else for (const r of rows) console.log(`${r.name.padEnd(24)} ${String(r.minKB).padStart(6)} KB min  ${String(r.minGzKB).padStart(5)} KB min+gz  msgpackr: ${r.msgpackr ? 'yes' : 'no'}`);
}
