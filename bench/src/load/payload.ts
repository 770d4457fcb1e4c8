/**
 * Publication payloads: `~SEQ~MICROS~xxxx…`, padded to the payload size. `~` never occurs in the
 * servers' own framing, so the load generator finds a delivery's sequence number and send time
 * with one byte search, without decoding the frame.
 */
export function makePayload(seq: number, micros: number, size: number): string {
  const head = `~${seq}~${micros}~`;
  return head.length >= size ? head : head + 'x'.repeat(size - head.length);
}

const TILDE = 0x7e;

/** Parsed fields of the last `parsePayload` call (kept in a module object: no allocation per frame). */
export const parsed = { seq: 0, micros: 0 };

/** Finds the payload in `buf[start, end)`; false when the frame carries none. */
export function parsePayload(buf: Buffer, start: number, end: number): boolean {
  let i = buf.indexOf(TILDE, start);
  if (i < 0 || i >= end) return false;
  let seq = 0;
  for (i++; i < end; i++) {
    const c = buf[i];
    if (c === TILDE) break;
    seq = seq * 10 + (c - 48);
  }
  let micros = 0;
  for (i++; i < end; i++) {
    const c = buf[i];
    if (c === TILDE) break;
    micros = micros * 10 + (c - 48);
  }
  parsed.seq = seq;
  parsed.micros = micros;
  return true;
}

export function nowMicros(): number {
  return Math.round(performance.now() * 1000);
}
