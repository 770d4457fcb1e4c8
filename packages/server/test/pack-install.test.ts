// The packages as a user gets them: `npm pack` every publishable package, install the tarballs into
// a fresh project outside the repository, start the server with `npx aqueduct serve`, mint a token
// with `npx aqueduct token`, and exchange messages between two clients imported from the installed
// @aqueduct/client. Third-party dependencies come from the npm registry (through the local npm cache,
// `--prefer-offline`).
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { LineTail, REPO_ROOT, exitOf, type ExitInfo } from '@aqueduct/testkit';

const run = promisify(execFile);
const PACKAGES = ['protocol', 'client', 'react', 'server'] as const;

/** npm settings kept from `npm test`'s environment: where packages come from (a mirror, a proxy, a cache). */
const NPM_KEEP = /^npm_config_(registry|cache|proxy|https_proxy|noproxy|cafile|strict_ssl|userconfig|.*:registry)$/i;

/**
 * The environment of everything run inside the temp project: none of the test runner's or the
 * repo's settings (`npm test` exports its whole config as npm_config_*, e.g. the repo as local prefix).
 */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('npm_') && !NPM_KEEP.test(k)) continue;
    if (k.startsWith('AQUEDUCT_') || k.startsWith('NODE_TEST') || ['NODE_ENV', 'NODE_OPTIONS', 'PORT', 'HOST'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

async function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv(), timeout = 240_000): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { cwd, env, timeout, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/**
 * better-sqlite3 downloads a prebuilt binary from GitHub at install time, or compiles SQLite (a
 * minute or more) when it cannot; the test machine reaches only the npm registry. prebuild-install's
 * local-prebuilds directory (`npm_config_better_sqlite3_local_prebuilds`) is filled with the binary
 * this checkout already built, so the install takes the download path. If the names or the binary
 * do not match, prebuild-install falls back to compiling: slower, same result.
 */
function seedSqlitePrebuild(dir: string): Record<string, string> {
  const pkgDir = join(REPO_ROOT, 'node_modules/better-sqlite3');
  const binary = join(pkgDir, 'build/Release/better_sqlite3.node');
  if (!existsSync(binary)) return {};
  const { version } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string };
  mkdirSync(dir, { recursive: true });
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  return { file: join(dir, name), cwd: pkgDir, version };
}

interface Serve { url: string; pid: number; tail: LineTail; exited: Promise<ExitInfo>; stop(signal?: NodeJS.Signals): Promise<ExitInfo> }

/** Starts `aqueduct serve` (any command line) in its own process group; resolves on its "listening" log line. */
async function startServe(command: string, args: string[], cwd: string): Promise<Serve> {
  const tail = new LineTail(200);
  // Its own process group: npx → npm exec → node; the whole group is signalled.
  const child: ChildProcess = spawn(command, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = exitOf(child);
  const signal = (sig: NodeJS.Signals) => { try { process.kill(-child.pid!, sig); } catch { /* gone */ } };
  const stop = async (sig: NodeJS.Signals = 'SIGTERM') => {
    signal(sig);
    const kill = setTimeout(() => signal('SIGKILL'), 30_000);
    try { return await exited; } finally { clearTimeout(kill); }
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listening" line within 60 s:\n${tail.text()}`)), 60_000);
      const onLine = (line: string) => {
        if (!line.includes('"listening"')) return;
        const rec = JSON.parse(line) as { url?: string };
        if (rec.url) { clearTimeout(timer); resolve(rec.url); }
      };
      child.stdout!.on('data', (d: Buffer) => tail.push(d, onLine));
      child.stderr!.on('data', (d: Buffer) => tail.push(d));
      void exited.then((e) => { clearTimeout(timer); reject(new Error(`server exited (${e.code ?? e.signal}):\n${tail.text()}`)); });
    });
    return { url, pid: child.pid!, tail, exited, stop };
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
}

describe('npm pack → npm install in a fresh project → npx aqueduct', { timeout: 600_000 }, () => {
  let tmp: string;
  let project: string;
  const tarballs: Record<string, string> = {};
  const files: Record<string, string[]> = {};
  const timings: Record<string, number> = {};

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'aqueduct-pack-'));
    let t0 = Date.now();
    const out = join(tmp, 'tarballs');
    mkdirSync(out);
    // `prepack` (scripts/prepack.mjs) compiles each package and bundles the server's pages.
    const json = await sh('npm', ['pack', '--json', '--pack-destination', out, ...PACKAGES.flatMap((p) => ['-w', `packages/${p}`])], REPO_ROOT, cleanEnv());
    // Lifecycle scripts print to the same stdout: the JSON report is the last thing, from a line starting with '['.
    const packed = JSON.parse(json.slice(json.search(/^\[/m))) as Array<{ name: string; filename: string; files: Array<{ path: string }> }>;
    for (const p of packed) {
      tarballs[p.name] = join(out, p.filename);
      files[p.name] = p.files.map((f) => f.path);
    }

    timings.packMs = Date.now() - t0;
    t0 = Date.now();
    project = join(tmp, 'app');
    mkdirSync(project);
    const prebuilds = join(tmp, 'prebuilds');
    const seed = seedSqlitePrebuild(prebuilds);
    // better-sqlite3 at the version whose binary was seeded (within the server's declared range).
    const overrides = seed.version ? { 'better-sqlite3': seed.version } : {};
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'aqueduct-pack-test-app', private: true, type: 'module', overrides }, null, 2));
    if (seed.file) await sh('tar', ['czf', seed.file, 'build/Release/better_sqlite3.node'], seed.cwd);
    await sh('npm', [
      'install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error',
      ...PACKAGES.map((p) => tarballs[`@aqueduct/${p}`]), 'ws',
    ], project, cleanEnv({ npm_config_better_sqlite3_local_prebuilds: prebuilds }), 400_000);
    timings.installMs = Date.now() - t0;
  });

  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('every tarball holds compiled JS and declarations, no tests; the server holds its bin and pages', (t) => {
    t.diagnostic(`npm pack ${timings.packMs} ms, npm install ${timings.installMs} ms`);
    for (const p of PACKAGES) {
      const list = files[`@aqueduct/${p}`];
      assert.ok(list, `@aqueduct/${p} was packed`);
      assert.ok(list.includes('dist/index.js') && list.includes('dist/index.d.ts'), `@aqueduct/${p}: dist/index.js and .d.ts`);
      assert.ok(!list.some((f) => f.startsWith('test/') || f.endsWith('.tsbuildinfo')), `@aqueduct/${p}: no tests, no build info`);
      // prepack drops outputs whose source is gone: every compiled file has its source next to it.
      const stale = list.filter((f) => f.startsWith('dist/') && f.endsWith('.js') && !list.includes(`src/${f.slice(5, -3)}.ts`));
      assert.deepEqual(stale, [], `@aqueduct/${p}: compiled files without a source`);
      const manifest = JSON.parse(readFileSync(join(project, 'node_modules/@aqueduct', p, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
        assert.doesNotMatch(range, /^(workspace:|file:|\*)/, `@aqueduct/${p}: ${dep} has a real version`);
      }
    }
    for (const f of ['dist/cli.js', 'bin/aqueduct.js', 'public/index.html', 'public/admin.html', 'public/build/demo.js', 'public/build/admin.js']) {
      assert.ok(files['@aqueduct/server'].includes(f), `@aqueduct/server tarball holds ${f}`);
    }
    for (const p of PACKAGES) assert.ok(files[`@aqueduct/${p}`].includes('README.md'), `@aqueduct/${p}: README.md`);
    for (const f of ['dist/yjs.js', 'dist/msgpack.js']) assert.ok(files['@aqueduct/client'].includes(f), `@aqueduct/client tarball holds ${f}`);
  });

  test('the installed declarations type-check a consumer (typed rooms)', async () => {
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, lib: ['ES2023', 'DOM'], types: [] },
      files: ['typed.ts'],
    }));
    writeFileSync(join(project, 'typed.ts'), [
      "import { AqueductClient, type RoomMessage } from '@aqueduct/client';",
      "import { useRoom } from '@aqueduct/react';",
      "import { CloseCodes } from '@aqueduct/protocol';",
      'type Chat = { text: string };',
      "const client = new AqueductClient({ url: 'http://127.0.0.1:1', token: 't' });",
      "const room = client.room<Chat>('chat:lobby');",
      "room.on('message', (m: RoomMessage<Chat>) => m.data.text.toUpperCase());",
      "void room.publish({ text: 'hi' });",
      '// @ts-expect-error: payloads are typed (this fails to compile if the types did not resolve)',
      'void room.publish({ txt: 1 });',
      'export const hook: typeof useRoom = useRoom;',
      'export const shutdown: number = CloseCodes.SHUTDOWN.code;',
    ].join('\n'));
    await sh(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], project);
  });

  test('CommonJS can require() the installed packages (Node >= 20.19: require of ES modules)', {
    skip: process.version.localeCompare('v20.19.0', undefined, { numeric: true }) < 0 ? `Node ${process.version}` : false,
  }, async () => {
    writeFileSync(join(project, 'require.cjs'), [
      "const { AqueductClient } = require('@aqueduct/client');",
      "const { createServer } = require('@aqueduct/server');",
      "const { CloseCodes } = require('@aqueduct/protocol');",
      "console.log(typeof AqueductClient, typeof createServer, CloseCodes.SHUTDOWN.code);",
    ].join('\n'));
    assert.equal((await sh(process.execPath, ['require.cjs'], project)).trim().split('\n').pop(), 'function function 4000');
  });

  test('npx aqueduct --help and serve --help print usage', async () => {
    for (const args of [['--help'], ['serve', '--help'], ['token', '--help']]) {
      const { stdout, stderr } = await run('npx', ['--no-install', 'aqueduct', ...args], { cwd: project, env: cleanEnv(), timeout: 60_000 });
      assert.match(stdout + stderr, /Usage:[\s\S]*aqueduct serve/, `aqueduct ${args.join(' ')}`);
      assert.doesNotMatch(stdout + stderr, /not built yet/);
    }
  });

  test('npx aqueduct serve + npx aqueduct token + two installed clients exchange messages over /ws', async (t) => {
    const dataDir = join(tmp, 'data');
    const server = await startServe('npx', ['--no-install', 'aqueduct', 'serve', '--port', '0', '--data-dir', dataDir], project);
    t.after(() => server.stop());
    const { url, tail } = server;

    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 200, await ready.text());
    // The pages shipped in the tarball are served from the installed package.
    const admin = await fetch(`${url}/admin`);
    assert.equal(admin.status, 200);
    assert.match(await admin.text(), /<html/i);
    const adminJs = await fetch(`${url}/build/admin.js`);
    assert.equal(adminJs.status, 200, 'the bundled admin script ships in the tarball');
    assert.ok((await adminJs.text()).length > 1000);

    const token = async (sub: string) => (await sh('npx', ['--no-install', 'aqueduct', 'token', '--data-dir', dataDir, '--sub', sub, '--room', 'chat:*=sub,pub'], project)).trim();
    const [alice, bob] = [await token('alice'), await token('bob')];
    assert.match(alice, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');

    writeFileSync(join(project, 'chat.mjs'), CHAT_SCRIPT);
    const out = await sh(process.execPath, ['chat.mjs', url, alice, bob], project, cleanEnv(), 60_000);
    const result = JSON.parse(out.trim().split('\n').pop()!) as { bobGot: { from: string; text: string }; aliceGot: { from: string; text: string } };
    assert.deepEqual(result, {
      bobGot: { from: 'alice', text: 'hello from alice (json)' },
      aliceGot: { from: 'bob', text: 'hello from bob (msgpack)' },
    }, tail.text());
  });

  test('npm install -g of the tarballs: the global `aqueduct` serves, mints tokens, and on SIGTERM fails /readyz first (default grace) then exits 0', async () => {
    const prefix = join(tmp, 'global');
    await sh('npm', [
      'install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error',
      tarballs['@aqueduct/protocol'], tarballs['@aqueduct/server'],
    ], tmp, cleanEnv({ npm_config_better_sqlite3_local_prebuilds: join(tmp, 'prebuilds') }), 400_000);
    const bin = join(prefix, 'bin', 'aqueduct');
    assert.match(await sh(bin, ['serve', '--help'], tmp), /Usage:/);
    const dataDir = join(tmp, 'global-data');
    const server = await startServe(bin, ['serve', '--port', '0', '--data-dir', dataDir], tmp);
    try {
      assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
      const token = (await sh(bin, ['token', '--data-dir', dataDir, '--sub', 'dana', '--room', 'chat:x=sub'], tmp)).trim();
      const history = await fetch(`${server.url}/api/rooms/chat:x/history`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(history.status, 200, await history.text());
      process.kill(-server.pid, 'SIGTERM');
      let status = 200;
      const deadline = Date.now() + 30_000;
      while (status === 200 && Date.now() < deadline) {
        status = (await fetch(`${server.url}/readyz`)).status;
        if (status === 200) await new Promise((r) => setTimeout(r, 25));
      }
      assert.equal(status, 503, 'readyz fails during the default shutdown.readyzGraceMs (2000 ms)');
      assert.equal((await server.exited).code, 0, server.tail.text());
    } finally {
      await server.stop('SIGKILL');
    }
  });
});

/** Run with node inside the temp project: only the installed packages resolve there. */
const CHAT_SCRIPT = `
import WebSocket from 'ws';
import { AqueductClient } from '@aqueduct/client';
import { msgpackCodec } from '@aqueduct/client/msgpack';

const [url, aliceToken, bobToken] = process.argv.slice(2);
const timer = setTimeout(() => { console.error('chat: timed out'); process.exit(1); }, 45_000);
const alice = new AqueductClient({ url, token: aliceToken, WebSocket });
const bob = new AqueductClient({ url, token: bobToken, WebSocket, codec: msgpackCodec });
const a = alice.room('chat:lobby');
const b = bob.room('chat:lobby');
await Promise.all([a.ready(), b.ready()]);
// Resolves with the first message in the room sent by \`from\` (a publisher may also see its own).
const next = (room, from) => new Promise((resolve) => room.on('message', (m) => {
  if (m.from?.user === from) resolve({ from: m.from.user, text: m.data.text });
}));
const bobGets = next(b, 'alice');
await a.publish({ text: 'hello from alice (json)' });
const bobGot = await bobGets;
const aliceGets = next(a, 'bob');
await b.publish({ text: 'hello from bob (msgpack)' });
const aliceGot = await aliceGets;
alice.close();
bob.close();
clearTimeout(timer);
console.log(JSON.stringify({ bobGot, aliceGot }));
`;
