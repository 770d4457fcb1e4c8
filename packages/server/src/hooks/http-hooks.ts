import type { IncomingMessage } from 'node:http';
import type { User } from '../auth/grants.js';
import { HttpError } from '../http/http-util.js';
import { HookDenied, type HookTransport } from './hook-types.js';
import type { Hooks } from './hooks.js';

/** What the pipes pass: the hub, which holds the node's hooks. */
type WithHooks = { readonly hooks: Hooks };

/** A hook refusal as the HTTP pipes answer it: 403 with the app's code, 503 HOOK_FAILED. */
export function hookHttpError(err: unknown): unknown {
  return err instanceof HookDenied ? new HttpError(err.status, err.code, err.message) : err;
}

/** onConnect, then onJoin for every room, for an SSE stream or a long poll (each poll request asks). */
export async function admitStream(hub: WithHooks, user: User, req: IncomingMessage, rooms: readonly string[], transport: HookTransport): Promise<void> {
  const hooks = hub.hooks;
  if (!hooks.has.connect && !hooks.has.join) return;
  try {
    await hooks.connect({ user, req, transport });
    await Promise.all(rooms.map((room) => hooks.join({ user, room, transport })));
  } catch (err) {
    throw hookHttpError(err);
  }
}

/** onJoin for a history read over HTTP. */
export async function admitRead(hub: WithHooks, user: User, room: string): Promise<void> {
  const hooks = hub.hooks;
  if (!hooks.has.join) return;
  await hooks.join({ user, room, transport: 'http' }).catch((err: unknown) => { throw hookHttpError(err); });
}

/** onPublish for `POST /api/publish`: resolves with the data to publish. */
export async function publishHook(hub: WithHooks, input: { user: User; room: string; data: unknown; event?: string; volatile: boolean }): Promise<unknown> {
  const hooks = hub.hooks;
  if (!hooks.has.publish) return input.data;
  return hooks.publish({ ...input, transport: 'http' }).catch((err: unknown) => { throw hookHttpError(err); });
}
