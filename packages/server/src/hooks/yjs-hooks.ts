import type { IncomingMessage } from 'node:http';
import type { User } from '../auth/grants.js';
import type { UpdateCheck } from '../docs/doc-manager.js';
import { HookDenied } from './hook-types.js';
import type { Hooks } from './hooks.js';

/**
 * Backend hooks on `/yjs/:doc` (README §Backend hooks and webhooks): onConnect + onJoin when a
 * connection opens, onDocUpdate on each client update. Close codes (PROTOCOL.md §Close codes of
 * `/yjs`): a denial closes 4403 (join/connect) or 4422 (vetoed update), both final for the stock
 * client; a failed hook (fail-closed) closes 1013, which it retries.
 */
const TRY_AGAIN_LATER = 1013;
const PERMISSION_DENIED = 4403;
const UPDATE_VETOED = 4422;

/** Runs onConnect and onJoin for a document connection; a refusal to close with, or undefined. */
export async function yjsAdmit(hooks: Hooks | undefined, user: User, doc: string, req: IncomingMessage | undefined): Promise<{ code: number; reason: string } | undefined> {
  if (!hooks || (!hooks.has.connect && !hooks.has.join)) return undefined;
  try {
    await hooks.connect({ user, req, transport: 'yjs' });
    await hooks.join({ user, room: doc, transport: 'yjs' });
    return undefined;
  } catch (err) {
    if (!(err instanceof HookDenied)) throw err;
    return err.temporary
      ? { code: TRY_AGAIN_LATER, reason: 'backend hook failed; try again later' }
      : { code: PERMISSION_DENIED, reason: `${err.code}: ${err.message}` };
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
