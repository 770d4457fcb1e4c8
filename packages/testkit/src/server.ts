import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineTail, exitOf, type ExitInfo } from './process-util.js';

/** Repository root (this file is packages/testkit/src/server.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface SpawnServerOptions {
  /** Extra environment (merged over the test process's). */
  env?: Record<string, string | undefined>;
  /** Extra `serve` arguments. */
  args?: string[];
  /** Working directory. Default: the repository root. */
  cwd?: string;
  /** How long to wait for the "listening" log line. Default 60 s. */
  readyTimeoutMs?: number;
  /** Lines of log kept for `logs()`. Default 200. */
  keepLines?: number;
}

/** A server process started by a test. */
export interface ServerProcess {
  /** Base URL from the "listening" line, e.g. http://127.0.0.1:PORT. */
  url: string;
  port: number;
  pid: number;
  /** Sends a signal (default SIGTERM) and resolves on exit. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  exited: Promise<ExitInfo>;
  /** The last log lines (stdout and stderr), for assertion messages. */
  logs(): string;
  /** Calls `fn` for every log line from now on (JSON lines from pino, mostly). */
  onLine(fn: (line: string) => void): void;
}

/**
 * Spawns `aqueduct serve --port 0` from source (tsx) and resolves when it logs `"msg":"listening"`.
 * Rejects with the captured output if the process exits first. A temp data dir is used (and removed
 * on exit) unless the caller passes AQUEDUCT_DATA_DIR.
 */
export async function spawnServer(opts: SpawnServerOptions = {}): Promise<ServerProcess> {
  const ownDataDir = opts.env?.AQUEDUCT_DATA_DIR === undefined;
  const dataDir = ownDataDir ? mkdtempSync(join(tmpdir(), 'aqueduct-data-')) : opts.env!.AQUEDUCT_DATA_DIR!;
  const env: Record<string, string | undefined> = { ...process.env, AQUEDUCT_DATA_DIR: dataDir, ...opts.env };
  // No drain delay on SIGTERM unless the test sets one (later AQUEDUCT_SET pairs win).
  env.AQUEDUCT_SET = ['shutdown.readyzGraceMs=0', opts.env?.AQUEDUCT_SET].filter(Boolean).join(';');
  // The test runner's own flags must not leak into the child.
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [
    '--conditions=aqueduct-source', '--import', 'tsx',
    join(REPO_ROOT, 'packages/server/src/cli.ts'), 'serve', '--port', '0', ...(opts.args ?? []),
  ], { cwd: opts.cwd ?? REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail = new LineTail(opts.keepLines ?? 200);
  const listeners: ((line: string) => void)[] = [];
  const exited = exitOf(child);
  if (ownDataDir) void exited.then(() => rmSync(dataDir, { recursive: true, force: true }));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not log "listening" within ${opts.readyTimeoutMs ?? 60_000} ms:\n${tail.text()}`));
    }, opts.readyTimeoutMs ?? 60_000);
    const onLine = (line: string) => {
      for (const fn of listeners) fn(line);
      if (!line.includes('"listening"')) return;
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === 'listening' && typeof rec.url === 'string') {
          clearTimeout(timer);
          resolve(rec.url);
        }
      } catch { /* not JSON: ignore */ }
    };
    child.stdout?.on('data', (d: Buffer) => tail.push(d, onLine));
    child.stderr?.on('data', (d: Buffer) => tail.push(d, (l) => { for (const fn of listeners) fn(l); }));
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`server exited before listening (code ${e.code}, signal ${e.signal}):\n${tail.text()}`));
    });
  });

  return {
    url,
    port: Number(new URL(url).port),
    pid: child.pid ?? -1,
    exited,
    logs: () => tail.text(),
    onLine: (fn) => { listeners.push(fn); },
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      try { return await exited; } finally { clearTimeout(timer); }
    },
  };
}
