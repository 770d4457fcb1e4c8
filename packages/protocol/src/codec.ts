import { SUBPROTOCOL_JSON, type CodecName } from './messages.js';

/**
 * A pure codec between message objects and frames. JSON frames are text; MessagePack frames are
 * binary. Both sides use the same codec for the whole connection (chosen by subprotocol).
 *
 * MessagePack lives in `codec-msgpack.ts`, so that a JSON-only browser bundle does not carry
 * msgpackr (this package is `sideEffects: false`).
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
