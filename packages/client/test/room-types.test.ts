import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { Room, RoomMessage } from '../src/index.js';
import { startRealServer, type RealServer } from './real-server.js';

/**
 * `client.room<Msg>(name)`: payloads are typed. The `@ts-expect-error` lines are the type test —
 * `npm run typecheck` (tsconfig.json includes packages/*\/test) fails if any of them compiles —
 * and the runtime part checks that typed messages really flow.
 */
type Chat = { kind: 'chat'; text: string } | { kind: 'typing'; user: string };

function typeChecks(room: Room<Chat>, untyped: Room): void {
  void room.publish({ kind: 'chat', text: 'hi' });
  room.publishVolatile({ kind: 'typing', user: 'ann' });
  // @ts-expect-error: a payload that is not a Chat
  void room.publish({ kind: 'chat', txt: 'typo' });
  // @ts-expect-error: wrong discriminant
  void room.publish({ kind: 'shout', text: 'HI' });
  // @ts-expect-error: volatile publishes are typed too
  room.publishVolatile('a string');
  room.on('message', (m) => {
    const data: Chat = m.data;
    if (data.kind === 'chat') {
      const text: string = data.text;
      void text;
      // @ts-expect-error: `user` is not a field of the chat variant
      void data.user;
    }
  });
  // @ts-expect-error: a handler typed for another payload
  room.on('message', (m: RoomMessage<{ other: number }>) => void m);
  // Without a type argument, payloads stay `unknown` (the default).
  void untyped.publish(42);
  untyped.on('message', (m) => {
    // @ts-expect-error: unknown data must be narrowed before use
    void m.data.text;
  });
}
void typeChecks;

describe('typed rooms: client.room<Msg>()', () => {
  test('tsc checks this file: every @ts-expect-error above is a real type error (also when run alone)', async () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'aqueduct-types-'));
    try {
      const config = join(dir, 'tsconfig.json');
      writeFileSync(config, JSON.stringify({
        extends: join(root, 'tsconfig.json'),
        compilerOptions: { typeRoots: [join(root, 'node_modules/@types')] },
        include: [],
        files: [fileURLToPath(import.meta.url)],
      }));
      await promisify(execFile)(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', config], { cwd: root, timeout: 240_000 })
        .catch((e: Error & { stdout?: string }) => assert.fail(`tsc reported errors:\n${e.stdout ?? e.message}`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  let s: RealServer;
  before(async () => { s = await startRealServer(); });
  after(async () => { await s.close(); });

  test('typed payloads published by one client arrive typed at the other', async () => {
    const token = await s.token('u', { 'chat:*': ['sub', 'pub'] });
    const a = s.client(token).room<Chat>('chat:typed');
    const b = s.client(token).room<Chat>('chat:typed');
    await Promise.all([a.ready(), b.ready()]);
    const got = new Promise<Chat>((resolve) => b.once('message', (m) => resolve(m.data)));
    await a.publish({ kind: 'chat', text: 'hello' });
    const data = await got;
    assert.equal(data.kind, 'chat');
    assert.deepEqual(data, { kind: 'chat', text: 'hello' });
  });
});
