import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { build } from 'esbuild';

/**
 * What a browser bundle of the SDK is made of (composition, not size: the size is measured by
 * scripts/bundle-size.mjs and stated in the README). Bundled as an app would: esbuild, browser
 * platform, tree-shaken, every export of the entry kept.
 */
const root = fileURLToPath(new URL('../../..', import.meta.url));

async function inputsOf(contents: string): Promise<string[]> {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'js', sourcefile: 'app.js' },
    bundle: true, write: false, format: 'esm', platform: 'browser', target: ['es2022'], minify: true,
    metafile: true, conditions: ['aqueduct-source'], logLevel: 'error',
  });
  const [output] = Object.values(result.metafile.outputs);
  // Files that contributed code (metafile.inputs also lists files that were shaken off).
  return Object.entries(output.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([path]) => path);
}

// `(disabled):` inputs are the empty stubs of modules the package's `browser` field maps to false.
const has = (inputs: string[], pkg: string) => inputs.some((p) => !p.startsWith('(disabled):') && p.includes(`node_modules/${pkg}/`));

test('a JSON-only app bundles neither msgpackr nor the Node EventSource polyfill', async () => {
  const inputs = await inputsOf("export * from '@aqueduct/client';");
  assert.ok(inputs.some((p) => p.endsWith('packages/client/src/client.ts')), 'the SDK itself is in the bundle');
  assert.equal(has(inputs, 'msgpackr'), false, `msgpackr in the JSON-only bundle: ${inputs.join(', ')}`);
  assert.equal(inputs.some((p) => p.endsWith('codec-msgpack.ts')), false, 'the MessagePack codec module');
  assert.equal(has(inputs, 'eventsource'), false, 'browsers have EventSource; the polyfill is for Node');
});

test('an app that imports @aqueduct/client/msgpack gets msgpackr', async () => {
  const inputs = await inputsOf("export * from '@aqueduct/client'; export * from '@aqueduct/client/msgpack';");
  assert.equal(has(inputs, 'msgpackr'), true);
});

test('offline storage is opt-in: only an app that imports @aqueduct/client/offline bundles it', async () => {
  const storage = ['offline.ts', 'outbox-stored.ts', 'storage.ts', 'storage-indexeddb.ts', 'storage-memory.ts', 'storage-file.ts'];
  const plain = await inputsOf("export * from '@aqueduct/client';");
  assert.deepEqual(plain.filter((p) => storage.some((f) => p.endsWith(`packages/client/src/${f}`))), [], 'storage code in the plain bundle');
  const offline = await inputsOf("export * from '@aqueduct/client'; export * from '@aqueduct/client/offline';");
  for (const f of ['offline.ts', 'outbox-stored.ts', 'storage-indexeddb.ts']) assert.ok(offline.some((p) => p.endsWith(`packages/client/src/${f}`)), f);
  // The Node file store is its own entry: no node:fs in a browser bundle.
  assert.equal(offline.some((p) => p.endsWith('storage-file.ts')), false);
});
