import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';
import { LineTail, stopChild } from './process-util.js';

export interface NatsOptions {
  /** Port to bind; a free one when unset. */
  port?: number;
  /** Extra `nats-server` arguments. */
  args?: string[];
}

/** A throwaway `nats-server -js` owned by a test. */
export interface NatsHandle {
  url: string;
  port: number;
  /** The JetStream store directory (`-sd`). */
  storeDir: string;
  /** Graceful stop (SIGTERM); removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL, leaving the port closed until `restart`. */
  kill(): Promise<void>;
  /**
   * Stops the server if running and starts it again on the same port. With `{ keepStore: false }`
   * (the default) the JetStream store is deleted first: "NATS restarted and lost its data".
   */
  restart(opts?: { keepStore?: boolean }): Promise<void>;
  logs(): string;
}

/** The `nats-server` binary: `NATS_SERVER` if set, else Debian's `/usr/sbin/nats-server`, else `$PATH`. */
function natsBinary(): string {
  if (process.env.NATS_SERVER) return process.env.NATS_SERVER;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
}

/** Starts `nats-server` with JetStream on 127.0.0.1, its store in a temp dir. */
export async function startNats(opts: NatsOptions = {}): Promise<NatsHandle> {
  const port = opts.port ?? await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'aqueduct-nats-'));
  const storeDir = join(dir, 'js');
  let child: ChildProcess | undefined;
  let tail = new LineTail(200);

  const launch = async () => {
    tail = new LineTail(200);
    const c = spawn(natsBinary(), ['-js', '-sd', storeDir, '-p', String(port), '-a', '127.0.0.1', ...(opts.args ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    const t = tail;
    c.stdout?.on('data', (d: Buffer) => t.push(d));
    c.stderr?.on('data', (d: Buffer) => t.push(d));
    child = c;
    const exited = new Promise<never>((_, reject) => c.once('exit', (code) => reject(new Error(`nats-server exited before ready (code ${code}):\n${t.text()}`))));
    exited.catch(() => undefined);
    await Promise.race([waitForPort(port, 15_000), exited]);
    // The port opens a moment before JetStream is ready; the server logs this line when it is.
    const deadline = Date.now() + 15_000;
    while (!t.text().includes('Server is ready')) {
      if (Date.now() > deadline) throw new Error(`nats-server not ready on port ${port}:\n${t.text()}`);
      await Promise.race([new Promise((r) => setTimeout(r, 20)), exited]);
    }
  };

  const halt = async (signal: NodeJS.Signals) => {
    if (child) await stopChild(child, signal);
    child = undefined;
  };

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async stop() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => halt('SIGKILL'),
    async restart(o = {}) {
      await halt('SIGKILL');
      if (!o.keepStore) rmSync(storeDir, { recursive: true, force: true });
      await launch();
    },
    logs: () => tail.text(),
  };
}
