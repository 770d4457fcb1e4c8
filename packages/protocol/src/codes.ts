/**
 * The two error catalogues of the Aqueduct wire (see PROTOCOL.md §Codes).
 *
 * Reply errors answer one request; the connection stays open.
 * Disconnect codes are WebSocket close codes; the range says whether reconnecting helps:
 *   4000–4499  temporary: reconnect (with backoff) and recover
 *   4500–4999  permanent: do not reconnect without changing something (token, input)
 */

/** Stable reply-error codes. `temporary: true` means the same request may succeed if retried later. */
export const ErrorCodes = {
  INTERNAL: { message: 'internal server error', temporary: true },
  BAD_REQUEST: { message: 'malformed request', temporary: false },
  UNKNOWN_TYPE: { message: 'unknown message type', temporary: false },
  NOT_AUTHENTICATED: { message: 'authenticate first', temporary: false },
  ALREADY_AUTHENTICATED: { message: 'connection is already authenticated', temporary: false },
  TOKEN_INVALID: { message: 'token is invalid', temporary: false },
  TOKEN_EXPIRED: { message: 'token has expired', temporary: false },
  INVALID_ROOM: { message: 'invalid room name', temporary: false },
  PERMISSION_DENIED: { message: 'permission denied', temporary: false },
  NOT_JOINED: { message: 'not joined to this room', temporary: false },
  ALREADY_JOINED: { message: 'already joined to this room', temporary: false },
  TOO_MANY_ROOMS: { message: 'too many rooms on this connection', temporary: false },
  RATE_LIMITED: { message: 'rate limit exceeded', temporary: true },
  MESSAGE_TOO_LARGE: { message: 'message too large', temporary: false },
  PUBLISH_DISABLED: { message: 'client publish is disabled in this namespace', temporary: false },
  PRESENCE_DISABLED: { message: 'presence is disabled in this namespace', temporary: false },
  PEER_NOT_FOUND: { message: 'target client is not a member of this room', temporary: false },
  UNAVAILABLE: { message: 'service temporarily unavailable', temporary: true },
  MESH_FULL: { message: 'peer mesh is full', temporary: false },
  NOT_FOUND: { message: 'not found', temporary: false },
  CONFLICT: { message: 'conflict', temporary: false },
  /** The SFU room has its maximum of publishers or participants (`sfu.maxPublishers` / `sfu.maxSubscribers`). */
  MEDIA_FULL: { message: 'media room is full', temporary: true },
  /** A backend hook (in-process or webhook) failed and the server fails closed (README §Backend hooks and webhooks). */
  HOOK_FAILED: { message: 'backend hook failed', temporary: true },
} as const satisfies Record<string, { message: string; temporary: boolean }>;

export type ErrorCode = keyof typeof ErrorCodes;

/** WebSocket close codes used by Aqueduct. */
export const CloseCodes = {
  /** Server is shutting down or restarting; reconnect (to any node) and recover. */
  SHUTDOWN: { code: 4000, reason: 'server shutdown', reconnect: true },
  /** The outbound queue overflowed: the client read too slowly. Reconnect and recover from history. */
  SLOW_CONSUMER: { code: 4001, reason: 'slow consumer', reconnect: true },
  /** No pong (or no ping, client side) within the heartbeat timeout. */
  HEARTBEAT_TIMEOUT: { code: 4002, reason: 'heartbeat timeout', reconnect: true },
  /** The connection's token expired and was not refreshed in time. Reconnect with a fresh token. */
  TOKEN_EXPIRED: { code: 4003, reason: 'token expired', reconnect: true },
  /** Too many rate-limit violations. Reconnect after backoff. */
  RATE_LIMIT_ABUSE: { code: 4004, reason: 'rate limit abuse', reconnect: true },
  /** No auth message before the auth deadline. */
  AUTH_TIMEOUT: { code: 4005, reason: 'auth timeout', reconnect: true },
  /** The server-side state this connection relied on is gone (e.g. broker failure); reconnect. */
  RESYNC: { code: 4006, reason: 'resync required', reconnect: true },
  /** The `onConnect` backend hook failed (webhook unreachable / timed out); reconnect later. */
  HOOK_FAILED: { code: 4007, reason: 'backend hook failed', reconnect: true },
  /** Authentication failed (bad signature, bad claims, algorithm not allowed). */
  AUTH_FAILED: { code: 4500, reason: 'authentication failed', reconnect: false },
  /** A frame could not be decoded (non-JSON text, invalid MessagePack, not an object). */
  BAD_FRAME: { code: 4501, reason: 'bad frame', reconnect: false },
  /** Disconnected by the operator (HTTP API / admin). */
  FORCE_DISCONNECT: { code: 4502, reason: 'disconnected by server', reconnect: false },
  /** Unsupported subprotocol requested. */
  BAD_PROTOCOL: { code: 4503, reason: 'unsupported subprotocol', reconnect: false },
  /** The app's `onConnect` hook denied the connection (README §Backend hooks and webhooks). */
  CONNECT_DENIED: { code: 4504, reason: 'connection denied', reconnect: false },
  /** A frame exceeded maxMessageBytes (the `ws` library's standard 1009 close). */
  MESSAGE_TOO_BIG: { code: 1009, reason: 'message too big', reconnect: false },
} as const satisfies Record<string, { code: number; reason: string; reconnect: boolean }>;

export type CloseCodeName = keyof typeof CloseCodes;

/** Whether a close code tells the client to reconnect. Unknown / network codes (1006 etc.) do. */
export function shouldReconnect(code: number): boolean {
  if (code >= 4500 && code <= 4999) return false;
  if (code === 1009 || code === 1008 || code === 1003 || code === 1002) return false;
  return true;
}

/**
 * Close codes of `/yjs/:doc` (PROTOCOL.md §Close codes of `/yjs`). The stock y-websocket client stops
 * reconnecting on 4400–4499 and retries on everything else, so permanent conditions use that range
 * and transient ones reuse the Aqueduct codes it retries (4000–4006) or the standard 1011/1013.
 */
export const DocCloseCodes = {
  /** Malformed frame, unknown message type, or an update/awareness message that was rejected. */
  INVALID_MESSAGE: { code: 4400, reason: 'invalid message' },
  /** Missing or invalid token. */
  AUTH_FAILED: { code: 4401, reason: 'authentication failed' },
  /** The token has no `sub` grant for this document. */
  PERMISSION_DENIED: { code: 4403, reason: 'permission denied' },
  /** Document or node at capacity, or the document could not be loaded / stored: retry later. */
  TRY_AGAIN_LATER: { code: 1013, reason: 'try again later' },
  /** The app's `onDocUpdate` hook vetoed an update: not stored, not broadcast; final (a reconnect would resend it). */
  UPDATE_VETOED: { code: 4422, reason: 'update vetoed' },
  /** An unexpected server error while handling the connection's update (the client retries). */
  INTERNAL_ERROR: { code: 1011, reason: 'internal error' },
  TOKEN_EXPIRED: CloseCodes.TOKEN_EXPIRED,
  SHUTDOWN: CloseCodes.SHUTDOWN,
  SLOW_CONSUMER: CloseCodes.SLOW_CONSUMER,
  AUTH_TIMEOUT: CloseCodes.AUTH_TIMEOUT,
} as const satisfies Record<string, { code: number; reason: string }>;

/** Whether the stock y-websocket client gives up on a `/yjs` close code (4400–4499 are final). */
export function isFinalDocClose(code: number): boolean {
  return code >= 4400 && code < 4500;
}

/**
 * Close codes the SDK closes its own socket with (PROTOCOL.md §Close codes the SDK sends). The
 * server only logs them; the SDK reports the same code in its `disconnected` event.
 */
export const ClientCloseCodes = {
  /** `client.close()`: the standard normal closure. */
  CLOSED: { code: 1000, reason: 'client closed' },
  /** `client.reconnectNow()`: drop the socket and reconnect at once. */
  RECONNECT: { code: CloseCodes.SHUTDOWN.code, reason: 'client reconnect' },
  /** The token function failed: close and retry with backoff. */
  TOKEN_UNAVAILABLE: { code: CloseCodes.SHUTDOWN.code, reason: 'token unavailable' },
  /** Nothing (not even a ping) arrived for `serverSilenceMs`: the node or the network is gone. */
  SERVER_SILENT: { code: CloseCodes.HEARTBEAT_TIMEOUT.code, reason: 'server silent' },
} as const satisfies Record<string, { code: number; reason: string }>;
