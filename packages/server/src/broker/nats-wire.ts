import { Packr } from 'msgpackr';
import type { Origin, Publication } from '@aqueduct/protocol';
import type { EphemeralMessage, PublishInput } from './broker.js';

/**
 * Bytes of the NATS broker (the same body format as the Redis broker's streams):
 * - stored message: msgpack of `{d, e?, f?}` (data, event, from)
 * - live feed, publication: `p<epoch>:<offset>:<stored message>`
 * - live feed, ephemeral: `e<msgpack of the EphemeralMessage>`
 */
interface Body { d: unknown; e?: string; f?: Origin }

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

export function encodeBody(input: PublishInput): Buffer {
  const body: Body = { d: input.data };
  if (input.event !== undefined) body.e = input.event;
  if (input.from !== undefined) body.f = input.from;
  return packr.pack(body);
}

export function decodeBody(epoch: string, offset: number, bytes: Uint8Array): Publication {
  const b = packr.unpack(bytes) as Body;
  const pub: Publication = { epoch, offset, data: b.d };
  if (b.e !== undefined) pub.event = b.e;
  if (b.f !== undefined) pub.from = b.f;
  return pub;
}

export function encodeFeedPublication(epoch: string, offset: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`p${epoch}:${offset}:`), body]);
}

export function encodeFeedEphemeral(message: EphemeralMessage): Buffer {
  return Buffer.concat([Buffer.from('e'), packr.pack(message)]);
}

export type FeedMessage = { kind: 'pub'; pub: Publication } | { kind: 'eph'; message: EphemeralMessage };

/** Decodes a live-feed message; throws on bytes that are neither kind. */
export function decodeFeed(bytes: Uint8Array): FeedMessage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf[0] === 0x65 /* e */) return { kind: 'eph', message: packr.unpack(buf.subarray(1)) as EphemeralMessage };
  if (buf[0] !== 0x70 /* p */) throw new Error('unknown feed message');
  const c1 = buf.indexOf(0x3a, 1);
  const c2 = buf.indexOf(0x3a, c1 + 1);
  if (c1 < 0 || c2 < 0) throw new Error('malformed feed publication');
  const offset = Number(buf.toString('latin1', c1 + 1, c2));
  return { kind: 'pub', pub: decodeBody(buf.toString('utf8', 1, c1), offset, buf.subarray(c2 + 1)) };
}

export function encodeControl(message: unknown): Buffer {
  return packr.pack(message);
}

export function decodeControl<T>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}
