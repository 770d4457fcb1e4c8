import { execFile, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);

export interface PostgresOptions {
  /** Database created at start. Default `aqueduct`. */
  database?: string;
}

/** A throwaway PostgreSQL cluster owned by a test. */
export interface PostgresHandle {
  url: string;
  port: number;
  /** Stops the server and removes its data. Safe to call twice. */
  stop(): Promise<void>;
  /** Immediate shutdown (`pg_ctl -m immediate`), data kept for `start()`. */
  kill(): Promise<void>;
  /** Starts the server again after `kill()`, same port and data. */
  start(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error(`no PostgreSQL found under ${root}`);
  return join(root, versions[0], 'bin');
}

/** Runs a PostgreSQL tool; as root it runs as the `postgres` OS user (PostgreSQL refuses root). */
async function asPostgres(bin: string, args: string[]): Promise<void> {
  const isRoot = process.getuid?.() === 0;
  const [cmd, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  try {
    await run(cmd, argv, { timeout: 60_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${bin} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/**
 * Initialises and starts a PostgreSQL cluster in a temp dir on a free port (trust auth, fsync off,
 * Unix socket in the temp dir), creates a database and returns its URL.
 */
export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresHandle> {
  const bin = binDir();
  const database = opts.database ?? 'aqueduct';
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'aqueduct-pg-'));
  const data = join(dir, 'data');
  const sock = join(dir, 'sock');
  mkdirSync(data);
  mkdirSync(sock);
  chmodSync(dir, 0o755);
  if (process.getuid?.() === 0) {
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gids = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    const uid = Number(ids.stdout.trim());
    const gid = Number(gids.stdout.trim());
    for (const p of [dir, data, sock]) chownSync(p, uid, gid);
  }
  await asPostgres(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  const opt = [
    '-c listen_addresses=127.0.0.1', `-c port=${port}`, `-k ${sock}`, '-c fsync=off',
    '-c full_page_writes=off', '-c max_connections=100',
    '-c shared_buffers=32MB',
  ].join(' ');
  let running = false;
  const start = async () => {
    await asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-o', opt, '-w', '-t', '60', 'start']);
    running = true;
  };
  const halt = async (mode: 'fast' | 'immediate') => {
    if (!running) return;
    running = false;
    await asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
  };
  await start();
  await asPostgres(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', database]);
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/${database}`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      try { await halt('fast'); } finally { rmSync(dir, { recursive: true, force: true }); }
    },
    kill: () => halt('immediate'),
    start,
  };
}
