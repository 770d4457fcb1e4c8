/**
 * Socket.IO 4 with the usual room idiom: `join` (acknowledged) puts the socket in a room,
 * `pub` broadcasts with `io.to(room).emit('msg', room, data)`. WebSocket transport only, no
 * compression, so the wire work is comparable with the other servers.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { announceReady, exitOnSignal, portArg } from './ready.js';

exitOnSignal();
const http = createServer();
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false, maxHttpBufferSize: 64 * 1024 });

io.on('connection', (socket) => {
  socket.on('join', (room: unknown, ack: unknown) => {
    if (typeof room === 'string') void socket.join(room);
    if (typeof ack === 'function') (ack as () => void)();
  });
  socket.on('pub', (room: unknown, data: unknown) => {
    if (typeof room === 'string') io.to(room).emit('msg', room, data);
  });
});

http.listen(portArg(), '127.0.0.1', () => announceReady(http));
