import { z } from 'zod';
import { MAX_ROOM_NAME_LENGTH, isValidRoomName } from '@aqueduct/protocol';
import type { Config } from '../config.js';
import type { BodySpec } from '../http/body.js';
import { anyCredential, authErrors, bodyErrors, errorResponse, refused, upgradeErrors, upgradeHeaders, websocketTag } from '../http/openapi-common.js';
import { intQuery, route } from '../http/route.js';

/**
 * `/api/docs/:doc/...` (docs-http.ts): content, versions, diff, restore, audit log. The schemas
 * validate the requests and are the routes' OpenAPI.
 */

const LABEL = 'label must be a string of at most 200 characters';
const VERSION = 'body must be { "version": "<id>" }';
const DOC = 'invalid document name';
const FROM = 'from (a version id) is required; to defaults to current';

/** `POST /api/docs/:doc/versions`; an empty body reads as `{}`. */
export const versionBody = {
  notObject: 'body must be a JSON object',
  schema: z.object({ label: z.string({ error: LABEL }).max(200, LABEL).nullable().optional() }),
} satisfies BodySpec<z.ZodType>;

/** `POST /api/docs/:doc/restore`. */
export const restoreBody = {
  notObject: 'body must be a JSON object',
  schema: z.object({
    version: z.union([z.string({ error: VERSION }).min(1, VERSION), z.number({ error: VERSION })], { error: VERSION })
      .transform((v) => (typeof v === 'number' ? String(v) : v))
      .meta({ description: 'The version id (a number is accepted).' }),
  }),
} satisfies BodySpec<z.ZodType>;

/** The document of a route; checked after authentication (401 before 400). */
const docParams = z.object({
  doc: z.string().min(1, DOC).max(MAX_ROOM_NAME_LENGTH, DOC).refine(isValidRoomName, DOC)
    .meta({ errorCode: 'INVALID_ROOM', description: 'Document (room) name, URL-encoded; encode `/` as `%2F` (`doc:article-42` or `doc%3Aarticle-42`).' }),
});

const ROOT_TYPE = z.enum(['text', 'map', 'array', 'xml']);
const DocContent = z.object({
  types: z.record(z.string(), ROOT_TYPE),
  content: z.record(z.string(), z.unknown()),
}).meta({ id: 'DocContent', description: 'Every top-level shared type: text as plain text, maps and arrays as JSON, XML fragments as their XML string.' });
const DocContentResult = z.intersection(z.object({ doc: z.string(), seq: z.int().min(0) }), DocContent).meta({ id: 'DocContentResult' });
const DocVersion = z.object({
  id: z.string(), label: z.string().nullable(), author: z.string().meta({ description: 'The `sub` that recorded it.' }),
  time: z.int().meta({ description: 'ms since epoch' }), seq: z.int().min(0).meta({ description: 'Highest update seq contained.' }),
}).meta({ id: 'DocVersion' });
const ops = <T extends z.ZodType>(field: string, item: T) => z.array(z.object({ op: z.enum(['insert', 'delete']), index: z.int(), [field]: item }));
const kindOrNull = z.enum(['text', 'map', 'array', 'xml']).nullable();
const DocTypeDiff = z.union([
  z.object({ type: z.literal('text'), inserted: z.array(z.string()), deleted: z.array(z.string()), changes: ops('text', z.string()) }),
  z.object({ type: z.literal('map'), added: z.array(z.string()), removed: z.array(z.string()), changed: z.array(z.string()) }),
  z.object({ type: z.literal('array'), inserted: z.array(z.unknown()), deleted: z.array(z.unknown()), changes: ops('items', z.array(z.unknown())) }),
  z.object({ type: z.literal('xml'), before: z.string(), after: z.string() }),
  z.object({ type: z.literal('kind'), before: kindOrNull, after: kindOrNull }),
]).meta({ id: 'DocTypeDiff' });
const DocDiff = z.object({
  from: z.string(), to: z.string(), changed: z.record(z.string(), DocTypeDiff).meta({ description: 'Only the types that changed.' }),
}).meta({ id: 'DocDiff' });
const DocRestoreResult = z.object({
  restored: z.string().meta({ description: 'The restored version id.' }),
  undoVersion: DocVersion,
  seq: z.int().nullable().meta({ description: 'Seq of the restoring update; null when the content was already equal.' }),
}).meta({ id: 'DocRestoreResult' });
const DocAuditEntry = z.object({
  seq: z.int(), author: z.string().meta({ description: 'The `sub` (or `system:*` for server-made changes).' }),
  time: z.int().meta({ description: 'ms since epoch' }), size: z.int().meta({ description: 'bytes' }), hash: z.string().meta({ description: 'SHA-256 of the update, hex' }),
}).meta({ id: 'DocAuditEntry' });
const DocAuditPage = z.object({ entries: z.array(DocAuditEntry), next: z.int().nullable() }).meta({ id: 'DocAuditPage' });

export const docsTags = [websocketTag, { name: 'documents', description: 'Yjs documents over HTTP: content, versions, diff, restore, audit log. `sub` on the document reads, `pub` writes; the API key may do both.' }];

export function docsRoutes(config: Config) {
  const { maxListLimit, maxHttpBodyBytes, maxDiffCells } = config.docs;
  const limit = () => intQuery('limit', 100, maxListLimit, { capFallback: false, description: `Most entries (default 100; larger values are capped at \`docs.maxListLimit\`, ${maxListLimit}).` });
  const common = {
    400: errorResponse('BAD_REQUEST (bad parameter or body), INVALID_ROOM (bad document name)'),
    ...authErrors,
    500: errorResponse('INTERNAL'),
    503: errorResponse('UNAVAILABLE: the document cannot be loaded now (too many loaded, store down, shutting down); retry'),
  };
  const base = { tags: ['documents'], security: anyCredential, params: docParams } as const;
  const content = route({
    ...base, method: 'get', path: '/api/docs/{doc}', operationId: 'docContent', summary: 'Current content of a document (needs `sub`)',
    description: 'Loads the document if needed. A trailing `/` is the same route.',
    responses: { 200: { description: 'Every top-level shared type as JSON, and the highest update seq applied.', json: DocContentResult }, ...common },
  });
  const versions = route({
    ...base, method: 'get', path: '/api/docs/{doc}/versions', operationId: 'docVersions', summary: 'List the versions of a document, oldest first (needs `sub`)',
    query: z.object({ limit: limit(), after: z.string().optional().meta({ description: 'A version id: list the versions after it (paging).' }) }),
    responses: { 200: { description: 'A page of versions.', json: z.object({ versions: z.array(DocVersion) }) }, ...common },
  });
  const createVersion = route({
    ...base, method: 'post', path: '/api/docs/{doc}/versions', operationId: 'docCreateVersion', summary: 'Record the current state as a version (needs `pub`)',
    body: { ...versionBody, required: false, description: 'May be empty (no Content-Length, or 0): a version without label.' },
    responses: { 201: { description: 'The new version.', json: z.object({ version: DocVersion }) }, ...common, ...bodyErrors(maxHttpBodyBytes) },
  });
  const version = route({
    ...base, method: 'get', path: '/api/docs/{doc}/versions/{id}', operationId: 'docVersion', summary: 'One version with its content (needs `sub`)',
    params: docParams.extend({ id: z.string().min(1).meta({ description: 'A version id (URL-encoded).' }) }),
    responses: {
      200: { description: 'The version and its content.', json: z.intersection(z.object({ version: DocVersion }), DocContent) },
      ...common,
      404: errorResponse('NOT_FOUND: no such version of this document'),
    },
  });
  const diff = route({
    ...base, method: 'get', path: '/api/docs/{doc}/diff', operationId: 'docDiff', summary: 'What changed between two versions (needs `sub`)',
    description:
      'Text and arrays are diffed element by element (a longest common subsequence when the table has at most ' +
      `\`docs.maxDiffCells\` = ${maxDiffCells} cells, else one replacement); maps report keys added, removed and changed; ` +
      'a type that changed kind is `{ type: "kind" }`. `index` refers to the `from` version.',
    query: z.object({
      from: z.string({ error: FROM }).min(1, FROM).meta({ description: 'A version id, or `current`.' }),
      to: z.string().optional().meta({ description: 'A version id, or `current` (the default).' }),
    }),
    responses: {
      200: { description: 'The types that changed.', json: DocDiff },
      ...common,
      400: errorResponse('BAD_REQUEST (`from` missing), INVALID_ROOM'),
      404: errorResponse('NOT_FOUND: `from` or `to` is no version of this document'),
    },
  });
  const restore = route({
    ...base, method: 'post', path: '/api/docs/{doc}/restore', operationId: 'docRestore', summary: 'Restore a version (a forward change; undoable) (needs `pub`)',
    description:
      'Applies the operations that turn the current content into the version\'s, as an ordinary change every open editor sees. ' +
      'A "before restore" version is recorded first (`undoVersion`), so the restore can be undone by restoring that.',
    body: restoreBody,
    responses: {
      200: { description: 'Restored.', json: DocRestoreResult },
      ...common,
      404: errorResponse('NOT_FOUND: no such version of this document'),
      ...bodyErrors(maxHttpBodyBytes),
    },
  });
  const audit = route({
    ...base, method: 'get', path: '/api/docs/{doc}/audit', operationId: 'docAudit', summary: 'Audit log: who sent which update, when (needs `sub`)',
    query: z.object({
      limit: limit(),
      since: intQuery('since', 0, Number.MAX_SAFE_INTEGER, { description: 'Entries with a seq greater than this (paging: pass `next`).' }),
      sinceTime: z.string().optional().transform((raw, ctx) => {
        if (!raw) return undefined;
        const t = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
        if (Number.isFinite(t)) return t;
        ctx.addIssue({ code: 'custom', message: 'sinceTime must be ms since epoch or an ISO date' });
        return z.NEVER;
      }).meta({ description: 'Entries at or after this time: ms since epoch, or an ISO date.' }),
    }),
    responses: { 200: { description: 'A page of entries; `next` is the `since` of the next page (null on the last).', json: DocAuditPage }, ...common },
  });
  /** The upgrade (install.ts): the document name is checked with `docParams` before the handshake. */
  const yjs = route({
    method: 'get', path: '/yjs/{doc}', tags: ['websocket'], operationId: 'yjsSync',
    summary: 'Yjs sync and awareness for the stock y-websocket provider (WebSocket upgrade)',
    description:
      'Everything after `/yjs/` is the document name, URL-decoded (the provider appends the raw name). A user token is required ' +
      '(`?token=`, Bearer or the `aqueduct_token` cookie): `sub` reads, `pub` writes. Refusals after the upgrade are close codes (README §Collaborative documents).',
    security: [{ queryToken: [] }, { bearer: [] }, { cookie: [] }],
    params: docParams,
    query: z.object({ token: z.string().optional().meta({ description: 'A user token.' }) }),
    headers: z.object(upgradeHeaders),
    responses: {
      101: { description: 'Switched to the Yjs sync protocol.' },
      400: refused('Invalid document name or URL encoding, or a malformed handshake'),
      ...upgradeErrors,
      503: refused(`Shutting down, or \`docs.maxConnections\` (${config.docs.maxConnections}) open on this node`),
    },
  });
  return { content, versions, createVersion, version, diff, restore, audit, yjs };
}
