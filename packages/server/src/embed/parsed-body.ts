import type { IncomingMessage } from 'node:http';

/**
 * A body an app's middleware already read (Express `express.json()`, body-parser, Fastify with the
 * raw request's `body` set): Aqueduct's JSON routes take it from `req.body` instead of reading a
 * stream that is already consumed. `undefined` when the stream is still there to read.
 */
export function preParsedBody(req: IncomingMessage): { value: unknown; bytes: number } | undefined {
  const r = req as IncomingMessage & { body?: unknown; _body?: boolean };
  if (r.body === undefined) return undefined;
  // A parser that did not match the content type leaves the stream unread: read it ourselves.
  if (!r._body && !req.readableEnded) return undefined;
  const body = r.body;
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
    try {
      return { value: JSON.parse(text), bytes: Buffer.byteLength(text) };
    } catch {
      return { value: INVALID_JSON, bytes: Buffer.byteLength(text) };
    }
  }
  let bytes: number;
  try { bytes = Buffer.byteLength(JSON.stringify(body) ?? ''); } catch { bytes = Infinity; }
  return { value: body, bytes };
}

/** Marks a pre-read body that is not JSON. */
export const INVALID_JSON = Symbol('invalid JSON');
