import type { HarnessMessage, LoadMessage } from '../types.js';

let nextId = 1;
const waiting = new Map<number, () => void>();

process.on('message', (raw) => {
  const msg = raw as HarnessMessage;
  if (msg.type === 'sync-ok') {
    waiting.get(msg.id)?.();
    waiting.delete(msg.id);
  }
});

export function send(msg: LoadMessage): void {
  process.send?.(msg);
}

/** Tells the harness a point was reached and waits until it has sampled the server. */
export function sync(name: string, value?: number): Promise<void> {
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    send({ type: 'sync', id, name, value });
  });
}
