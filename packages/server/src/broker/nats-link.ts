import { connect, Events, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import type { Logger } from '../logger.js';
import { BrokerUnavailableError } from './broker.js';

/** Settings of a connection to NATS. */
export interface NatsLinkOptions {
  /** One URL or several, comma-separated (`nats://a:4222,nats://b:4222`). */
  url: string;
  /** Connection name shown by the server's monitoring. */
  name: string;
  logger?: Logger;
  /** Requests (JetStream API, publish acknowledgements) that take longer fail with UNAVAILABLE. */
  requestTimeoutMs: number;
  /** How often the client pings; two unanswered pings mark the connection dead. */
  pingIntervalMs: number;
}

/** The parts of a live connection. */
export interface NatsParts {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/** Turns any NATS client error into the broker's temporary error; the cause is kept. */
export function natsUnavailable(err: unknown): BrokerUnavailableError {
  if (err instanceof BrokerUnavailableError) return err;
  const e = new BrokerUnavailableError(`nats unavailable: ${(err as Error)?.message ?? String(err)}`);
  (e as Error & { cause?: unknown }).cause = err;
  return e;
}

/** Longest wait for a drain on close before the connection is closed outright. */
const CLOSE_DRAIN_MS = 2000;

/**
 * One NATS connection that keeps reconnecting forever and fails fast while it is down: `parts()`
 * throws `BrokerUnavailableError` at once instead of letting requests wait for the reconnect.
 * `onReconnect` callbacks run after the client has resubscribed every subscription.
 */
export class NatsLink {
  private current?: NatsParts;
  private up = false;
  private closed = false;
  private opening?: Promise<NatsParts>;
  private readonly reconnectHandlers: Array<() => void> = [];
  private readonly downHandlers: Array<() => void> = [];

  constructor(private readonly options: NatsLinkOptions) {}

  onReconnect(fn: () => void): void {
    this.reconnectHandlers.push(fn);
  }

  onDown(fn: () => void): void {
    this.downHandlers.push(fn);
  }

  /**
   * Connects, waiting at most `waitMs` for the first connection. Past that it resolves anyway and
   * keeps trying in the background (`health()` says not ready meanwhile).
   */
  async open(waitMs: number): Promise<void> {
    this.opening ??= this.connectForever();
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      this.opening.then(() => true, () => false),
      new Promise<boolean>((r) => { timer = setTimeout(() => r(false), waitMs); }),
    ]);
    clearTimeout(timer);
    if (!waited) this.options.logger?.error({ url: this.options.url }, `${this.options.name}: NATS unreachable at start; retrying in the background`);
  }

  /** Resolves with the connection once it is first established (for start-up work such as subscriptions). */
  whenOpen(): Promise<NatsParts> {
    this.opening ??= this.connectForever();
    return this.opening;
  }

  private async connectForever(): Promise<NatsParts> {
    const { url, name, requestTimeoutMs, pingIntervalMs, logger } = this.options;
    const nc = await connect({
      servers: url.split(',').map((s) => s.trim()).filter(Boolean),
      name,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: Math.min(requestTimeoutMs, 5000),
      pingInterval: pingIntervalMs,
      maxPingOut: 2,
    });
    const parts: NatsParts = {
      nc,
      js: nc.jetstream({ timeout: requestTimeoutMs }),
      jsm: await nc.jetstreamManager({ timeout: requestTimeoutMs, checkAPI: false }),
    };
    if (this.closed) {
      await nc.close();
      throw new BrokerUnavailableError('closed');
    }
    this.current = parts;
    this.up = true;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === Events.Disconnect) {
          this.up = false;
          logger?.warn({ server: String(s.data) }, `${name}: NATS connection lost; reconnecting`);
          for (const fn of this.downHandlers) fn();
        } else if (s.type === Events.Reconnect) {
          this.up = true;
          logger?.info({ server: String(s.data) }, `${name}: NATS reconnected`);
          for (const fn of this.reconnectHandlers) fn();
        }
      }
    })().catch((err: Error) => logger?.warn({ err: err.message }, `${name}: NATS status loop ended`));
    return parts;
  }

  /** The live connection, or `BrokerUnavailableError` while there is none. */
  parts(): NatsParts {
    if (!this.up || !this.current || this.closed) throw new BrokerUnavailableError('nats unavailable: not connected');
    return this.current;
  }

  health(): { ok: boolean; detail?: string } {
    return this.up && !this.closed ? { ok: true, detail: 'nats' } : { ok: false, detail: 'nats: not connected' };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const wasUp = this.up;
    this.up = false;
    const nc = this.current?.nc;
    if (!nc) return;
    // Drain flushes to the server; while it is unreachable a drain would wait for a reconnect that
    // may never come, so close at once then, and bound the drain otherwise (CLOSE_DRAIN_MS).
    if (!wasUp) { await nc.close().catch(() => undefined); return; }
    let timer: NodeJS.Timeout | undefined;
    const drained = nc.drain().catch(() => undefined);
    const timeout = new Promise<void>((r) => { timer = setTimeout(r, CLOSE_DRAIN_MS); });
    await Promise.race([drained, timeout]);
    clearTimeout(timer);
    if (!nc.isClosed()) await nc.close().catch(() => undefined);
  }
}
