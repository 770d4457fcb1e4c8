import { SignJWT } from 'jose';
import type { BusServerName } from '../types.js';
import { RawWs } from './raw-ws.js';

/**
 * How the load generator speaks each room-bus server. Every delivery carries a data string that
 * starts with `~` (see payload.ts); frames without a `~` are control traffic (handshakes, replies,
 * pings) and go to the protocol's `control` handler.
 */
export interface BusProtocol {
  /** Upgrade path for a connection that will join `room` (undefined: a publisher). */
  path(room: string | undefined): string;
  subprotocol?: string;
  /** Runs the handshake after the upgrade; resolves once joined (or ready to publish). */
  handshake(conn: BusConn, room: string | undefined, index: number): Promise<void>;
  /** The publisher's frame for one publication. */
  publishFrame(room: string, data: string, id: number): string;
}

/** A load-generator connection: the raw socket plus the control-frame hook of its handshake. */
export class BusConn {
  ws!: RawWs;
  private handler: ((text: string) => void) | undefined;
  /** Control frames that arrived before a handler was set (e.g. in the upgrade response's read). */
  private early: string[] = [];

  /** Current handler of control frames (handshake step, then the steady-state handler). */
  set control(fn: (text: string) => void) {
    this.handler = fn;
    const early = this.early;
    this.early = [];
    for (const text of early) fn(text);
  }

  receive(text: string): void {
    if (this.handler) this.handler(text);
    else this.early.push(text);
  }
}

const enc = new TextEncoder();

export function busProtocol(server: BusServerName, jwtSecret: string | undefined): BusProtocol {
  switch (server) {
    case 'ws':
      return {
        path: (room) => (room ? `/?room=${encodeURIComponent(room)}` : '/'),
        handshake: async () => undefined,
        publishFrame: (room, data) => `{"room":${JSON.stringify(room)},"data":${JSON.stringify(data)}}`,
      };
    case 'socketio':
      return {
        path: () => '/socket.io/?EIO=4&transport=websocket',
        handshake: (conn, room) => new Promise((resolve, reject) => {
          conn.control = (text) => {
            // engine.io: 0 open, 2 ping (answer 3), 4 message; socket.io inside: 0 connect, 3 ack.
            if (text === '2') conn.ws.sendText('3');
            else if (text.startsWith('0{')) conn.ws.sendText('40');
            else if (text.startsWith('40')) {
              if (room) conn.ws.sendText(`421["join",${JSON.stringify(room)}]`);
              else resolve();
            } else if (text.startsWith('431')) resolve();
            else if (text.startsWith('44')) reject(new Error(`socket.io connect error: ${text}`));
          };
        }),
        publishFrame: (room, data) => `42["pub",${JSON.stringify(room)},${JSON.stringify(data)}]`,
      };
    case 'aqueduct': {
      if (!jwtSecret) throw new Error('aqueduct needs the JWT secret');
      const key = enc.encode(jwtSecret);
      return {
        path: () => '/ws',
        subprotocol: 'aqueduct.json.v1',
        handshake: async (conn, room, index) => {
          const token = await new SignJWT({ rooms: { 'bench:*': ['sub', 'pub'] } })
            .setProtectedHeader({ alg: 'HS256' })
            .setSubject(`bench-${index}`)
            .setExpirationTime('2h')
            .sign(key);
          await new Promise<void>((resolve, reject) => {
            conn.control = (text) => {
              if (text === '{"t":"ping"}') {
                conn.ws.sendText('{"t":"pong"}');
                return;
              }
              const msg = JSON.parse(text) as { t: string; id?: number; error?: { code: string; message: string } };
              if (msg.t !== 'reply') return;
              if (msg.error) reject(new Error(`aqueduct ${msg.id === 1 ? 'auth' : 'join'} failed: ${msg.error.code} ${msg.error.message}`));
              else if (msg.id === 1 && room) conn.ws.sendText(`{"t":"join","id":2,"room":${JSON.stringify(room)}}`);
              else resolve();
            };
            conn.ws.sendText(`{"t":"auth","id":1,"token":"${token}"}`);
          });
        },
        publishFrame: (room, data, id) => `{"t":"pub","id":${id},"room":${JSON.stringify(room)},"data":${JSON.stringify(data)}}`,
      };
    }
  }
}
