import type { IncomingMessage } from 'node:http';
import { CloseCodes, type ErrorCode, type ServerMessage } from '@aqueduct/protocol';
import type { User } from '../auth/grants.js';
import type { HookDenied } from './hook-types.js';
import type { Hooks } from './hooks.js';

/** What the pipes pass: the hub, which holds the node's hooks. */
type WithHooks = { readonly hooks: Hooks };

export { HookDenied } from './hook-types.js';
export type { HookTurns } from './hook-turns.js';

/** The upgrade request of a room-bus connection, kept until auth when onConnect wants it. */
export type ConnectRequest = IncomingMessage;

/**
 * Backend hooks on the room bus (README §Backend hooks and webhooks), called by the session: onConnect
 * after the token verified, onJoin before a join or a history read. A refusal rejects with HookDenied.
 */
export async function wsConnectHook(hub: WithHooks, user: User, session: { id: string; request?: ConnectRequest }): Promise<void> {
  const req = session.request;
  session.request = undefined;
  const hooks = hub.hooks;
  if (hooks.has.connect) await hooks.connect({ user, req, transport: 'ws', client: session.id });
}

export async function wsJoinHook(hub: WithHooks, user: User, room: string, client: string): Promise<void> {
  const hooks = hub.hooks;
  if (hooks.has.join) await hooks.join({ user, room, transport: 'ws', client });
}

/** Whether onConnect is active (the transport then keeps the upgrade request until auth). */
export function wantsRequest(hub: WithHooks): boolean {
  return hub.hooks.has.connect;
}

/** The close after onConnect refused: 4504 CONNECT_DENIED, or 4007 HOOK_FAILED (reconnect later). */
export function connectRefusalClose(err: HookDenied): { code: number; reason: string; reconnect: boolean } {
  return err.temporary ? CloseCodes.HOOK_FAILED : CloseCodes.CONNECT_DENIED;
}

/** The reply to a request a hook refused: the app's code (not necessarily one of the catalogue's). */
export function hookReply(id: number, err: HookDenied): ServerMessage {
  return { t: 'reply', id, error: { code: err.code as ErrorCode, message: err.message, temporary: err.temporary } };
}
