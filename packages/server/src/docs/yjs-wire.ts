import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import { binaryFrameFor } from '../ws/ws-frame.js';

/**
 * The y-websocket wire (y-protocols sync + awareness + auth), as pure functions: encode the frames
 * the server sends, decode what a client sends. No sockets, no documents' lifecycle: the
 * connection handling is yjs.ts.
 */

/** y-websocket message types (first varuint of every frame). */
export const MessageType = { sync: 0, awareness: 1, auth: 2, queryAwareness: 3 } as const;
/** y-protocols sync sub-types. */
export const SyncType = { step1: 0, step2: 1, update: 2 } as const;

/** A decoded client message. */
export type YjsMessage =
  | { kind: 'sync-step1'; stateVector: Uint8Array }
  | { kind: 'sync-step2'; update: Uint8Array }
  | { kind: 'sync-update'; update: Uint8Array }
  | { kind: 'awareness'; update: Uint8Array }
  | { kind: 'query-awareness' }
  | { kind: 'auth' }
  /** A well-formed frame of a type the server does not take (rejected by the caller). */
  | { kind: 'unknown'; message: string };

function frame(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
}

/** `[2, 0, reason]`: the y-protocols permission-denied auth message. */
export function permissionDeniedFrame(reason: string): Uint8Array {
  return frame((e) => {
    encoding.writeVarUint(e, MessageType.auth);
    encoding.writeVarUint(e, 0);
    encoding.writeVarString(e, reason);
  });
}

/** `[0, 0, stateVector]`: sync step 1. */
export function syncStep1Frame(stateVector: Uint8Array): Uint8Array {
  return frame((e) => {
    encoding.writeVarUint(e, MessageType.sync);
    encoding.writeVarUint(e, SyncType.step1);
    encoding.writeVarUint8Array(e, stateVector);
  });
}

/** `[0, 1, update]`: sync step 2 (what the peer is missing). */
export function syncStep2Frame(update: Uint8Array): Uint8Array {
  return frame((e) => {
    encoding.writeVarUint(e, MessageType.sync);
    encoding.writeVarUint(e, SyncType.step2);
    encoding.writeVarUint8Array(e, update);
  });
}

/** `[1, awarenessUpdate]` for the given clients of an awareness. */
export function awarenessFrame(awareness: awarenessProtocol.Awareness, clients: number[]): Uint8Array {
  return frame((e) => {
    encoding.writeVarUint(e, MessageType.awareness);
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, clients));
  });
}

/**
 * The WebSocket frame of the sync message `[0, 2, varUint8Array(update)]`, built in one buffer
 * (what a broadcast writes to every socket).
 */
export function syncUpdateWire(update: Uint8Array): Buffer {
  let lenBytes = 1;
  for (let n = update.byteLength; n >= 0x80; n = Math.floor(n / 0x80)) lenBytes++;
  const { out, offset } = binaryFrameFor(2 + lenBytes + update.byteLength);
  let pos = offset;
  out[pos++] = MessageType.sync;
  out[pos++] = SyncType.update;
  for (let n = update.byteLength; ; n = Math.floor(n / 0x80)) {
    if (n < 0x80) { out[pos++] = n; break; }
    out[pos++] = (n & 0x7f) | 0x80;
  }
  out.set(update, pos);
  return out;
}

/** Decodes one client frame. Throws on a malformed one (truncated, or a garbage state vector). */
export function decodeYjsMessage(buf: Buffer): YjsMessage {
  const decoder = decoding.createDecoder(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  const type = decoding.readVarUint(decoder);
  switch (type) {
    case MessageType.sync: {
      const sub = decoding.readVarUint(decoder);
      if (sub === SyncType.step1) {
        const stateVector = decoding.readVarUint8Array(decoder);
        Y.decodeStateVector(stateVector); // throws on garbage before anything is computed with it
        return { kind: 'sync-step1', stateVector };
      }
      if (sub === SyncType.step2) return { kind: 'sync-step2', update: decoding.readVarUint8Array(decoder) };
      if (sub === SyncType.update) return { kind: 'sync-update', update: decoding.readVarUint8Array(decoder) };
      return { kind: 'unknown', message: `unknown sync message type ${sub}` };
    }
    case MessageType.awareness:
      return { kind: 'awareness', update: decoding.readVarUint8Array(decoder) };
    case MessageType.queryAwareness:
      return { kind: 'query-awareness' };
    case MessageType.auth:
      return { kind: 'auth' };
    default:
      return { kind: 'unknown', message: `unknown message type ${type}` };
  }
}

/** The entries of an awareness update (client id, clock, state JSON). Throws on a malformed one. */
export function awarenessEntries(update: Uint8Array): Array<{ id: number; clock: number; json: string }> {
  const d = decoding.createDecoder(update);
  const n = decoding.readVarUint(d);
  const out: Array<{ id: number; clock: number; json: string }> = [];
  for (let i = 0; i < n; i++) {
    const id = decoding.readVarUint(d);
    const clock = decoding.readVarUint(d);
    const json = decoding.readVarString(d);
    JSON.parse(json);
    out.push({ id, clock, json });
  }
  return out;
}
