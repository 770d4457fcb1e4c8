import { EventEmitter } from 'node:events';
import type { Position, Publication } from '@aqueduct/protocol';
import type { BrokerHandler, ControlMessage, EphemeralMessage } from '../../src/broker/broker.js';

export type BrokerEvent =
  | { type: 'pub'; room: string; pub: Publication }
  | { type: 'eph'; room: string; message: EphemeralMessage }
  | { type: 'reset'; room: string; position: Position }
  | { type: 'control'; message: ControlMessage };

/** A BrokerHandler that records every callback and lets tests await a condition on them. */
export class Recorder implements BrokerHandler {
  readonly events: BrokerEvent[] = [];
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  onPublication(room: string, pub: Publication): void { this.push({ type: 'pub', room, pub }); }
  onEphemeral(room: string, message: EphemeralMessage): void { this.push({ type: 'eph', room, message }); }
  onReset(room: string, position: Position): void { this.push({ type: 'reset', room, position }); }
  onControl(message: ControlMessage): void { this.push({ type: 'control', message }); }

  private push(e: BrokerEvent): void {
    this.events.push(e);
    this.emitter.emit('event');
  }

  pubs(room: string): Publication[] {
    return this.events.flatMap((e) => (e.type === 'pub' && e.room === room ? [e.pub] : []));
  }

  ephemerals(room: string): EphemeralMessage[] {
    return this.events.flatMap((e) => (e.type === 'eph' && e.room === room ? [e.message] : []));
  }

  resets(room: string): Position[] {
    return this.events.flatMap((e) => (e.type === 'reset' && e.room === room ? [e.position] : []));
  }

  controls(): ControlMessage[] {
    return this.events.flatMap((e) => (e.type === 'control' ? [e.message] : []));
  }

  /** Resolves when `check()` is true (re-evaluated on every event); rejects after `timeoutMs`. */
  until(check: () => boolean, what = 'condition', timeoutMs = 20_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onEvent = () => {
        if (!check()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}; ${this.events.length} events recorded`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.emitter.off('event', onEvent);
      };
      this.emitter.on('event', onEvent);
    });
  }
}
