/**
 * Hocuspocus 3 with no extensions: documents in memory, no authentication hook. Its own HTTP
 * server; `quiet` keeps its banner off stdout.
 */
import { Server } from '@hocuspocus/server';
import { exitOnSignal, portArg } from './ready.js';

exitOnSignal();
const server = new Server({ port: portArg(), address: '127.0.0.1', quiet: true });
await server.listen();
process.stdout.write(`READY ${server.address.port}\n`);
