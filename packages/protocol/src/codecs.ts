import { jsonCodec, type Codec } from './codec.js';
import { msgpackCodec } from './codec-msgpack.js';
import { SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, type CodecName } from './messages.js';

/** Every codec by name (the server speaks both). */
export const codecs: Record<CodecName, Codec> = { json: jsonCodec, msgpack: msgpackCodec };

/** Picks the codec for a subprotocol; undefined when unsupported. No subprotocol means JSON. */
export function codecForSubprotocol(protocol: string | undefined): Codec | undefined {
  if (!protocol || protocol === SUBPROTOCOL_JSON) return jsonCodec;
  if (protocol === SUBPROTOCOL_MSGPACK) return msgpackCodec;
  return undefined;
}
