import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorCode } from '@aqueduct/protocol';
import { timingSafeEqual } from 'node:crypto';
import { AuthError, type Authenticator } from '../auth/auth.js';
import type { User } from '../auth/grants.js';
import { INVALID_JSON, preParsedBody } from '../embed/parsed-body.js';

/** An HTTP error with the JSON body `{ error: { code, message } }`. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: ErrorCode | string, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) { res.destroy(); return; }
  sendJson(res, status, { error: { code, message } });
}

/** Reads a JSON body of at most `maxBytes`; HttpError 413 / 400 / 415 otherwise. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'BAD_REQUEST', 'Content-Type must be application/json');
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw new HttpError(413, 'MESSAGE_TOO_LARGE', `body exceeds ${maxBytes} bytes`);
  // Embedded behind a body parser (embed/parsed-body.ts): the stream was consumed, req.body holds it.
  const parsed = preParsedBody(req);
  if (parsed) {
    if (parsed.bytes > maxBytes) throw new HttpError(413, 'MESSAGE_TOO_LARGE', `body exceeds ${maxBytes} bytes`);
    if (parsed.value === INVALID_JSON) throw new HttpError(400, 'BAD_REQUEST', 'body is not valid JSON');
    return parsed.value;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, 'MESSAGE_TOO_LARGE', `body exceeds ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'body is not valid JSON');
  }
}

/** The token of an HTTP request: `Authorization: Bearer`, the `aqueduct_token` cookie, or `?token=`. */
export function requestToken(req: IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const cookie = req.headers.cookie;
  if (cookie) {
    for (const part of cookie.split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === 'aqueduct_token') return cookieValue(v.join('='));
    }
  }
  return url.searchParams.get('token') ?? undefined;
}

/**
 * A cookie value, percent-decoded. A malformed escape (`%E0%A4%A`) is not an error of the server:
 * the raw value is returned, fails verification like any other bad token, and the request gets
 * 401 TOKEN_INVALID (a JWT never contains `%`).
 */
function cookieValue(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Authenticates an HTTP request: the server API key (as Bearer or `X-API-Key`) yields a superuser;
 * otherwise a user token. Throws HttpError 401 with TOKEN_INVALID / TOKEN_EXPIRED / NOT_AUTHENTICATED.
 */
export async function authenticateRequest(req: IncomingMessage, url: URL, auth: Authenticator, apiKey: string | undefined): Promise<User> {
  const headerKey = req.headers['x-api-key'];
  const token = typeof headerKey === 'string' ? headerKey : requestToken(req, url);
  if (!token) throw new HttpError(401, 'NOT_AUTHENTICATED', 'missing credentials: send Authorization: Bearer <token>');
  if (apiKey && safeEqual(token, apiKey)) return { id: 'server', grants: [], expiresAt: Infinity, superuser: true };
  if (typeof headerKey === 'string') throw new HttpError(401, 'TOKEN_INVALID', 'API key is invalid');
  try {
    return await auth.verify(token);
  } catch (e) {
    if (e instanceof AuthError) throw new HttpError(401, e.code, e.message);
    throw e;
  }
}

/** Whether the request carries the server API key. */
export function isApiKeyRequest(req: IncomingMessage, apiKey: string | undefined): boolean {
  if (!apiKey) return false;
  const headerKey = req.headers['x-api-key'];
  const auth = req.headers.authorization;
  const token = typeof headerKey === 'string' ? headerKey : auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
  return token !== undefined && safeEqual(token, apiKey);
}
