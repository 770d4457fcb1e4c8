import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';

/** Repository root (the harness runs every process from there). */
export const ROOT = new URL('../../', import.meta.url).pathname;

/** Cores: server on 0, load generator on 1, when there are two and taskset exists. */
export const PINNING = availableParallelism() >= 2 && existsSync('/usr/bin/taskset');

/**
 * Wraps a command so it runs with the open-file limit raised to the hard limit and, where possible,
 * pinned to one core. `exec` keeps the pid: the pid we get is the measured process.
 */
export function wrapped(core: number, argv: string[]): [string, string[]] {
  const pin = PINNING ? ['taskset', '-c', String(core)] : [];
  const nice = NICE !== 0 ? ['nice', '-n', String(NICE)] : [];
  return ['sh', ['-c', 'ulimit -n "$(ulimit -Hn)"; exec "$@"', 'sh', ...nice, ...pin, ...argv]];
}

/**
 * Scheduling priority of the server and load generator (`AQUEDUCT_BENCH_NICE`, default -10 when
 * running as root, else 0). On a shared machine other work preempts the measured processes and
 * inflates wall-clock figures (latency, throughput); a higher priority keeps them closer to what
 * the processes themselves cost. CPU per message is measured from the process's own accounting
 * either way.
 */
export const NICE = Number(process.env.AQUEDUCT_BENCH_NICE ?? (process.getuid?.() === 0 ? -10 : 0));

/** Kills every child still running when the harness exits (Ctrl-C, crash). */
export const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once a TCP connection to the port succeeds (the server listens). */
export async function waitForPort(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`server did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RunningServer {
  pid: number;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a server process (stdout/stderr to `logFile`) and waits until its port accepts. */
export async function startServer(argv: string[], opts: { port: number; env?: NodeJS.ProcessEnv; logFile: string; core?: number }): Promise<RunningServer> {
  const fd = openSync(opts.logFile, 'a');
  const [cmd, args] = wrapped(opts.core ?? 0, argv);
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  children.add(child);
  child.once('exit', () => children.delete(child));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  try {
    await waitForPort(opts.port, 30_000, child);
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid: child.pid!, port: opts.port, child, stop };
}

