import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import * as encoding from 'lib0/encoding';
import { binaryFrame, framePayloadBytes } from '../src/ws/ws-frame.js';
import { syncUpdateWire } from '../src/docs/yjs.js';

describe('binaryFrame', () => {
  let http: Server | undefined;
  const clients: WebSocket[] = [];
  after(async () => {
    for (const c of clients) c.terminate();
    if (http) await new Promise((r) => http!.close(r));
  });

  test('frames of every length class arrive intact and in order, interleaved with ws.send', async () => {
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    http = createServer();
    const accepted = new Promise<{ ws: WebSocket; socket: Duplex }>((resolve) => {
      http!.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => resolve({ ws, socket })));
    });
    await new Promise<void>((r) => http!.listen(0, '127.0.0.1', r));
    const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
    clients.push(client);
    const sizes = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000];
    const got: Buffer[] = [];
    const all = new Promise<void>((resolve, reject) => {
      client.on('message', (data, isBinary) => {
        if (!isBinary) reject(new Error('text frame'));
        got.push(data as Buffer);
        if (got.length === sizes.length * 2) resolve();
      });
      client.on('error', reject);
    });
    const { ws, socket } = await accepted;
    const payload = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
    for (const n of sizes) {
      socket.write(binaryFrame(payload(n, 1)));
      ws.send(payload(n, 2), { binary: true });
    }
    await all;
    sizes.forEach((n, i) => {
      assert.deepEqual(new Uint8Array(got[2 * i]), payload(n, 1), `direct frame of ${n} bytes`);
      assert.deepEqual(new Uint8Array(got[2 * i + 1]), payload(n, 2), `ws.send of ${n} bytes`);
    });
    wss.close();
  });

  test('syncUpdateWire is the frame of the lib0-encoded sync update message', () => {
    for (const n of [0, 1, 127, 128, 16_383, 16_384, 70_000]) {
      const update = Uint8Array.from({ length: n }, (_, i) => i & 0xff);
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      encoding.writeVarUint(e, 2);
      encoding.writeVarUint8Array(e, update);
      const message = encoding.toUint8Array(e);
      const wire = syncUpdateWire(update);
      assert.deepEqual(wire, binaryFrame(message), `update of ${n} bytes`);
      assert.equal(framePayloadBytes(wire), message.byteLength);
    }
  });
});
