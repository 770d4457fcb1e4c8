import { z } from 'zod';
import type { ResponseSpec, Security } from './route.js';

/**
 * Building blocks shared by the route descriptors of every part (route.ts): the error body,
 * common error responses and security requirements.
 */

/** Every error answer: `{ error: { code, message } }`. */
export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).meta({ id: 'Error' });

export const errorResponse = (description: string): ResponseSpec => ({ description, json: ErrorBody });

/** Every credential `authenticateRequest` accepts: Bearer (token or API key), X-API-Key, cookie, `?token=`. */
export const anyCredential: Security = [{ bearer: [] }, { apiKey: [] }, { cookie: [] }, { queryToken: [] }];
/** Only the server API key (`isApiKeyRequest`: Bearer or X-API-Key). */
export const apiKeyOnly: Security = [{ bearer: [] }, { apiKey: [] }];
/** No authentication. */
export const noAuth: Security = [];

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

/** The headers of every WebSocket upgrade request. */
export const upgradeHeaders = {
  Upgrade: z.literal('websocket'),
  Connection: z.literal('Upgrade'),
  'Sec-WebSocket-Key': z.string(),
  'Sec-WebSocket-Version': z.literal('13'),
};
/** Refused upgrades (server.ts `rejectUpgrade`) are an empty body with the status. */
export const refused = (description: string): ResponseSpec => ({ description: `${description} (empty body, \`Connection: close\`).` });

/** Refusals of every upgrade path before its handler runs (server.ts `onUpgrade`). */
export const upgradeErrors = {
  403: refused('Origin not in `allowedOrigins`'),
  404: errorResponse('NOT_FOUND: not an upgrade request (a plain GET is no route)'),
};

export const websocketTag = { name: 'websocket', description: 'WebSocket upgrades: the room bus and Yjs document sync. The frames are described in PROTOCOL.md and the README.' };
