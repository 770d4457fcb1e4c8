import { createServer, connect, type Server, type Socket } from 'node:net';

export interface ChaosProxyOptions {
  targetPort: number;
  /** Default 127.0.0.1. */
  targetHost?: string;
  /** Delay added to every chunk, both ways. Default 0. */
  latencyMs?: number;
  /** Live connection pairs at most; more are refused (destroyed on accept). Default 1000. */
  maxConnections?: number;
  /** Bytes queued per direction before reading from the sender pauses. Default 4 MiB. */
  maxBufferBytes?: number;
}

interface Chunk { due: number; data: Buffer }

/** One direction of a connection pair: delays chunks, keeps their order, applies backpressure. */
class Lane {
  private readonly queue: Chunk[] = [];
  private queuedBytes = 0;
  private timer?: NodeJS.Timeout;
  private blocked = false;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly latency: () => number,
    private readonly maxBytes: number,
  ) {
    from.on('data', (data: Buffer) => this.enqueue(data));
    to.on('drain', () => { this.blocked = false; this.flush(); });
    from.on('end', () => this.enqueueEnd());
  }

  private ended = false;

  private enqueue(data: Buffer): void {
    this.queue.push({ due: Date.now() + this.latency(), data });
    this.queuedBytes += data.length;
    if (this.queuedBytes > this.maxBytes) this.from.pause();
    this.flush();
  }

  private enqueueEnd(): void {
    this.ended = true;
    this.flush();
  }

  private flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    const now = Date.now();
    while (!this.blocked && this.queue.length > 0 && this.queue[0].due <= now) {
      const chunk = this.queue.shift()!;
      this.queuedBytes -= chunk.data.length;
      if (this.to.destroyed) return;
      if (!this.to.write(chunk.data)) this.blocked = true;
    }
    if (this.queuedBytes <= this.maxBytes / 2 && this.from.isPaused()) this.from.resume();
    if (this.queue.length > 0 && !this.blocked) {
      this.timer = setTimeout(() => this.flush(), Math.max(0, this.queue[0].due - Date.now()));
    } else if (this.queue.length === 0 && this.ended && !this.to.destroyed) {
      this.to.end();
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.queue.length = 0;
  }
}

interface Pair { client: Socket; upstream: Socket; lanes: Lane[] }

/**
 * A TCP proxy in front of a target port that tests control: cut every live connection, add latency
 * (both ways, order preserved), or cut random connections at random moments.
 */
export class ChaosProxy {
  private server?: Server;
  private readonly pairs = new Set<Pair>();
  private latencyMs: number;
  private readonly maxConnections: number;
  private readonly maxBufferBytes: number;
  private randomTimer?: NodeJS.Timeout;
  /** Connection pairs cut so far (by `cutAll`, random cuts or `cutOne`). */
  cuts = 0;
  /** Connections accepted so far. */
  accepted = 0;
  private blocked = false;

  constructor(private readonly options: ChaosProxyOptions) {
    this.latencyMs = options.latencyMs ?? 0;
    this.maxConnections = options.maxConnections ?? 1000;
    this.maxBufferBytes = options.maxBufferBytes ?? 4 * 1024 * 1024;
  }

  /** Starts listening on 127.0.0.1 (a free port unless given); resolves to the port. */
  listen(port = 0): Promise<number> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : 0);
      });
    });
  }

  get port(): number {
    const addr = this.server?.address();
    return typeof addr === 'object' && addr ? addr.port : 0;
  }

  /** Live connection pairs. */
  get connections(): number {
    return this.pairs.size;
  }

  private accept(client: Socket): void {
    if (this.blocked || this.pairs.size >= this.maxConnections) {
      client.destroy();
      return;
    }
    this.accepted++;
    client.setNoDelay(true);
    const upstream = connect({ port: this.options.targetPort, host: this.options.targetHost ?? '127.0.0.1' });
    upstream.setNoDelay(true);
    const latency = () => this.latencyMs;
    const pair: Pair = {
      client, upstream,
      lanes: [new Lane(client, upstream, latency, this.maxBufferBytes), new Lane(upstream, client, latency, this.maxBufferBytes)],
    };
    this.pairs.add(pair);
    const drop = () => this.destroy(pair);
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
  }

  private destroy(pair: Pair): boolean {
    if (!this.pairs.delete(pair)) return false;
    for (const lane of pair.lanes) lane.stop();
    pair.client.destroy();
    pair.upstream.destroy();
    return true;
  }

  /** Destroys every live connection pair (both sides see an abrupt close). Returns how many. */
  cutAll(): number {
    let n = 0;
    for (const pair of [...this.pairs]) if (this.destroy(pair)) n++;
    this.cuts += n;
    return n;
  }

  /** Destroys one random live connection pair; false if there was none. */
  cutOne(): boolean {
    const all = [...this.pairs];
    if (all.length === 0) return false;
    const ok = this.destroy(all[Math.floor(Math.random() * all.length)]);
    if (ok) this.cuts++;
    return ok;
  }

  /**
   * Makes the target unreachable without freeing the port: cuts every connection and closes new
   * ones at once, until `unblock()`. (Killing a service instead frees its port, which another process
   * on a busy machine may take before the test restarts it.)
   */
  block(): void {
    this.blocked = true;
    this.cutAll();
  }

  unblock(): void {
    this.blocked = false;
  }

  /** Delay applied to chunks received from now on. */
  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /** Cuts one random live connection every `minMs`..`maxMs` until `stopRandomCuts()`. */
  startRandomCuts({ minMs, maxMs }: { minMs: number; maxMs: number }): void {
    this.stopRandomCuts();
    const next = () => {
      this.randomTimer = setTimeout(() => { this.cutOne(); next(); }, minMs + Math.random() * Math.max(0, maxMs - minMs));
    };
    next();
  }

  stopRandomCuts(): void {
    if (this.randomTimer) clearTimeout(this.randomTimer);
    this.randomTimer = undefined;
  }

  /** Stops listening and cuts every connection. */
  async close(): Promise<void> {
    this.stopRandomCuts();
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    for (const pair of [...this.pairs]) this.destroy(pair);
    await closed;
  }
}
