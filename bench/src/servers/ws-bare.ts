/**
 * The floor: a bare `ws` broadcast server. A client joins a room with `?room=NAME` in the upgrade
 * URL; a text frame `{"room":...,"data":...}` is broadcast to every member of the room, encoded
 * once and sent as the same Buffer to each socket (one `send` per recipient, as a plain `ws`
 * broadcast loop does).
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { announceReady, exitOnSignal, portArg } from './ready.js';

exitOnSignal();
const rooms = new Map<string, Set<WebSocket>>();
const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, clientTracking: false, maxPayload: 64 * 1024 });

wss.on('connection', (ws, req) => {
  const room = new URL(req.url ?? '/', 'http://x').searchParams.get('room');
  if (room) {
    let set = rooms.get(room);
    if (!set) rooms.set(room, (set = new Set()));
    set.add(ws);
    ws.once('close', () => {
      set.delete(ws);
      if (set.size === 0) rooms.delete(room);
    });
  }
  ws.on('message', (data) => {
    let msg: { room?: unknown; data?: unknown };
    try {
      msg = JSON.parse(String(data)) as typeof msg;
    } catch {
      ws.close(1007, 'bad json');
      return;
    }
    if (typeof msg.room !== 'string') return;
    const members = rooms.get(msg.room);
    if (!members) return;
    const out = Buffer.from(JSON.stringify({ room: msg.room, data: msg.data }));
    for (const member of members) member.send(out, { binary: false });
  });
  ws.on('error', () => undefined);
});

http.listen(portArg(), '127.0.0.1', () => announceReady(http));
