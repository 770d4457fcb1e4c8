import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as Y from 'yjs';
import { signToken, spawnServer, type ServerProcess } from '@aqueduct/testkit';
import { connectProvider, synced, until, type TestProvider } from './docs-helpers.js';

const SECRET = 'kill9-secret-0123456789abcdef';

describe('docs: kill -9', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-docs-kill9-'));
  const procs: ServerProcess[] = [];
  const providers: TestProvider[] = [];
  after(async () => {
    for (const p of providers) p.destroy();
    for (const p of procs) await p.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  const env = { AQUEDUCT_DATA_DIR: dataDir, AQUEDUCT_JWT_SECRET: SECRET, AQUEDUCT_LOG_LEVEL: 'info' };

  test('a restarted server serves every update that had been broadcast', async () => {
    const first = await spawnServer({ env });
    procs.push(first);
    const yjsUrl = first.url.replace('http', 'ws') + '/yjs';
    const doc = 'doc:crash';
    const writerToken = await signToken(SECRET, { sub: 'writer', rooms: { 'doc:*': ['sub', 'pub'] } });
    const readerToken = await signToken(SECRET, { sub: 'reader', rooms: { 'doc:*': ['sub'] } });
    const writer = connectProvider(yjsUrl, doc, writerToken);
    // Read-only: everything it holds came from the server's broadcasts, nothing from itself.
    const observer = connectProvider(yjsUrl, doc, readerToken);
    providers.push(writer, observer);
    await Promise.all([synced(writer), synced(observer)]);

    // Edit continuously; kill the server in the middle of the stream.
    let stop = false;
    const editing = (async () => {
      for (let i = 0; !stop; i++) {
        const text = writer.ydoc.getText('text');
        if (i % 7 === 6 && text.length > 3) text.delete(i % text.length, 1);
        else text.insert(text.length, String.fromCharCode(97 + (i % 26)));
        writer.ydoc.getMap('map').set(`k${i % 5}`, i);
        if (i % 20 === 19) await new Promise((r) => setImmediate(r));
      }
    })();
    await until(() => observer.ydoc.getText('text').length >= 300, 30_000, 'observer received a stream of updates');
    const killed = first.kill('SIGKILL');
    // Freeze the observer's view at the crash: no reconnect, no more input.
    await killed;
    observer.provider.disconnect();
    stop = true;
    await editing;
    writer.provider.disconnect();
    const seen = Y.encodeStateAsUpdate(observer.ydoc);
    assert.ok(observer.ydoc.getText('text').length >= 300);

    const second = await spawnServer({ env });
    procs.push(second);
    const fresh = connectProvider(second.url.replace('http', 'ws') + '/yjs', doc, readerToken);
    providers.push(fresh);
    await synced(fresh);
    // Every operation the observer saw is on the restarted server: merging the observer's state
    // into the fresh copy adds nothing.
    const sv = Y.decodeStateVector(Y.encodeStateVector(fresh.ydoc));
    for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(observer.ydoc))) {
      assert.ok((sv.get(client) ?? 0) >= clock, `client ${client}: server has ${sv.get(client) ?? 0} of ${clock}`);
    }
    const merged = new Y.Doc();
    Y.applyUpdate(merged, Y.encodeStateAsUpdate(fresh.ydoc));
    const before = merged.getText('text').toString();
    Y.applyUpdate(merged, seen);
    assert.equal(merged.getText('text').toString(), before);
    await second.kill('SIGTERM');
  });
});
