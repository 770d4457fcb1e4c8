import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCodes, codecForSubprotocol, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, type Codec } from '@aqueduct/protocol';
import { Session, type SessionDeps } from '../core/session.js';
import { wantsRequest } from '../hooks/session-hooks.js';
import { frameFor } from './ws-frame.js';
import { Flusher } from './write-coalescer.js';
import { FrameDeflater, negotiatedCompression, perMessageDeflateOptions, type WireCompression } from './ws-deflate.js';
import type { Transport } from '../core/transport.js';

/** How long a closing connection may take to complete the close handshake before it is cut. */
const CLOSE_GRACE_MS = 2000;

/**
 * Server-to-client WebSocket frames (FIN, unmasked), built once per payload Buffer. A publication's
 * payload is one Buffer shared by every recipient (Delivery encodes once per codec), so its frame is
 * built once too and the same bytes are queued on every connection: no per-recipient allocation.
 */
const framed = new WeakMap<Buffer, Buffer>();

export function serverFrame(payload: Buffer, binary: boolean): Buffer {
  let frame = framed.get(payload);
  if (frame) return frame;
  const { out, offset } = frameFor(payload.length, binary);
  payload.copy(out, offset);
  frame = out;
  framed.set(payload, frame);
  return frame;
}

/** @internal Re-exported for the transport's unit test. */
export { Flusher };

/** @internal Exported for its unit test. */
export class WsTransport implements Transport {
  private closing = false;
  private readonly socket: Socket;
  /** Frames owed to this connection since its last write, and their size. */
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  /** An urgent frame is queued: the queue leaves on the next tick whatever the window says. */
  private urgentQueued = false;

  readonly flushPhase: number;
  flushSample = -1;

  /** permessage-deflate as negotiated (ws-deflate.ts); 'none' without a deflater. */
  private readonly wire: WireCompression;

  constructor(private readonly ws: WebSocket, readonly codec: Codec, private readonly flusher: Flusher, private readonly deflater?: FrameDeflater) {
    this.socket = (ws as unknown as { _socket: Socket })._socket;
    this.wire = deflater ? negotiatedCompression(ws) : { mode: 'none' };
    this.flushPhase = flusher.nextPhase();
  }

  bufferedBytes(): number {
    return this.ws.bufferedAmount + this.queuedBytes;
  }

  write(payload: Buffer, urgent = false): void {
    if (this.closing || this.ws.readyState !== 1) return;
    // Frames go straight to the socket, bypassing ws's Sender: safe because the Sender then never
    // compresses (so never holds frames back), and ws itself only writes control frames, which
    // `close` orders after the queue. With server context takeover the Sender compresses for this
    // connection alone and every data frame goes through it (queued here as the bare payload).
    const wire = this.wire;
    const frame = wire.mode === 'per-connection' ? payload
      : wire.mode === 'shared' ? this.deflater!.frame(serverFrame(payload, this.codec.binary), wire.windowBits)
      : serverFrame(payload, this.codec.binary);
    if (this.queue.length === 0 || (urgent && !this.urgentQueued)) {
      // A transport may sit in both of the Flusher's sets; whichever drains first writes the queue.
      this.flusher.add(this, urgent);
      this.urgentQueued = urgent;
    }
    this.queue.push(frame);
    this.queuedBytes += frame.length;
  }

  /** Writes the queue in one socket write; returns the number of frames. Called by the Flusher, and before a close frame. */
  flush(): number {
    this.urgentQueued = false;
    const queue = this.queue;
    const frames = queue.length;
    if (frames === 0) return 0;
    const bytes = this.queuedBytes;
    this.queuedBytes = 0;
    if (this.ws.readyState === 1) {
      if (this.wire.mode === 'per-connection') for (const p of queue) this.ws.send(p, { binary: this.codec.binary });
      else this.socket.write(queue.length === 1 ? queue[0] : Buffer.concat(queue, bytes));
    }
    queue.length = 0; // the array is reused; the socket holds the written Buffer, not the array
    return frames;
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.flush();
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
      return;
    }
    const timer = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    timer.unref();
    this.ws.once('close', () => clearTimeout(timer));
  }

  terminate(): void {
    this.closing = true;
    this.ws.terminate();
  }
}

export interface WsBusOptions {
  deps: SessionDeps;
  /** Called for every session created (server keeps the set for heartbeats and shutdown). */
  onSession(session: Session): void;
  onSessionClosed(session: Session): void;
}

/**
 * The `/ws` room bus transport: owns the `ws` server, the upgrade checks and each connection's
 * read loop. Frames go to `Session.receive`; the session writes back through `WsTransport`.
 */
export class WsBus {
  private readonly wss: WebSocketServer;
  private readonly flusher: Flusher;
  private readonly deflater?: FrameDeflater;

  constructor(private readonly options: WsBusOptions) {
    const { limits } = options.deps.config;
    this.flusher = new Flusher({ windowMs: limits.writeCoalesceMs, writeShare: limits.writeShare, maxGapMs: limits.writeMaxGapMs });
    if (options.deps.config.compression.enabled) this.deflater = new FrameDeflater(options.deps.config.compression);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: limits.maxMessageBytes,
      perMessageDeflate: perMessageDeflateOptions(options.deps.config.compression),
      clientTracking: false,
      handleProtocols: (protocols) => {
        if (protocols.has(SUBPROTOCOL_MSGPACK) && !protocols.has(SUBPROTOCOL_JSON)) return SUBPROTOCOL_MSGPACK;
        for (const p of protocols) if (codecForSubprotocol(p)) return p;
        // None supported: complete the handshake with the first one offered, so that `accept` can
        // close with 4503 (a refused handshake would only show the client a generic failure).
        return protocols.values().next().value ?? false;
      },
    });
  }

  /** Handles an upgrade to `/ws` (the Origin and connection-count checks are done by the caller). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, url, req));
  }

  private accept(ws: WebSocket, url: URL, req: IncomingMessage): void {
    const { deps } = this.options;
    const offered = ws.protocol;
    const codec = codecForSubprotocol(offered || undefined);
    if (!codec) {
      ws.close(CloseCodes.BAD_PROTOCOL.code, CloseCodes.BAD_PROTOCOL.reason);
      return;
    }
    (ws as unknown as { _socket: Socket })._socket.setNoDelay(true);
    const session = new Session(new WsTransport(ws, codec, this.flusher, this.deflater), deps);
    if (wantsRequest(deps.hub)) session.request = req; // onConnect (backend hooks), until auth
    deps.metrics.connections.labels('ws').inc();
    deps.metrics.connectionsTotal.labels('ws').inc();
    this.options.onSession(session);
    ws.on('message', (data, isBinary) => {
      const frame = data as Buffer;
      session.receive(isBinary ? frame : frame.toString('utf8'));
    });
    ws.on('error', (err) => {
      // ws reports protocol violations (oversize frame: 1009, bad opcode) here, then closes.
      deps.logger.info({ client: session.id, code: (err as { code?: string }).code, err: err.message }, 'websocket error');
    });
    // `on`, not `once`: 'close' fires once, and a once-wrapper costs ~170 bytes per idle connection.
    ws.on('close', () => {
      deps.metrics.connections.labels('ws').dec();
      session.onTransportClosed();
      this.options.onSessionClosed(session);
    });
    const token = url.searchParams.get('token');
    if (token) {
      // Authentication from the URL replies with the reserved request id 0.
      session.authenticate(token).then(
        (result) => session.receiveUrlAuth(result),
        (err: unknown) => session.receiveUrlAuthError(err),
      );
    }
  }

  close(): void {
    this.wss.close();
  }
}
