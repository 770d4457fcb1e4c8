import { Packr, Unpackr } from 'msgpackr';
import { SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, type CodecName } from './messages.js';

/**
 * A pure codec between message objects and frames. JSON frames are text; MessagePack frames are
 * binary. Both sides use the same codec for the whole connection (chosen by subprotocol).
 */
export interface Codec {
  readonly name: CodecName;
  readonly subprotocol: string;
  /** True if frames are binary (WebSocket binary opcode). */
  readonly binary: boolean;
  encode(message: unknown): string | Uint8Array;
  /** Decodes one frame. Throws on undecodable input. */
  decode(frame: string | Uint8Array): unknown;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

export const jsonCodec: Codec = {
  name: 'json',
  subprotocol: SUBPROTOCOL_JSON,
  binary: false,
  encode: (message) => JSON.stringify(message),
  decode: (frame) => JSON.parse(typeof frame === 'string' ? frame : textDecoder.decode(frame)),
};

// `useRecords: false` keeps the output plain MessagePack maps, readable by any MessagePack library;
// `skipValues: [undefined]` omits absent fields as JSON does (msgpackr would otherwise write its
// own extension type for `undefined`, which other MessagePack libraries cannot read).
// (`skipValues` is a msgpackr option its type definitions do not list yet.)
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, ...{ skipValues: [undefined] } });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

export const msgpackCodec: Codec = {
  name: 'msgpack',
  subprotocol: SUBPROTOCOL_MSGPACK,
  binary: true,
  encode: (message) => packr.pack(message),
  decode: (frame) => {
    if (typeof frame === 'string') throw new Error('text frame on a MessagePack connection');
    return unpackr.unpack(frame);
  },
};

export const codecs: Record<CodecName, Codec> = { json: jsonCodec, msgpack: msgpackCodec };

/** Picks the codec for a subprotocol; undefined when unsupported. No subprotocol means JSON. */
export function codecForSubprotocol(protocol: string | undefined): Codec | undefined {
  if (!protocol || protocol === SUBPROTOCOL_JSON) return jsonCodec;
  if (protocol === SUBPROTOCOL_MSGPACK) return msgpackCodec;
  return undefined;
}
