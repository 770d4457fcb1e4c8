import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';

/** Every peer server prints this line once it listens; the harness waits for it. */
export function announceReady(server: Server): void {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`READY ${port}\n`);
}

/** The port argument of a peer server script (`--port N`, 0 = any free port). */
export function portArg(): number {
  const i = process.argv.indexOf('--port');
  return i > 0 ? Number(process.argv[i + 1]) : 0;
}

/** The harness stops servers with SIGTERM; exit at once (nothing to flush). */
export function exitOnSignal(): void {
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}
