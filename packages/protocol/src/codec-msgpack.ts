import { Packr, Unpackr } from 'msgpackr';
import type { Codec } from './codec.js';
import { SUBPROTOCOL_MSGPACK } from './messages.js';

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
