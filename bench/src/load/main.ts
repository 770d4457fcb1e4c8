/**
 * The load-generator process. The harness forks it (pinned to its own core), sends one job over
 * IPC, samples the server at each `sync`, and receives the result. One job per process, so every
 * scenario starts from a clean heap.
 */
import type { HarnessMessage, LoadJob } from '../types.js';
import { send } from './ipc.js';
import { runFanout, runIdle } from './bus-load.js';

async function run(job: LoadJob): Promise<Record<string, unknown>> {
  switch (job.kind) {
    case 'fanout': return { ...(await runFanout(job)) };
    case 'idle': return runIdle(job);
    case 'docs': return (await import('./docs-load.js')).runDocs(job);
    case 'coldload': return (await import('./docs-load.js')).runColdLoad(job);
  }
}

process.once('message', (raw) => {
  const msg = raw as HarnessMessage;
  if (msg.type !== 'job') return;
  run(msg.job).then(
    (result) => {
      send({ type: 'result', result });
      process.disconnect?.();
      setImmediate(() => process.exit(0));
    },
    (err: unknown) => {
      send({ type: 'error', message: (err as Error).stack ?? String(err) });
      process.disconnect?.();
      setImmediate(() => process.exit(1));
    },
  );
});
