import { connect, type Socket, type TcpSocketConnectOpts } from 'node:net';

/**
 * A minimal WebSocket client over a raw TCP socket, for the load generator. `ws` would spend more
 * CPU per received frame than the servers spend sending it; this one hands the caller the payload
 * as a slice of the read buffer (no copy, no string) and masks outgoing frames with a zero key
 * (legal, and the payload is then sent as is). No extensions, no fragmentation (the servers under
 * test send whole frames).
 */
export interface RawWsHandlers {
  /** One complete data frame; `buf[start, end)` is the payload. Valid only during the call. */
  onFrame(buf: Buffer, start: number, end: number, opcode: number): void;
  /** Called once per TCP read, before its frames (one clock reading per read, not per frame). */
  onRead?(): void;
  onClose?(reason: string): void;
}

const KEY = 'YWJjZGVmZ2hpamtsbW5vcA==';
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

export class RawWs {
  private readonly socket: Socket;
  private pending: Buffer | undefined;
  private upgraded = false;
  private closed = false;

  private constructor(socket: Socket, private readonly handlers: RawWsHandlers) {
    this.socket = socket;
  }

  /** Opens a connection and completes the HTTP upgrade. Rejects on any non-101 answer. */
  static open(opts: { host: string; port: number; path: string; protocol?: string; localAddress?: string }, handlers: RawWsHandlers): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      // `onread` reads into one shared buffer and calls back directly, skipping the stream
      // machinery ('data' events, a fresh Buffer per read): reads are most of the load
      // generator's work. Safe to share: every read is consumed synchronously and leftovers copied.
      let ws!: RawWs;
      const options: TcpSocketConnectOpts = {
        host: opts.host,
        port: opts.port,
        localAddress: opts.localAddress,
        onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => { ws.onChunk(buf as Buffer, n); return true; } },
      };
      const socket = connect(options);
      socket.setNoDelay(true);
      ws = new RawWs(socket, handlers);
      ws.fail = (err: Error) => fail(err);
      ws.upgradeDone = () => {
        settled = true;
        socket.off('error', fail);
        socket.on('error', () => ws.onEnd('error'));
        resolve(ws);
      };
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(err);
      };
      socket.once('error', fail);
      socket.once('connect', () => {
        const proto = opts.protocol ? `Sec-WebSocket-Protocol: ${opts.protocol}\r\n` : '';
        socket.write(
          `GET ${opts.path} HTTP/1.1\r\nHost: ${opts.host}:${opts.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${proto}\r\n`,
        );
      });
      socket.once('close', () => {
        fail(new Error('closed during upgrade'));
        ws.onEnd('closed');
      });
    });
  }

  fail: (err: Error) => void = () => undefined;
  upgradeDone: () => void = () => undefined;

  /** One read of `n` bytes into the shared read buffer. */
  onChunk(shared: Buffer, n: number): void {
    const chunk = shared.subarray(0, n);
    if (this.upgraded) {
      this.onData(chunk);
      return;
    }
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      this.pending = buf;
      return;
    }
    this.pending = undefined;
    const head = buf.toString('latin1', 0, end);
    if (!head.startsWith('HTTP/1.1 101')) {
      this.fail(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
      return;
    }
    this.upgraded = true;
    this.upgradeDone();
    if (buf.length > end + 4) this.onData(buf.subarray(end + 4));
  }

  onEnd(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers.onClose?.(reason);
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  private onData(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    this.handlers.onRead?.();
    let pos = 0;
    const n = buf.length;
    while (n - pos >= 2) {
      const b0 = buf[pos];
      let len = buf[pos + 1] & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (n - pos < 4) break;
        len = buf.readUInt16BE(pos + 2);
        hdr = 4;
      } else if (len === 127) {
        if (n - pos < 10) break;
        len = buf.readUInt32BE(pos + 2) * 2 ** 32 + buf.readUInt32BE(pos + 6);
        hdr = 10;
      }
      if (n - pos < hdr + len) break;
      const start = pos + hdr;
      const end = start + len;
      const opcode = b0 & 0x0f;
      if (opcode === 0x9) this.sendFrame(0xa, buf.subarray(start, end));
      else if (opcode === 0x8) {
        this.socket.end();
        this.onEnd('close frame');
      } else if (opcode !== 0xa) this.handlers.onFrame(buf, start, end, opcode);
      pos = end;
    }
    if (pos < n) this.pending = Buffer.from(buf.subarray(pos));
  }

  /** Sends one frame, masked with a zero key. */
  sendFrame(opcode: number, payload: Buffer): void {
    if (this.closed) return;
    const len = payload.length;
    let header: Buffer;
    if (len < 126) {
      header = Buffer.allocUnsafe(6);
      header[1] = 0x80 | len;
    } else if (len < 65536) {
      header = Buffer.allocUnsafe(8);
      header[1] = 0x80 | 126;
      header.writeUInt16BE(len, 2);
    } else {
      header = Buffer.allocUnsafe(14);
      header[1] = 0x80 | 127;
      header.writeUInt32BE(0, 2);
      header.writeUInt32BE(len, 6);
    }
    header[0] = 0x80 | opcode;
    header.writeUInt32BE(0, header.length - 4);
    this.socket.write(Buffer.concat([header, payload]));
  }

  sendText(text: string): void {
    this.sendFrame(0x1, Buffer.from(text, 'utf8'));
  }

  /** Closes the TCP connection without a close handshake (the load ends all at once). */
  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
