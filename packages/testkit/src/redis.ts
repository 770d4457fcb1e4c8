import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { LineTail, stopChild } from './process-util.js';

export interface RedisOptions {
  /** Port to bind; a free one when unset. */
  port?: number;
  /** Extra `redis-server` arguments (e.g. `['--maxmemory', '10mb']`). */
  args?: string[];
}

/** A throwaway `redis-server` owned by a test. */
export interface RedisHandle {
  url: string;
  port: number;
  /** Graceful stop (SIGTERM); removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL, leaving the port closed until `restart`. */
  kill(): Promise<void>;
  /** Stops the server if running and starts an empty one on the same port (data lost). */
  restart(): Promise<void>;
}

/** Resolves when `PING` answers `+PONG` on the port, polling until `timeoutMs`. */
async function waitForPong(port: number, timeoutMs: number, child: ChildProcess, tail: LineTail): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited before ready (code ${child.exitCode}):\n${tail.text()}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect({ port, host: '127.0.0.1' });
      let buf = '';
      const done = (v: boolean) => { sock.destroy(); resolve(v); };
      sock.setTimeout(1000, () => done(false));
      sock.once('connect', () => sock.write('PING\r\n'));
      sock.on('data', (d) => { buf += d.toString(); if (buf.includes('\r\n')) done(buf.startsWith('+PONG')); });
      sock.once('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server not ready on port ${port} after ${timeoutMs} ms:\n${tail.text()}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

/**
 * Starts `redis-server` on 127.0.0.1 with persistence off, in a temp dir. `restart()` brings it back
 * on the same port with no data: that is how tests simulate "Redis restarted and lost its data".
 */
export async function startRedis(opts: RedisOptions = {}): Promise<RedisHandle> {
  const port = opts.port ?? await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'aqueduct-redis-'));
  let child: ChildProcess | undefined;
  let tail = new LineTail(100);

  const launch = async () => {
    tail = new LineTail(100);
    const c = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--protected-mode', 'no', ...(opts.args ?? []),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const t = tail;
    c.stdout?.on('data', (d: Buffer) => t.push(d));
    c.stderr?.on('data', (d: Buffer) => t.push(d));
    child = c;
    await waitForPong(port, 15_000, c, t);
  };

  const halt = async (signal: NodeJS.Signals) => {
    if (child) await stopChild(child, signal);
    child = undefined;
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGKILL');
      await launch();
    },
  };
}
