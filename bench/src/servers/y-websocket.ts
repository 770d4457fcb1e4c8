/**
 * y-websocket's own server (`@y/websocket-server`): `setupWSConnection` per connection, the
 * document named by the URL path. In memory (no YPERSISTENCE), as its default setup runs.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { setupWSConnection } from '@y/websocket-server/utils';
import { announceReady, exitOnSignal, portArg } from './ready.js';

exitOnSignal();
const setup = setupWSConnection as (conn: unknown, req: unknown, opts?: { docName?: string; gc?: boolean }) => void;
const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ noServer: true });
wss.on('connection', (conn, req) => setup(conn, req, { gc: true }));
http.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
http.listen(portArg(), '127.0.0.1', () => announceReady(http));
