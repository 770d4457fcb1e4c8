import type { Config } from '../config.js';
import { bodySchema } from '../http/body.js';
import { restoreBody, versionBody } from './docs-bodies.js';
import { anyCredential, authErrors, bodyErrors, errorResponse, json, ref, type OpenApiFragment } from '../http/openapi-common.js';

/** `/api/docs/:doc/...` (docs-http.ts): content, versions, diff, restore, audit log. */
export function docsOpenApi(config: Config): OpenApiFragment {
  const { maxListLimit, maxHttpBodyBytes, maxDiffCells } = config.docs;
  const docParam = {
    name: 'doc', in: 'path', required: true,
    description: 'Document (room) name, URL-encoded; encode `/` as `%2F` (`doc:article-42` or `doc%3Aarticle-42`).',
    schema: { type: 'string', minLength: 1, maxLength: 200 },
  };
  const limitParam = {
    name: 'limit', in: 'query', required: false, description: `Most entries (default 100; larger values are capped at \`docs.maxListLimit\`, ${maxListLimit}).`,
    schema: { type: 'integer', minimum: 0 },
  };
  const common = {
    400: errorResponse('BAD_REQUEST (bad parameter or body), INVALID_ROOM (bad document name)'),
    ...authErrors,
    500: errorResponse('INTERNAL'),
    503: errorResponse('UNAVAILABLE: the document cannot be loaded now (too many loaded, store down, shutting down); retry'),
  };
  const read = (operationId: string, summary: string, extra: Record<string, unknown>) => ({
    tags: ['documents'], operationId, summary: `${summary} (needs \`sub\`)`, security: anyCredential, ...extra,
  });
  const write = (operationId: string, summary: string, extra: Record<string, unknown>) => ({
    tags: ['documents'], operationId, summary: `${summary} (needs \`pub\`)`, security: anyCredential, ...extra,
  });
  return {
    tags: [{ name: 'documents', description: 'Yjs documents over HTTP: content, versions, diff, restore, audit log. `sub` on the document reads, `pub` writes; the API key may do both.' }],
    paths: {
      '/api/docs/{doc}': {
        get: read('docContent', 'Current content of a document', {
          description: 'Loads the document if needed. A trailing `/` is the same route.',
          parameters: [docParam],
          responses: {
            200: { description: 'Every top-level shared type as JSON, and the highest update seq applied.', content: json(ref('DocContentResult')) },
            ...common,
          },
        }),
      },
      '/api/docs/{doc}/versions': {
        get: read('docVersions', 'List the versions of a document, oldest first', {
          parameters: [
            docParam, limitParam,
            { name: 'after', in: 'query', required: false, description: 'A version id: list the versions after it (paging).', schema: { type: 'string' } },
          ],
          responses: {
            200: { description: 'A page of versions.', content: json({ type: 'object', required: ['versions'], properties: { versions: { type: 'array', items: ref('DocVersion') } } }) },
            ...common,
          },
        }),
        post: write('docCreateVersion', 'Record the current state as a version', {
          parameters: [docParam],
          requestBody: {
            required: false,
            description: 'May be empty (no Content-Length, or 0): a version without label.',
            content: json(bodySchema(versionBody)),
          },
          responses: {
            201: { description: 'The new version.', content: json({ type: 'object', required: ['version'], properties: { version: ref('DocVersion') } }) },
            ...common,
            ...bodyErrors(maxHttpBodyBytes),
          },
        }),
      },
      '/api/docs/{doc}/versions/{id}': {
        get: read('docVersion', 'One version with its content', {
          parameters: [docParam, { name: 'id', in: 'path', required: true, description: 'A version id (URL-encoded).', schema: { type: 'string', minLength: 1 } }],
          responses: {
            200: {
              description: 'The version and its content.',
              content: json({ allOf: [{ type: 'object', required: ['version'], properties: { version: ref('DocVersion') } }, ref('DocContent')] }),
            },
            ...common,
            404: errorResponse('NOT_FOUND: no such version of this document'),
          },
        }),
      },
      '/api/docs/{doc}/diff': {
        get: read('docDiff', 'What changed between two versions', {
          description:
            'Text and arrays are diffed element by element (a longest common subsequence when the table has at most ' +
            `\`docs.maxDiffCells\` = ${maxDiffCells} cells, else one replacement); maps report keys added, removed and changed; ` +
            'a type that changed kind is `{ type: "kind" }`. `index` refers to the `from` version.',
          parameters: [
            docParam,
            { name: 'from', in: 'query', required: true, description: 'A version id, or `current`.', schema: { type: 'string', minLength: 1 } },
            { name: 'to', in: 'query', required: false, description: 'A version id, or `current` (the default).', schema: { type: 'string', default: 'current' } },
          ],
          responses: {
            200: { description: 'The types that changed.', content: json(ref('DocDiff')) },
            ...common,
            400: errorResponse('BAD_REQUEST (`from` missing), INVALID_ROOM'),
            404: errorResponse('NOT_FOUND: `from` or `to` is no version of this document'),
          },
        }),
      },
      '/api/docs/{doc}/restore': {
        post: write('docRestore', 'Restore a version (a forward change; undoable)', {
          description:
            'Applies the operations that turn the current content into the version\'s, as an ordinary change every open editor sees. ' +
            'A "before restore" version is recorded first (`undoVersion`), so the restore can be undone by restoring that.',
          parameters: [docParam],
          requestBody: {
            required: true,
            content: json(bodySchema(restoreBody)),
          },
          responses: {
            200: { description: 'Restored.', content: json(ref('DocRestoreResult')) },
            ...common,
            404: errorResponse('NOT_FOUND: no such version of this document'),
            ...bodyErrors(maxHttpBodyBytes),
          },
        }),
      },
      '/api/docs/{doc}/audit': {
        get: read('docAudit', 'Audit log: who sent which update, when', {
          parameters: [
            docParam, limitParam,
            { name: 'since', in: 'query', required: false, description: 'Entries with a seq greater than this (paging: pass `next`).', schema: { type: 'integer', minimum: 0 } },
            { name: 'sinceTime', in: 'query', required: false, description: 'Entries at or after this time: ms since epoch, or an ISO date.', schema: { type: 'string' } },
          ],
          responses: {
            200: { description: 'A page of entries; `next` is the `since` of the next page (null on the last).', content: json(ref('DocAuditPage')) },
            ...common,
          },
        }),
      },
    },
    schemas: {
      DocContent: {
        type: 'object', required: ['types', 'content'],
        description: 'Every top-level shared type: text as plain text, maps and arrays as JSON, XML fragments as their XML string.',
        properties: {
          types: { type: 'object', additionalProperties: { type: 'string', enum: ['text', 'map', 'array', 'xml'] } },
          content: { type: 'object', additionalProperties: {} },
        },
      },
      DocContentResult: {
        allOf: [{ type: 'object', required: ['doc', 'seq'], properties: { doc: { type: 'string' }, seq: { type: 'integer', minimum: 0 } } }, ref('DocContent')],
      },
      DocVersion: {
        type: 'object', required: ['id', 'label', 'author', 'time', 'seq'],
        properties: {
          id: { type: 'string' }, label: { type: ['string', 'null'] }, author: { type: 'string', description: 'The `sub` that recorded it.' },
          time: { type: 'integer', description: 'ms since epoch' }, seq: { type: 'integer', minimum: 0, description: 'Highest update seq contained.' },
        },
      },
      DocTypeDiff: {
        oneOf: [
          {
            type: 'object', required: ['type', 'inserted', 'deleted', 'changes'],
            properties: {
              type: { const: 'text' }, inserted: { type: 'array', items: { type: 'string' } }, deleted: { type: 'array', items: { type: 'string' } },
              changes: { type: 'array', items: { type: 'object', required: ['op', 'index', 'text'], properties: { op: { enum: ['insert', 'delete'] }, index: { type: 'integer' }, text: { type: 'string' } } } },
            },
          },
          {
            type: 'object', required: ['type', 'added', 'removed', 'changed'],
            properties: { type: { const: 'map' }, added: { type: 'array', items: { type: 'string' } }, removed: { type: 'array', items: { type: 'string' } }, changed: { type: 'array', items: { type: 'string' } } },
          },
          {
            type: 'object', required: ['type', 'inserted', 'deleted', 'changes'],
            properties: {
              type: { const: 'array' }, inserted: { type: 'array' }, deleted: { type: 'array' },
              changes: { type: 'array', items: { type: 'object', required: ['op', 'index', 'items'], properties: { op: { enum: ['insert', 'delete'] }, index: { type: 'integer' }, items: { type: 'array' } } } },
            },
          },
          { type: 'object', required: ['type', 'before', 'after'], properties: { type: { const: 'xml' }, before: { type: 'string' }, after: { type: 'string' } } },
          {
            type: 'object', required: ['type', 'before', 'after'],
            properties: { type: { const: 'kind' }, before: { enum: ['text', 'map', 'array', 'xml', null] }, after: { enum: ['text', 'map', 'array', 'xml', null] } },
          },
        ],
      },
      DocDiff: {
        type: 'object', required: ['from', 'to', 'changed'],
        properties: { from: { type: 'string' }, to: { type: 'string' }, changed: { type: 'object', additionalProperties: ref('DocTypeDiff'), description: 'Only the types that changed.' } },
      },
      DocRestoreResult: {
        type: 'object', required: ['restored', 'undoVersion', 'seq'],
        properties: {
          restored: { type: 'string', description: 'The restored version id.' },
          undoVersion: ref('DocVersion'),
          seq: { type: ['integer', 'null'], description: 'Seq of the restoring update; null when the content was already equal.' },
        },
      },
      DocAuditEntry: {
        type: 'object', required: ['seq', 'author', 'time', 'size', 'hash'],
        properties: {
          seq: { type: 'integer' }, author: { type: 'string', description: 'The `sub` (or `system:*` for server-made changes).' },
          time: { type: 'integer', description: 'ms since epoch' }, size: { type: 'integer', description: 'bytes' }, hash: { type: 'string', description: 'SHA-256 of the update, hex' },
        },
      },
      DocAuditPage: {
        type: 'object', required: ['entries', 'next'],
        properties: { entries: { type: 'array', items: ref('DocAuditEntry') }, next: { type: ['integer', 'null'] } },
      },
    },
  };
}
