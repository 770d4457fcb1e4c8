import { SSE_RESERVED_EVENTS, encodeCursor, type Publication, type SseMessageData } from '@aqueduct/protocol';
import type { Delivery } from '../core/delivery.js';
import { dataLines, field } from './sse-format.js';

/** The JSON payload of a publication on the one-way pipes (SSE `data:`, long-poll entries). */
export function messageData(room: string, pub: Publication, volatile: boolean): SseMessageData {
  const out: SseMessageData = volatile ? { room, data: pub.data } : { room, epoch: pub.epoch, offset: pub.offset, data: pub.data };
  if (pub.event !== undefined) out.event = pub.event;
  if (pub.from !== undefined) out.from = pub.from;
  if (volatile) out.volatile = true;
  return out;
}

const jsonCache = new WeakMap<Delivery, string>();

/**
 * JSON.stringify that never throws: values JSON cannot hold (BigInt from a MessagePack publisher)
 * become strings, cycles `null`, so one odd publication cannot break fanout to every stream.
 */
export function toJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    try {
      return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
    } catch {
      return 'null'; // circular (an embedding app's server-side publish): nothing sensible to send
    }
  }
}

/** `messageData` as JSON, encoded once per delivery however many streams carry it. */
export function deliveryJson(delivery: Delivery): string {
  let json = jsonCache.get(delivery);
  if (json === undefined) {
    json = toJson(messageData(delivery.room, delivery.pub, delivery.volatile));
    jsonCache.set(delivery, json);
  }
  return json;
}

const reserved = new Set(SSE_RESERVED_EVENTS);

/**
 * The SSE event name of a publication: its own name, unless the stream asked for unnamed events
 * (`named=0`, so a generic `onmessage` sees everything) or the name is reserved.
 */
export function sseEventName(pub: Publication, named: boolean): string {
  if (!named || pub.event === undefined || reserved.has(pub.event)) return 'message';
  return pub.event;
}

const frameCache = new WeakMap<Delivery, { named?: string; unnamed?: string }>();

/**
 * The complete SSE event of a delivery for a stream of exactly this one room. Its id depends only on
 * the publication's position, so the frame is built once per delivery and shared by every
 * single-room stream (the common case: many readers of one feed).
 */
export function singleRoomFrame(delivery: Delivery, named: boolean): string {
  let entry = frameCache.get(delivery);
  if (!entry) frameCache.set(delivery, (entry = {}));
  const key = named ? 'named' : 'unnamed';
  let frame = entry[key];
  if (frame === undefined) {
    const { pub } = delivery;
    const name = sseEventName(pub, named);
    const id = encodeCursor({ [delivery.room]: { epoch: pub.epoch, offset: pub.offset } });
    frame = `${name === 'message' ? '' : field('event', name)}${dataLines(deliveryJson(delivery))}${field('id', id)}\n`;
    entry[key] = frame;
  }
  return frame;
}

/**
 * `encodeCursor` for the hot path (one id per event per multi-room stream): the same bytes,
 * base64url of the JSON `[[room, epoch, offset], ...]`, built with Node's native base64.
 * `test/sse-cursor.test.ts` checks it against `encodeCursor`.
 */
export function fastCursor(positions: Iterable<[string, { epoch: string; offset: number }]>): string {
  let json = '[';
  for (const [room, p] of positions) {
    if (json.length > 1) json += ',';
    json += `[${JSON.stringify(room)},${JSON.stringify(p.epoch)},${p.offset}]`;
  }
  return Buffer.from(`${json}]`, 'utf8').toString('base64url');
}
