import type { IncomingMessage, ServerResponse } from 'node:http';
import { isValidRoomName } from '@aqueduct/protocol';
import type { Authenticator } from '../auth/auth.js';
import { can, type Permission, type User } from '../auth/grants.js';
import type { Config } from '../config.js';
import { diffContent, stateToContent, type DocContent } from './doc-content.js';
import { DocsError, type DocManager } from './doc-manager.js';
import type { DocStore, DocVersion } from './doc-store.js';
import { UpdateRejected } from './update-validator.js';
import { HttpError, authenticateRequest, readJsonBody, sendJson } from '../http/http-util.js';
import type { Logger } from '../logger.js';
import type { z } from 'zod';
import { parseBody, type BodySpec } from '../http/body.js';
import { restoreBody, versionBody } from './docs-bodies.js';

export interface DocsHttpDeps {
  config: Config;
  logger: Logger;
  auth: Authenticator;
  store: DocStore;
  manager: DocManager;
}

const PREFIX = '/api/docs/';

type Route =
  | { kind: 'content' }
  | { kind: 'versions' }
  | { kind: 'version'; id: string }
  | { kind: 'diff' }
  | { kind: 'restore' }
  | { kind: 'audit' };

function parsePath(pathname: string): { doc: string; route: Route } | null {
  if (!pathname.startsWith(PREFIX)) return null;
  const parts = pathname.slice(PREFIX.length).split('/');
  let doc: string;
  try { doc = decodeURIComponent(parts[0]); } catch { throw new HttpError(400, 'INVALID_ROOM', 'document name is not valid URL encoding'); }
  const rest = parts.slice(1);
  if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) return { doc, route: { kind: 'content' } };
  if (rest.length === 1 && rest[0] === 'versions') return { doc, route: { kind: 'versions' } };
  if (rest.length === 2 && rest[0] === 'versions' && rest[1] !== '') {
    try { return { doc, route: { kind: 'version', id: decodeURIComponent(rest[1]) } }; } catch { throw new HttpError(400, 'BAD_REQUEST', 'version id is not valid URL encoding'); }
  }
  if (rest.length === 1 && rest[0] === 'diff') return { doc, route: { kind: 'diff' } };
  if (rest.length === 1 && rest[0] === 'restore') return { doc, route: { kind: 'restore' } };
  if (rest.length === 1 && rest[0] === 'audit') return { doc, route: { kind: 'audit' } };
  return null;
}

function intParam(url: URL, name: string, fallback: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,15}$/.test(raw)) throw new HttpError(400, 'BAD_REQUEST', `${name} must be a non-negative integer`);
  return Math.min(Number(raw), max);
}

function publicVersion(v: DocVersion): Omit<DocVersion, 'doc'> {
  return { id: v.id, label: v.label, author: v.author, time: v.time, seq: v.seq };
}

/**
 * `/api/docs/:doc/...`: document content, versions (record, list, read, diff, restore) and the
 * audit log. `:doc` is the URL-encoded document (room) name. Auth: a user token (`sub` on the room
 * to read, `pub` to write) or the server API key. Errors are `{ error: { code, message } }`.
 */
export class DocsHttp {
  constructor(private readonly deps: DocsHttpDeps) {}

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    let parsed: { doc: string; route: Route } | null;
    try {
      parsed = parsePath(url.pathname);
    } catch (err) {
      this.fail(res, err);
      return true;
    }
    if (!parsed) return false;
    try {
      await this.route(req, res, url, parsed.doc, parsed.route);
    } catch (err) {
      this.fail(res, err);
    }
    return true;
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (err instanceof HttpError) return sendJson(res, err.status, { error: { code: err.code, message: err.message } });
    if (err instanceof DocsError) {
      const status = err.code === 'NOT_FOUND' ? 404 : 503;
      return sendJson(res, status, { error: { code: err.code === 'NOT_FOUND' ? 'NOT_FOUND' : 'UNAVAILABLE', message: err.message } });
    }
    if (err instanceof UpdateRejected) return sendJson(res, 503, { error: { code: 'UNAVAILABLE', message: err.message } });
    this.deps.logger.error({ err }, 'docs http route failed');
    sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal server error' } });
  }

  private async authorize(req: IncomingMessage, url: URL, doc: string, perm: Permission): Promise<User> {
    const user = await authenticateRequest(req, url, this.deps.auth, this.deps.config.apiKey);
    if (!isValidRoomName(doc)) throw new HttpError(400, 'INVALID_ROOM', 'invalid document name');
    if (!can(user, perm, doc)) throw new HttpError(403, 'PERMISSION_DENIED', `no ${perm} permission for ${doc}`);
    return user;
  }

  private allow(req: IncomingMessage, ...methods: string[]): void {
    if (!methods.includes(req.method ?? 'GET')) throw new HttpError(405, 'BAD_REQUEST', `method ${req.method} not allowed here; use ${methods.join(' or ')}`);
  }

  /** The JSON body (an empty one reads as `{}`), validated by its zod schema (docs-bodies.ts). */
  private async body<T extends z.ZodType>(req: IncomingMessage, spec: BodySpec<T>): Promise<z.output<T>> {
    const len = Number(req.headers['content-length'] ?? 0);
    if (len === 0 && !req.headers['transfer-encoding']) return parseBody(spec, {});
    return parseBody(spec, await readJsonBody(req, this.deps.config.docs.maxHttpBodyBytes));
  }

  private async versionContent(doc: string, id: string): Promise<DocContent> {
    if (id === 'current') return stateToContent((await this.deps.manager.state(doc)).state);
    const v = await this.deps.store.getVersion(doc, id);
    if (!v) throw new HttpError(404, 'NOT_FOUND', `version ${id} of ${doc} not found`);
    return stateToContent(v.state);
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL, doc: string, route: Route): Promise<void> {
    const { store, manager, config } = this.deps;
    switch (route.kind) {
      case 'content': {
        this.allow(req, 'GET');
        await this.authorize(req, url, doc, 'sub');
        const { state, seq } = await manager.state(doc);
        return sendJson(res, 200, { doc, seq, ...stateToContent(state) });
      }
      case 'versions': {
        this.allow(req, 'GET', 'POST');
        if (req.method === 'POST') {
          const user = await this.authorize(req, url, doc, 'pub');
          const { label } = await this.body(req, versionBody);
          const v = await manager.createVersion(doc, label ?? null, user.id);
          return sendJson(res, 201, { version: publicVersion(v) });
        }
        await this.authorize(req, url, doc, 'sub');
        const limit = intParam(url, 'limit', 100, config.docs.maxListLimit);
        const after = url.searchParams.get('after') ?? undefined;
        const versions = await store.listVersions(doc, { limit, after });
        return sendJson(res, 200, { versions: versions.map(publicVersion) });
      }
      case 'version': {
        this.allow(req, 'GET');
        await this.authorize(req, url, doc, 'sub');
        const v = await store.getVersion(doc, route.id);
        if (!v) throw new HttpError(404, 'NOT_FOUND', `version ${route.id} of ${doc} not found`);
        return sendJson(res, 200, { version: publicVersion(v), ...stateToContent(v.state) });
      }
      case 'diff': {
        this.allow(req, 'GET');
        await this.authorize(req, url, doc, 'sub');
        const from = url.searchParams.get('from');
        const to = url.searchParams.get('to') ?? 'current';
        if (!from) throw new HttpError(400, 'BAD_REQUEST', 'from (a version id) is required; to defaults to current');
        const [a, b] = await Promise.all([this.versionContent(doc, from), this.versionContent(doc, to)]);
        return sendJson(res, 200, { from, to, ...diffContent(a, b, config.docs.maxDiffCells) });
      }
      case 'restore': {
        this.allow(req, 'POST');
        const user = await this.authorize(req, url, doc, 'pub');
        const { version } = await this.body(req, restoreBody);
        const r = await manager.restore(doc, version, user.id);
        return sendJson(res, 200, { restored: r.restored, undoVersion: publicVersion(r.undoVersion), seq: r.seq });
      }
      case 'audit': {
        this.allow(req, 'GET');
        await this.authorize(req, url, doc, 'sub');
        const limit = intParam(url, 'limit', 100, config.docs.maxListLimit);
        const sinceSeq = intParam(url, 'since', 0, Number.MAX_SAFE_INTEGER);
        const rawTime = url.searchParams.get('sinceTime');
        let sinceTime: number | undefined;
        if (rawTime) {
          sinceTime = /^\d+$/.test(rawTime) ? Number(rawTime) : Date.parse(rawTime);
          if (!Number.isFinite(sinceTime)) throw new HttpError(400, 'BAD_REQUEST', 'sinceTime must be ms since epoch or an ISO date');
        }
        const entries = await store.audit(doc, { sinceSeq, sinceTime, limit });
        const next = limit > 0 && entries.length === limit ? entries[entries.length - 1].seq : null;
        return sendJson(res, 200, { entries, next });
      }
    }
  }
}
