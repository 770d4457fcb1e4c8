import type { Subscription } from 'nats';
import { Packr } from 'msgpackr';
import { NatsLink } from '../broker/nats-link.js';
import { token } from '../broker/nats-names.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { DocBus, RemoteDocUpdate } from '../docs/doc-bus.js';

export interface NatsDocBusOptions {
  /** `nats://host:port`, or several comma-separated. */
  url: string;
  logger?: Logger;
  config?: Config;
  /** Default `config.nats.prefix` or `aq`. */
  prefix?: string;
}

interface Wire { doc: string; u: Uint8Array; n: string; a: string; s: number }

interface DocSub { listeners: Set<(m: RemoteDocUpdate) => void>; sub?: Subscription }

/**
 * DocBus over core NATS: subject `<prefix>.d.<doc token>` per loaded document, messages in msgpack.
 * At-most-once, as the DocBus contract allows (every update is in the DocStore before it is
 * published): while NATS is unreachable publishes are dropped, not queued, and after every
 * reconnect each subscribed document is resynced from the store.
 */
export class NatsDocBus implements DocBus {
  private readonly link: NatsLink;
  private readonly prefix: string;
  private readonly logger?: Logger;
  private readonly packr = new Packr({ useRecords: false, mapsAsObjects: true });
  private readonly docs = new Map<string, DocSub>();
  private readonly resyncListeners = new Set<(doc: string) => void>();
  private closed = false;
  private lastDropLog = 0;

  constructor(options: NatsDocBusOptions) {
    const n = options.config?.nats;
    this.prefix = options.prefix ?? n?.prefix ?? 'aq';
    this.logger = options.logger;
    this.link = new NatsLink({
      url: options.url,
      name: 'aqueduct-docbus',
      logger: options.logger,
      requestTimeoutMs: n?.requestTimeoutMs ?? 5000,
      pingIntervalMs: n?.pingIntervalMs ?? 2000,
    });
    // The client resubscribes existing subscriptions by itself; documents subscribed while NATS was
    // down get theirs now. Either way, whatever was published meanwhile was lost: resync.
    this.link.onReconnect(() => { for (const doc of this.docs.keys()) this.attach(doc); });
    void this.link.whenOpen().then(() => { for (const doc of this.docs.keys()) this.attach(doc); }, () => undefined);
  }

  onResync(listener: (doc: string) => void): () => void {
    this.resyncListeners.add(listener);
    return () => { this.resyncListeners.delete(listener); };
  }

  private emitResync(doc: string): void {
    for (const fn of [...this.resyncListeners]) {
      try { fn(doc); } catch (err) { this.logger?.error({ err, doc }, 'nats doc bus: resync listener failed'); }
    }
  }

  private subject(doc: string): string {
    return `${this.prefix}.d.${token(doc)}`;
  }

  publish(message: RemoteDocUpdate): void {
    const wire: Wire = { doc: message.doc, u: message.update, n: message.node, a: message.author, s: message.seq };
    try {
      this.link.parts().nc.publish(this.subject(message.doc), this.packr.pack(wire));
    } catch (err) {
      const now = Date.now();
      if (now - this.lastDropLog > 5000) {
        this.lastDropLog = now;
        this.logger?.warn({ err: (err as Error).message, doc: message.doc }, 'nats doc bus: update not fanned out (it is stored)');
      }
    }
  }

  /** Makes the document's subscription if the connection is up and it has none; then resyncs it. */
  private attach(doc: string): void {
    const entry = this.docs.get(doc);
    if (!entry || this.closed) return;
    let nc;
    try {
      nc = this.link.parts().nc;
    } catch {
      return; // the reconnect attaches it
    }
    entry.sub ??= nc.subscribe(this.subject(doc), { callback: (err, msg) => { if (!err) this.onMessage(msg.data); } });
    nc.flush().then(() => { if (this.docs.get(doc) === entry) this.emitResync(doc); }, () => undefined);
  }

  subscribe(doc: string, onUpdate: (message: RemoteDocUpdate) => void): () => void {
    let entry = this.docs.get(doc);
    if (!entry) {
      this.docs.set(doc, (entry = { listeners: new Set() }));
      this.attach(doc);
    }
    const e = entry;
    e.listeners.add(onUpdate);
    return () => {
      e.listeners.delete(onUpdate);
      if (e.listeners.size === 0 && this.docs.get(doc) === e) {
        this.docs.delete(doc);
        try { e.sub?.unsubscribe(); } catch { /* closed */ }
      }
    };
  }

  private onMessage(data: Uint8Array): void {
    let wire: Wire;
    try {
      wire = this.packr.unpack(data) as Wire;
    } catch (err) {
      this.logger?.error({ err }, 'nats doc bus: undecodable message dropped');
      return;
    }
    const entry = this.docs.get(wire.doc);
    if (!entry) return;
    const m: RemoteDocUpdate = { doc: wire.doc, update: wire.u, node: wire.n, author: wire.a, seq: wire.s };
    for (const fn of [...entry.listeners]) fn(m);
  }

  health(): { ok: boolean; detail?: string } {
    const h = this.link.health();
    return h.ok ? h : { ok: false, detail: `nats doc bus: ${h.detail ?? 'not connected'}` };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.docs.clear();
    await this.link.close();
  }
}
