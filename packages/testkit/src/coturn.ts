import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';
import { LineTail, exitOf, stopChild } from './process-util.js';

export interface CoturnOptions {
  /** Shared secret for TURN REST credentials (`--static-auth-secret`). */
  secret: string;
  /** Default `aqueduct.test`. */
  realm?: string;
  /** Relay ports allocated (UDP), from a random range. Default 40. */
  relayPorts?: number;
}

export interface CoturnHandle {
  port: number;
  urls: string[];
  realm: string;
  stop(): Promise<void>;
  logs(): string;
}

/**
 * Starts `turnserver` (coturn) on 127.0.0.1 with TURN REST auth, no TLS/DTLS, no CLI, and loopback
 * peers allowed so that browsers on the same machine can relay to each other.
 */
export async function startCoturn(opts: CoturnOptions): Promise<CoturnHandle> {
  const realm = opts.realm ?? 'aqueduct.test';
  const port = await freePort();
  const span = opts.relayPorts ?? 40;
  // A random range in the upper half of the ephemeral space keeps parallel test files apart.
  const minPort = 40_000 + Math.floor(Math.random() * 900) * 20;
  const dir = mkdtempSync(join(tmpdir(), 'aqueduct-turn-'));
  const tail = new LineTail(200);
  const child = spawn('turnserver', [
    '--use-auth-secret', `--static-auth-secret=${opts.secret}`, `--realm=${realm}`,
    '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    `--min-port=${minPort}`, `--max-port=${minPort + span - 1}`,
    '--no-cli', '--no-tls', '--no-dtls', '--log-file', 'stdout', '--simple-log',
    '--allow-loopback-peers', '--cli-password=x', '--no-software-attribute',
    `--pidfile=${join(dir, 'turn.pid')}`, `--userdb=${join(dir, 'turndb')}`,
    '--fingerprint', '--no-multicast-peers',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => tail.push(d));
  child.stderr?.on('data', (d: Buffer) => tail.push(d));
  const early = exitOf(child).then((e) => { throw new Error(`turnserver exited (code ${e.code}):\n${tail.text()}`); });
  try {
    await Promise.race([waitForPort(port, 15_000), early]);
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  early.catch(() => { /* exit after readiness is reported by stop() */ });
  return {
    port,
    realm,
    urls: [`turn:127.0.0.1:${port}?transport=udp`, `turn:127.0.0.1:${port}?transport=tcp`],
    logs: () => tail.text(),
    async stop() {
      await stopChild(child, 'SIGTERM', 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
