import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeStatsSampler } from '../../admin/node-stats.js';
import type { HttpModule } from '../../http/http-module.js';
import { HttpError, isApiKeyRequest, readJsonBody, sendJson } from '../../http/http-util.js';
import type { Config } from '../../config.js';
import type { ServerContext } from '../../context.js';
import type { Logger } from '../../logger.js';
import { StaticFiles } from '../../http/static-files.js';
import { parseBody } from '../../http/body.js';
import { ASSET_RE, MAX_TOKEN_BODY_BYTES, demoRoutes } from './demo-routes.js';
import { demoGrants } from './demo-roles.js';

export { DEMO_GRANTS } from './demo-roles.js';
const ADJECTIVES = ['Amber', 'Brisk', 'Calm', 'Deft', 'Eager', 'Fleet', 'Gentle', 'Hazel', 'Ivory', 'Jolly', 'Keen', 'Lucid'];
const ANIMALS = ['Otter', 'Heron', 'Lynx', 'Wren', 'Marten', 'Ibis', 'Newt', 'Finch', 'Badger', 'Crane', 'Gecko', 'Puffin'];
const COLORS = ['#d7263d', '#1b998b', '#2e86ab', '#c5283d', '#7b2cbf', '#e07a00', '#2a9d8f', '#3a86ff', '#b5179e', '#6a994e'];

/** Where the demo's pages and bundles live: `packages/server/public` (from `src/` and `dist/` alike). */
export const PUBLIC_DIR = fileURLToPath(new URL('../../../public/', import.meta.url));

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
 * - `GET /whiteboard` the whiteboard app (demo mode only);
 * - `GET /admin` the dashboard page (its data routes need the API key, which the page asks for);
 * - static assets (`/build/*`, `/style.css`, ...) from `packages/server/public`;
 * - `GET /live` the live-stream room app (demo mode only; `?role=host|cohost|viewer`, `?room=`);
 * - `POST /api/demo/token` (demo mode only): a `config.demoTokenTtlSec` token for `demo:*` rooms
 *   (with `role`: plus that role's media grant on `demo:live-*`, demo-roles.ts);
 * - `GET /api/admin/stats` (API key): one report per live node.
 */
export function demoModule(ctx: ServerContext, stats: NodeStatsSampler, files = new StaticFiles(PUBLIC_DIR)): HttpModule {
  const { config, auth, logger } = ctx;
  const pageHeaders = {
    // The pages load only their own scripts and styles and talk only to this origin.
    'Content-Security-Policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    'Referrer-Policy': 'no-referrer',
  };
  const routes = demoRoutes(config);
  // The live-stream page also uses the camera and microphone (only hosts ask for them).
  const livePageHeaders = { ...pageHeaders, 'Permissions-Policy': 'camera=(self), microphone=(self)' };
  return {
    name: 'demo',
    async handle(req, res, url) {
      const path = url.pathname;
      if (path === '/api/demo/token') {
        if (req.method !== 'POST') throw new HttpError(405, 'BAD_REQUEST', 'use POST');
        if (!config.demo) throw new HttpError(404, 'NOT_FOUND', 'demo mode is off (start the server with --demo)');
        const body = parseBody(routes.token.body, await readJsonBody(req, MAX_TOKEN_BODY_BYTES));
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
        sendJson(res, 200, { node: ctx.nodeId, demo: config.demo, nodes: await stats.cluster() });
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
      // The demo's service worker (packages/demo/src/sw.ts), at the root so that its scope is `/`.
      if (path === '/sw.js') return files.serve(req, res, 'build/sw.js');
      // The whiteboard app (demo mode only, like the demo page).
      if (path === '/whiteboard' && config.demo) return files.serve(req, res, 'whiteboard.html', pageHeaders);
      if (path.startsWith('/build/') || ASSET_RE.test(path.slice(1))) {
        return files.serve(req, res, path.slice(1));
      }
      return false;
    },
  };
}

/**
 * Demo mode without a configured API key: the config with a key generated into the data dir (npm
 * start gives the dashboard a key without setup, like the generated JWT secret). Called by the
 * composition root before any part reads the config; returns a new config, never mutates one.
 */
export function withDemoApiKey(config: Config, logger: Logger): Config {
  if (!config.demo || config.apiKey) return config;
  const { key, file } = loadOrCreateDemoApiKey(config.dataDir);
  logger.info({ file }, 'demo mode: admin API key generated (read it from this file)');
  return { ...config, apiKey: key };
}
