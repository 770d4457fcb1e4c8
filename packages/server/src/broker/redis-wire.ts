import type { Origin, Publication } from '@aqueduct/protocol';
import { Packr } from 'msgpackr';
import type { EphemeralMessage } from './broker.js';

/**
 * What travels on the Redis room channels (shared by the Redis broker and Redis presence):
 * `p<epoch>:<offset>:<msgpack body>` for a publication, `e<msgpack>` for an ephemeral message.
 */

/** A publication's body as stored and published (msgpack). */
export interface Body { d: unknown; e?: string; f?: Origin }

const wirePackr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** The pub/sub channel of a room (shared with RedisPresence, which announces expired members on it). */
export function roomChannel(prefix: string, room: string): string {
  return `${prefix}{${room}}:c`;
}

/** An ephemeral message as it travels on a room channel. */
export function encodeEphemeral(message: EphemeralMessage): Buffer {
  return Buffer.concat([Buffer.from('e'), wirePackr.pack(message)]);
}

/** A publication from its position and stored body. */
export function decodePublication(packr: Packr, epoch: string, offset: number, body: Buffer): Publication {
  const b = packr.unpack(body) as Body;
  const pub: Publication = { epoch, offset, data: b.d };
  if (b.e !== undefined) pub.event = b.e;
  if (b.f !== undefined) pub.from = b.f;
  return pub;
}
