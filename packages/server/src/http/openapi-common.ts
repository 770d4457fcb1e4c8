/**
 * Building blocks of `/api/openapi.json`, shared by the per-area fragments (openapi.ts: streams and
 * the room API; openapi-docs.ts, openapi-webrtc.ts, openapi-ops.ts, openapi-demo.ts,
 * openapi-websocket.ts).
 */

/** A fragment of an OpenAPI 3.1 document (other modules add their routes with `addOpenApi`). */
export interface OpenApiFragment {
  paths?: Record<string, unknown>;
  schemas?: Record<string, unknown>;
  tags?: Array<{ name: string; description: string }>;
}

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const json = (schema: unknown) => ({ 'application/json': { schema } });
export const errorResponse = (description: string) => ({ description, content: json(ref('Error')) });

/** Every credential `authenticateRequest` accepts: Bearer (token or API key), X-API-Key, cookie, `?token=`. */
export const anyCredential = [{ bearer: [] }, { apiKey: [] }, { cookie: [] }, { queryToken: [] }];
/** Only the server API key (`isApiKeyRequest`: Bearer or X-API-Key). */
export const apiKeyOnly = [{ bearer: [] }, { apiKey: [] }];
/** No authentication. */
export const noAuth: unknown[] = [];

export const authErrors = {
  401: errorResponse('NOT_AUTHENTICATED (no credentials), TOKEN_INVALID, TOKEN_EXPIRED'),
  403: errorResponse('PERMISSION_DENIED (grant missing, or Origin not allowed)'),
};

/** The errors of `readJsonBody` (http-util.ts). */
export const bodyErrors = (maxBytes: number) => ({
  413: errorResponse(`MESSAGE_TOO_LARGE: body over ${maxBytes} bytes`),
  415: errorResponse('BAD_REQUEST: Content-Type must be application/json'),
});

/** 403 on any `/api/*` route for an `Origin` outside `allowedOrigins` (the CORS layer, cors.ts). */
export const originError = { 403: errorResponse('PERMISSION_DENIED: Origin not in allowedOrigins') };

/** A `HEAD` twin of a `GET` operation (same status codes, no body). */
export function headOf(get: { operationId: string; tags?: string[]; summary?: string; security?: unknown[]; parameters?: unknown[]; responses: Record<string, { description: string; headers?: unknown }> }): Record<string, unknown> {
  const responses = Object.fromEntries(Object.entries(get.responses).map(([status, r]) => [status, { description: r.description, ...(r.headers ? { headers: r.headers } : {}) }]));
  return {
    tags: get.tags,
    operationId: `${get.operationId}Head`,
    summary: `${get.summary ?? get.operationId} (headers only)`,
    ...(get.security ? { security: get.security } : {}),
    ...(get.parameters ? { parameters: get.parameters } : {}),
    responses,
  };
}

/**
 * The `OPTIONS` operation the CORS layer (cors.ts) answers on every `/api/*` path mounted after it.
 * `operationId` is derived from the path.
 */
export function corsPreflight(path: string, allowHeaders: string, allowMethods: string, maxAgeSec: number): Record<string, unknown> {
  const id = path.replace(/^\/api\//, '').replace(/[{}]/g, '').split(/[^A-Za-z0-9]+/).filter(Boolean)
    .map((w, i) => (i === 0 ? w : w[0].toUpperCase() + w.slice(1))).join('');
  return {
    tags: ['cors'],
    operationId: `preflight_${id}`,
    summary: 'CORS preflight',
    description:
      'Answered by the CORS layer before the route itself. Without `Origin`: 204 with `Allow`. From an allowed origin ' +
      `(any, when \`allowedOrigins\` is empty): 204 with \`Access-Control-Allow-Methods: ${allowMethods}\`, ` +
      `\`Access-Control-Allow-Headers: ${allowHeaders}\`, \`Access-Control-Max-Age: ${maxAgeSec}\`. ` +
      'From an origin not in `allowedOrigins`: 403. (A same-origin `Origin` is not CORS: the route answers, 405 for OPTIONS.)',
    security: noAuth,
    parameters: [{ name: 'Origin', in: 'header', required: false, schema: { type: 'string' } }],
    responses: {
      204: {
        description: 'Preflight accepted (or no Origin).',
        headers: {
          Allow: { description: 'Without Origin.', schema: { type: 'string', const: allowMethods } },
          'Access-Control-Allow-Origin': { description: '`*`, or the echoed origin with an allow-list.', schema: { type: 'string' } },
          'Access-Control-Allow-Methods': { schema: { type: 'string', const: allowMethods } },
          'Access-Control-Allow-Headers': { schema: { type: 'string', const: allowHeaders } },
          'Access-Control-Max-Age': { schema: { type: 'string', const: String(maxAgeSec) } },
        },
      },
      ...originError,
    },
  };
}
