import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeStatsSampler } from '../admin/node-stats.js';
import type { HttpModule } from '../http-module.js';
import { HttpError, isApiKeyRequest, readJsonBody, sendJson } from '../http-util.js';
import type { AqueductServer } from '../server.js';
import { demoGrants, isLiveRole, LIVE_ROLES, type LiveRole } from './demo-roles.js';
import { StaticFiles } from './static-files.js';

export { DEMO_GRANTS } from './demo-roles.js';
/** Largest body of `POST /api/demo/token`. */
export const MAX_TOKEN_BODY_BYTES = 1024;
const NAME_RE = /^[\p{L}\p{N} _.'-]{1,32}$/u;
const COLOR_RE = /^#[0-9a-f]{6}$/i;
const USER_RE = /^demo-[a-z0-9]{6,32}$/;
const ADJECTIVES = ['Amber', 'Brisk', 'Calm', 'Deft', 'Eager', 'Fleet', 'Gentle', 'Hazel', 'Ivory', 'Jolly', 'Keen', 'Lucid'];
const ANIMALS = ['Otter', 'Heron', 'Lynx', 'Wren', 'Marten', 'Ibis', 'Newt', 'Finch', 'Badger', 'Crane', 'Gecko', 'Puffin'];
const COLORS = ['#d7263d', '#1b998b', '#2e86ab', '#c5283d', '#7b2cbf', '#e07a00', '#2a9d8f', '#3a86ff', '#b5179e', '#6a994e'];

/** Where the demo's pages and bundles live: `packages/server/public` (from `src/` and `dist/` alike). */
export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

const LANDING = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Aqueduct</title><link rel="stylesheet" href="/style.css"></head>
<body class="landing"><main>
<h1>Aqueduct</h1>
<p>This server runs with demo mode <strong>off</strong>: the demo page and its anonymous tokens are disabled.
Start it with <code>--demo</code> (as <code>npm start</code> does) to try the demo locally.</p>
<p><a href="/admin">Admin dashboard</a> (needs the server API key) · <a href="/healthz">/healthz</a> · <a href="/metrics">/metrics</a></p>
</main></body></html>
`;

interface TokenRequest { user?: string; name?: string; color?: string; role?: LiveRole }

function parseTokenRequest(body: unknown): TokenRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'BAD_REQUEST', 'body must be a JSON object');
  const b = body as Record<string, unknown>;
  const out: TokenRequest = {};
  if (b.user !== undefined) {
    if (typeof b.user !== 'string' || !USER_RE.test(b.user)) throw new HttpError(400, 'BAD_REQUEST', 'user must look like "demo-" followed by 6-32 lowercase letters or digits');
    out.user = b.user;
  }
  if (b.name !== undefined) {
    if (typeof b.name !== 'string' || !NAME_RE.test(b.name.trim())) throw new HttpError(400, 'BAD_REQUEST', 'name must be 1-32 letters, digits, spaces or _ . \' -');
    out.name = b.name.trim();
  }
  if (b.color !== undefined) {
    if (typeof b.color !== 'string' || !COLOR_RE.test(b.color)) throw new HttpError(400, 'BAD_REQUEST', 'color must be #rrggbb');
    out.color = b.color.toLowerCase();
  }
  if (b.role !== undefined) {
    if (!isLiveRole(b.role)) throw new HttpError(400, 'BAD_REQUEST', `role must be one of ${LIVE_ROLES.join(', ')}`);
    out.role = b.role;
  }
  return out;
}

const pick = <T>(list: readonly T[]): T => list[randomInt(list.length)];

/**
 * Reads the admin API key from the data dir, creating it on first start. Used only in demo mode
 * when no key is configured, so `npm start` has a working dashboard without setup.
 */
function loadOrCreateDemoApiKey(dataDir: string): { key: string; file: string } {
  const file = join(dataDir, 'api-key');
  try {
    return { key: readFileSync(file, 'utf8').trim(), file };
  } catch {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, randomBytes(24).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
    return { key: readFileSync(file, 'utf8').trim(), file };
  }
}

/**
 * The demo app and the admin dashboard:
 * - `GET /` the demo room page when `config.demo` is on, otherwise a landing page saying it is off;
 * - `GET /admin` the dashboard page (its data routes need the API key, which the page asks for);
 * - static assets (`/build/*`, `/style.css`, ...) from `packages/server/public`;
 * - `GET /live` the live-stream room app (demo mode only; `?role=host|cohost|viewer`, `?room=`);
 * - `POST /api/demo/token` (demo mode only): a `config.demoTokenTtlSec` token for `demo:*` rooms
 *   (with `role`: plus that role's media grant on `demo:live-*`, demo-roles.ts);
 * - `GET /api/admin/stats` (API key): one report per live node.
 */
export function demoModule(server: AqueductServer, stats: NodeStatsSampler, files = new StaticFiles(PUBLIC_DIR)): HttpModule {
  const { config, auth, logger } = server;
  const pageHeaders = {
    // The pages load only their own scripts and styles and talk only to this origin.
    'Content-Security-Policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    'Referrer-Policy': 'no-referrer',
  };
  // The live-stream page also uses the camera and microphone (only hosts ask for them).
  const livePageHeaders = { ...pageHeaders, 'Permissions-Policy': 'camera=(self), microphone=(self)' };
  return {
    name: 'demo',
    async handle(req, res, url) {
      const path = url.pathname;
      if (path === '/api/demo/token') {
        if (req.method !== 'POST') throw new HttpError(405, 'BAD_REQUEST', 'use POST');
        if (!config.demo) throw new HttpError(404, 'NOT_FOUND', 'demo mode is off (start the server with --demo)');
        const body = parseTokenRequest(await readJsonBody(req, MAX_TOKEN_BODY_BYTES));
        const user = body.user ?? `demo-${randomBytes(6).toString('hex')}`;
        const name = body.name ?? `${pick(ADJECTIVES)} ${pick(ANIMALS)}`;
        const color = body.color ?? pick(COLORS);
        const ttlSec = config.demoTokenTtlSec;
        const rooms = demoGrants(body.role);
        const info = body.role ? { name, color, role: body.role } : { name, color };
        const token = await auth.sign({ sub: user, rooms, info, ttlSec });
        logger.debug({ user, role: body.role }, 'demo token issued');
        sendJson(res, 200, { token, user, name, color, ...(body.role ? { role: body.role } : {}), rooms, expiresAt: Date.now() + ttlSec * 1000 });
        return true;
      }
      if (path === '/api/admin/stats') {
        if (req.method !== 'GET') throw new HttpError(405, 'BAD_REQUEST', 'use GET');
        if (!config.apiKey) throw new HttpError(403, 'PERMISSION_DENIED', 'no API key is configured on this server (set AQUEDUCT_API_KEY)');
        if (!isApiKeyRequest(req, config.apiKey)) throw new HttpError(401, 'NOT_AUTHENTICATED', 'send the server API key as Authorization: Bearer <key> or X-API-Key');
        sendJson(res, 200, { node: server.nodeId, demo: config.demo, nodes: await stats.cluster() });
        return true;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      if (path === '/' || path === '/index.html') {
        if (config.demo) return files.serve(req, res, 'index.html', pageHeaders);
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache', ...pageHeaders });
        res.end(req.method === 'HEAD' ? undefined : LANDING);
        return true;
      }
      if (path === '/live' || path === '/live/') {
        if (config.demo) return files.serve(req, res, 'live.html', livePageHeaders);
        throw new HttpError(404, 'NOT_FOUND', 'demo mode is off (start the server with --demo)');
      }
      if (path === '/admin' || path === '/admin/') return files.serve(req, res, 'admin.html', pageHeaders);
      if (path.startsWith('/build/') || /^\/[a-z0-9-]+\.(css|svg|ico|png|webmanifest)$/.test(path)) {
        return files.serve(req, res, path.slice(1));
      }
      return false;
    },
  };
}

/**
 * Demo mode without a configured API key: generates one into the data dir (npm start gives the
 * dashboard a key without setup, like the generated JWT secret). Runs before any module reads
 * `config.apiKey`.
 */
export function ensureDemoApiKey(server: AqueductServer): void {
  const { config } = server;
  if (config.demo && !config.apiKey) {
    const { key, file } = loadOrCreateDemoApiKey(config.dataDir);
    (config as { apiKey?: string }).apiKey = key;
    server.logger.info({ file }, 'demo mode: admin API key generated (read it from this file)');
  }
}

/** Mounts the demo module and starts the stats sampler (stopped on close). */
export function installDemo(server: AqueductServer): void {
  const { config } = server;
  if (config.demo) server.logger.warn('demo mode is ON: anyone who can reach this server gets a token for demo:* rooms');
  const stats = new NodeStatsSampler({
    nodeId: server.nodeId,
    hub: server.hub,
    metrics: server.metrics,
    broker: server.broker,
    logger: server.logger,
    intervalMs: config.admin.statsIntervalMs,
    samples: config.admin.statsSamples,
    maxRoomsListed: config.admin.maxRoomsListed,
  });
  stats.start();
  server.onClose(async () => stats.stop());
  server.use(demoModule(server, stats));
}
