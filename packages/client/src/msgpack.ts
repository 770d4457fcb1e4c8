/**
 * `@aqueduct/client/msgpack`: the MessagePack codec, a separate entry so that JSON-only apps do
 * not bundle msgpackr. Pass it in: `new AqueductClient({ url, token, codec: msgpackCodec })`.
 */
export { msgpackCodec } from '@aqueduct/protocol';
export type { Codec } from '@aqueduct/protocol';
