import type { IncomingMessage } from 'node:http';
import type * as Y from 'yjs';
import type { User } from '../auth/grants.js';

/** The pipe a hook call comes from. */
export type HookTransport = 'ws' | 'sse' | 'poll' | 'http' | 'yjs';

export interface ConnectHookContext {
  user: User;
  /** The HTTP request of the connection (the WebSocket upgrade, the SSE / poll request). */
  req: IncomingMessage | undefined;
  transport: HookTransport;
  /** Connection id on the room bus (`ws` only): the `client` of presence and signaling. */
  client?: string;
}

export interface JoinHookContext {
  user: User;
  /** A room (`ws`, `sse`, `poll`, history reads) or a document name (`yjs`). */
  room: string;
  transport: HookTransport;
  client?: string;
}

export interface PublishHookContext {
  user: User;
  room: string;
  data: unknown;
  event?: string;
  volatile: boolean;
  transport: HookTransport;
  client?: string;
}

export interface DocUpdateHookContext {
  user: User;
  doc: string;
  /** The Yjs update (v1 encoding) as the client sent it, already validated. */
  update: Uint8Array;
  /** A copy of the document with the update applied (made on first call; do not keep it). */
  after(): Y.Doc;
}

/** Deny: the request fails with `code` (default `PERMISSION_DENIED`) and `message`. */
export interface HookDeny { allow: false; code?: string; message?: string }

/**
 * What a hook returns. `undefined`, `true` or `{ allow: true }` allow; `false` or
 * `{ allow: false, code?, message? }` deny. Throwing `HookDenied` denies too; throwing anything
 * else is a hook failure (denied with `HOOK_FAILED` unless `hooks.failOpen`).
 */
export type HookVerdict = void | undefined | boolean | { allow: true } | HookDeny;
/** `onPublish` may also rewrite: `{ data }` replaces the payload subscribers and history get. */
export type PublishHookVerdict = HookVerdict | { allow?: true; data: unknown };

type MaybePromise<T> = T | Promise<T>;

/** In-process hooks of the embedding app (`createServer({ hooks })`, `createAqueduct({ hooks })`). */
export interface ServerHooks {
  /** A client authenticated (WebSocket auth, an SSE stream or long poll opened, a Yjs connection). */
  onConnect?(ctx: ConnectHookContext): MaybePromise<HookVerdict>;
  /** Before a client reads a room: WebSocket join or history read, SSE / poll rooms, HTTP history, a Yjs document. */
  onJoin?(ctx: JoinHookContext): MaybePromise<HookVerdict>;
  /** Before a client publication is stored and fanned out (WebSocket `pub`, `POST /api/publish` with a user token). */
  onPublish?(ctx: PublishHookContext): MaybePromise<PublishHookVerdict>;
  /** Before a client's Yjs update is applied, stored and broadcast. A veto leaves the document untouched. */
  onDocUpdate?(ctx: DocUpdateHookContext): MaybePromise<HookVerdict>;
}

/** A hook said no (or failed, fail-closed: `HOOK_FAILED`, temporary). */
export class HookDenied extends Error {
  constructor(readonly code: string, message: string, readonly temporary = false) {
    super(message);
    this.name = 'HookDenied';
  }

  /** HTTP status for the HTTP pipes: 503 for a hook failure, 403 for a denial. */
  get status(): number {
    return this.temporary ? 503 : 403;
  }
}

/** Reply code of a failed hook (fail-closed). */
export const HOOK_FAILED = 'HOOK_FAILED';
