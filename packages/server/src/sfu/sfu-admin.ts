import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { HttpModule } from '../http/http-module.js';
import { HttpError, isApiKeyRequest, sendJson } from '../http/http-util.js';
import type { ServerContext } from '../context.js';
import type { SfuStats } from './sfu-metrics.js';

/** One Admin API request on a fresh socket (`janus-admin-protocol`), bounded by `timeoutMs`. */
export function janusAdminRequest(url: string, secret: string | undefined, body: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'janus-admin-protocol', { handshakeTimeout: timeoutMs });
    const transaction = randomBytes(8).toString('hex');
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`no answer within ${timeoutMs} ms`)); }, timeoutMs);
    const done = (err: Error | undefined, value?: Record<string, unknown>) => {
      clearTimeout(timer);
      ws.terminate();
      if (err) reject(err);
      else resolve(value as Record<string, unknown>);
    };
    ws.on('error', (err) => done(err));
    ws.on('open', () => ws.send(JSON.stringify({ ...body, transaction, ...(secret ? { admin_secret: secret } : {}) })));
    ws.on('message', (data) => {
      let msg: Record<string, unknown>;
      try { msg = JSON.parse(data.toString()) as Record<string, unknown>; } catch { return; }
      if (msg.transaction !== transaction) return;
      if (msg.janus === 'error') done(new Error(String((msg.error as { reason?: unknown } | undefined)?.reason ?? 'janus admin error')));
      else done(undefined, msg);
    });
  });
}

/**
 * `GET /api/admin/sfu` (API key): this node's SFU figures and, with `sfu.adminUrl`, the number of
 * sessions Janus holds (Admin API `list_sessions`): the leak check the tests make, for operators.
 */
export function sfuAdminModule(ctx: ServerContext, stats: () => SfuStats): HttpModule {
  const { config } = ctx;
  return {
    name: 'sfu-admin',
    async handle(req, res, url) {
      if (url.pathname !== '/api/admin/sfu') return false;
      if (req.method !== 'GET') throw new HttpError(405, 'BAD_REQUEST', 'use GET');
      if (!config.apiKey) throw new HttpError(403, 'PERMISSION_DENIED', 'no API key is configured on this server (set AQUEDUCT_API_KEY)');
      if (!isApiKeyRequest(req, config.apiKey)) throw new HttpError(401, 'NOT_AUTHENTICATED', 'send the server API key as Authorization: Bearer <key> or X-API-Key');
      const body: Record<string, unknown> = { node: ctx.nodeId, configured: config.sfu.janusUrl !== undefined, ...stats() };
      if (config.sfu.adminUrl) {
        try {
          const r = await janusAdminRequest(config.sfu.adminUrl, config.sfu.adminSecret, { janus: 'list_sessions' }, config.sfu.requestTimeoutMs);
          body.janusSessions = Array.isArray(r.sessions) ? r.sessions.length : null;
        } catch (err) {
          body.janusSessions = null;
          body.adminError = (err as Error).message;
        }
      }
      sendJson(res, 200, body);
      return true;
    },
  };
}
