import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCodes, codecForSubprotocol, SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, type Codec } from '@aqueduct/protocol';
import { Session, type SessionDeps } from '../session.js';
import type { Transport } from '../transport.js';

/** How long a closing connection may take to complete the close handshake before it is cut. */
const CLOSE_GRACE_MS = 2000;

/**
 * Write coalescing: a transport that writes corks its socket and joins the flush list; one timer
 * uncorks them all, so everything a connection is owed within the window leaves in one write.
 */
class Flusher {
  private readonly pending = new Set<WsTransport>();
  private scheduled = false;
  constructor(private readonly windowMs: number) {}

  add(t: WsTransport): void {
    this.pending.add(t);
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.windowMs > 0) setTimeout(this.flush, this.windowMs);
    else setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    for (const t of this.pending) t.uncork();
    this.pending.clear();
  };
}

class WsTransport implements Transport {
  private corked = false;
  private closing = false;
  private readonly socket: Socket;

  constructor(private readonly ws: WebSocket, readonly codec: Codec, private readonly flusher: Flusher) {
    this.socket = (ws as unknown as { _socket: Socket })._socket;
  }

  bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  write(frame: Buffer): void {
    if (this.closing || this.ws.readyState !== 1) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      this.flusher.add(this);
    }
    this.ws.send(frame, { binary: this.codec.binary, compress: false });
  }

  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.uncork();
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

  constructor(private readonly options: WsBusOptions) {
    const { limits } = options.deps.config;
    this.flusher = new Flusher(limits.writeCoalesceMs);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: limits.maxMessageBytes,
      perMessageDeflate: false,
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
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, url));
  }

  private accept(ws: WebSocket, url: URL): void {
    const { deps } = this.options;
    const offered = ws.protocol;
    const codec = codecForSubprotocol(offered || undefined);
    if (!codec) {
      ws.close(CloseCodes.BAD_PROTOCOL.code, CloseCodes.BAD_PROTOCOL.reason);
      return;
    }
    (ws as unknown as { _socket: Socket })._socket.setNoDelay(true);
    const session = new Session(new WsTransport(ws, codec, this.flusher), deps);
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
    ws.once('close', () => {
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
