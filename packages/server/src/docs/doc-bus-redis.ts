import { Redis } from 'ioredis';
import { redisReconnectDelay } from '../cluster/redis-options.js';
import { Packr } from 'msgpackr';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { DocBus, RemoteDocUpdate } from './doc-bus.js';

export interface RedisDocBusOptions {
  url: string;
  logger?: Logger;
  config?: Config;
  /** Default `config.redis.keyPrefix` or `aq:`. */
  keyPrefix?: string;
  /** Publishes waiting while Redis is slow or away; beyond it they are dropped (the store has them). Default 10,000. */
  maxQueued?: number;
}

interface Wire { doc: string; u: Uint8Array; n: string; a: string; s: number }

/**
 * DocBus over Redis pub/sub: channel `<prefix>doc:{<doc>}` per loaded document, one SUBSCRIBE per
 * document on a dedicated connection, messages in msgpack. At-most-once, as the DocBus contract
 * allows: every update is in the DocStore before it is published.
 */
export class RedisDocBus implements DocBus {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly prefix: string;
  private readonly logger?: Logger;
  private readonly packr = new Packr({ useRecords: false, mapsAsObjects: true });
  private readonly subs = new Map<string, Set<(m: RemoteDocUpdate) => void>>();
  private readonly resyncListeners = new Set<(doc: string) => void>();
  private subReadyOnce = false;
  private lastErrorLog = 0;
  private readonly maxQueued: number;
  /** Publishes sent but not yet acknowledged by Redis. */
  private inFlight = 0;

  constructor(options: RedisDocBusOptions) {
    this.prefix = options.keyPrefix ?? options.config?.redis.keyPrefix ?? 'aq:';
    this.logger = options.logger;
    const common = {
      maxRetriesPerRequest: 0,
      retryStrategy: redisReconnectDelay,
    };
    // Publishes may queue briefly while (re)connecting; the queue is bounded below.
    this.pub = new Redis(options.url, { ...common, connectionName: 'aqueduct-docbus' });
    this.sub = new Redis(options.url, { ...common, connectionName: 'aqueduct-docbus-sub' });
    this.maxQueued = options.maxQueued ?? 10_000;
    for (const conn of [this.pub, this.sub]) conn.on('error', (err: Error) => this.logError(err));
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(channel, message));
    // ioredis re-subscribes by itself after a reconnect; whatever was published meanwhile is lost,
    // so every subscribed document needs a resync from the store.
    this.sub.on('ready', () => {
      if (!this.subReadyOnce) { this.subReadyOnce = true; return; }
      for (const doc of this.subs.keys()) this.emitResync(doc);
    });
  }

  /**
   * Registers a listener told when a document may have missed updates: once its subscription is
   * in effect (updates stored between the caller's load and that moment were not received), and
   * after every reconnect of the subscriber connection. The listener should re-read the document's
   * log from the store and apply it (Yjs updates are idempotent). Returns the unregister function.
   */
  onResync(listener: (doc: string) => void): () => void {
    this.resyncListeners.add(listener);
    return () => { this.resyncListeners.delete(listener); };
  }

  private emitResync(doc: string): void {
    for (const fn of [...this.resyncListeners]) {
      try { fn(doc); } catch (err) { this.logger?.error({ err, doc }, 'redis doc bus: resync listener failed'); }
    }
  }

  private logError(err: Error): void {
    const now = Date.now();
    if (now - this.lastErrorLog < 5000) return;
    this.lastErrorLog = now;
    this.logger?.warn({ err: err.message }, 'redis doc bus: connection error');
  }

  private channel(doc: string): string {
    return `${this.prefix}doc:{${doc}}`;
  }

  publish(message: RemoteDocUpdate): void {
    if (this.inFlight >= this.maxQueued) {
      this.logger?.warn({ doc: message.doc }, 'redis doc bus: backlog full; update not fanned out (it is stored)');
      return;
    }
    const wire: Wire = { doc: message.doc, u: message.update, n: message.node, a: message.author, s: message.seq };
    this.inFlight++;
    this.pub.publish(this.channel(message.doc), this.packr.pack(wire))
      .catch((err: Error) => this.logError(err))
      .finally(() => { this.inFlight--; });
  }

  subscribe(doc: string, onUpdate: (message: RemoteDocUpdate) => void): () => void {
    let set = this.subs.get(doc);
    if (!set) {
      this.subs.set(doc, (set = new Set()));
      this.sub.subscribe(this.channel(doc)).then(
        () => { if (this.subs.has(doc)) this.emitResync(doc); },
        (err: Error) => this.logError(err),
      );
    }
    set.add(onUpdate);
    return () => {
      set.delete(onUpdate);
      if (set.size === 0 && this.subs.get(doc) === set) {
        this.subs.delete(doc);
        this.sub.unsubscribe(this.channel(doc)).catch((err: Error) => this.logError(err));
      }
    };
  }

  private onMessage(channel: Buffer, message: Buffer): void {
    let wire: Wire;
    try {
      wire = this.packr.unpack(message) as Wire;
    } catch (err) {
      this.logger?.error({ err, channel: channel.toString() }, 'redis doc bus: undecodable message dropped');
      return;
    }
    const set = this.subs.get(wire.doc);
    if (!set) return;
    const m: RemoteDocUpdate = { doc: wire.doc, update: wire.u, node: wire.n, author: wire.a, seq: wire.s };
    for (const fn of [...set]) fn(m);
  }

  /** Whether both connections are up (for `/readyz`). */
  health(): { ok: boolean; detail?: string } {
    const ok = this.pub.status === 'ready' && this.sub.status === 'ready';
    return { ok, detail: ok ? 'redis' : `redis doc bus: ${this.pub.status}/${this.sub.status}` };
  }

  async close(): Promise<void> {
    this.subs.clear();
    await Promise.allSettled([this.pub.quit(), this.sub.quit()]);
    this.pub.disconnect();
    this.sub.disconnect();
  }
}
