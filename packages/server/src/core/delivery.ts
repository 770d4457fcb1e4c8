import type { Codec, Publication } from '@aqueduct/protocol';

/**
 * One publication on its way to every local subscriber of a room. The wire frame is encoded at most
 * once per codec and the same bytes are handed to every connection using that codec.
 */
export class Delivery {
  private json?: Buffer;
  private msgpack?: Buffer;

  constructor(
    readonly room: string,
    readonly pub: Publication,
    readonly volatile: boolean,
  ) {}

  /** The `msg` frame for this codec (cached). */
  frame(codec: Codec): Buffer {
    if (codec.binary) return (this.msgpack ??= toBuffer(codec.encode(this.message())));
    return (this.json ??= toBuffer(codec.encode(this.message())));
  }

  private message() {
    const { room, pub } = this;
    return this.volatile
      ? { t: 'msg', room, data: pub.data, event: pub.event, from: pub.from, volatile: true }
      : { t: 'msg', room, epoch: pub.epoch, offset: pub.offset, data: pub.data, event: pub.event, from: pub.from };
  }
}

function toBuffer(x: string | Uint8Array): Buffer {
  if (typeof x === 'string') return Buffer.from(x, 'utf8');
  return Buffer.isBuffer(x) ? x : Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}
