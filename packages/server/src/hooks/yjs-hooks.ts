import type { IncomingMessage } from 'node:http';
import { CloseCodes, DocCloseCodes } from '@aqueduct/protocol';
import type { User } from '../auth/grants.js';
import type { UpdateCheck } from '../docs/doc-manager.js';
import { UpdateRejected } from '../docs/update-validator.js';
import { HookDenied } from './hook-types.js';
import type { Hooks } from './hooks.js';

export type { Hooks } from './hooks.js';

/**
 * Backend hooks on `/yjs/:doc` (README §Backend hooks and webhooks): onConnect + onJoin when a
 * connection opens, onDocUpdate on each client update. Close codes (PROTOCOL.md §Close codes of
 * `/yjs`): a denial closes 4403 (join/connect) or 4422 (vetoed update), both final for the stock
 * client; a failed hook (fail-closed) closes 1013, which it retries.
 */
const TRY_AGAIN_LATER = 1013;
const PERMISSION_DENIED = 4403;
const UPDATE_VETOED = 4422;

/**
 * Runs onConnect and onJoin for a document connection. Resolves true when the connection may go on
 * (allowed and still open); otherwise it was refused through `deny` (or closed meanwhile).
 */
export async function yjsAdmit(hooks: Hooks | undefined, user: User, conn: { doc: string; state: string }, req: IncomingMessage | undefined, deny: (code: number, reason: string) => void): Promise<boolean> {
  if (!hooks || (!hooks.has.connect && !hooks.has.join)) return true;
  try {
    await hooks.connect({ user, req, transport: 'yjs' });
    await hooks.join({ user, room: conn.doc, transport: 'yjs' });
    return conn.state !== 'closed';
  } catch (err) {
    if (!(err instanceof HookDenied)) throw err;
    if (err.temporary) deny(TRY_AGAIN_LATER, 'backend hook failed; try again later');
    else deny(PERMISSION_DENIED, `${err.code}: ${err.message}`);
    return false;
  }
}

/** Sync step 2 of a client with nothing new: `[0, 0]` (no structs, no deletions). */
function isEmptyUpdate(update: Uint8Array): boolean {
  return update.byteLength <= 2 && update.every((b) => b === 0);
}

/** The onDocUpdate veto for one connection's updates (undefined when no such hook is set). */
export function docHookCheck(hooks: Hooks | undefined, conn: { user?: User; vetoed?: boolean }, doc: string): UpdateCheck | undefined {
  if (!hooks?.has.docUpdate) return undefined;
  return async (update, current) => {
    // Updates queued behind a vetoed one may build on it: refused too (the connection is closing).
    if (conn.vetoed) throw new HookDenied('UPDATE_VETOED', 'an earlier update of this connection was vetoed');
    if (isEmptyUpdate(update) || !conn.user) return;
    try {
      await hooks.docUpdate({ user: conn.user, doc, update, current });
    } catch (err) {
      if (err instanceof HookDenied) conn.vetoed = true;
      throw err;
    }
  };
}

/** How to close a connection whose update the hooks refused; undefined for other errors. */
export function docHookClose(err: unknown): { code: number; reason: string; tell?: string } | undefined {
  if (!(err instanceof HookDenied)) return undefined;
  if (err.temporary) return { code: TRY_AGAIN_LATER, reason: 'backend hook failed; try again later' };
  return { code: UPDATE_VETOED, reason: 'update vetoed', tell: `update rejected (${err.code}): ${err.message}` };
}

/** How a `/yjs` connection closes after a client update failed: rejected, vetoed, hook failed, or a bug. */
export interface UpdateFailure {
  level: 'warn' | 'error';
  message: string;
  /** Logged with the message. */
  detail: { code?: string; reason?: string };
  /** The permission-denied message sent before the close, if any. */
  tell?: string;
  close: { code: number; reason: string };
}

export function updateFailure(err: unknown): UpdateFailure {
  const hook = docHookClose(err);
  if (hook) return { level: 'warn', message: 'document update refused by a backend hook', detail: { code: (err as HookDenied).code, reason: (err as HookDenied).message }, tell: hook.tell, close: hook };
  if (err instanceof UpdateRejected) {
    const detail = { code: err.code, reason: err.message };
    if (err.code === 'OVERLOADED' || err.code === 'UNAVAILABLE') return { level: 'warn', message: 'document update rejected', detail, close: { code: DocCloseCodes.TRY_AGAIN_LATER.code, reason: err.message } };
    const code = err.code === 'TOO_LARGE' ? CloseCodes.MESSAGE_TOO_BIG.code : DocCloseCodes.INVALID_MESSAGE.code;
    return { level: 'warn', message: 'document update rejected', detail, tell: `update rejected (${err.code}): ${err.message}`, close: { code, reason: `update rejected: ${err.code}` } };
  }
  return { level: 'error', message: 'document update failed', detail: {}, close: { code: DocCloseCodes.INTERNAL_ERROR.code, reason: DocCloseCodes.INTERNAL_ERROR.reason } };
}
