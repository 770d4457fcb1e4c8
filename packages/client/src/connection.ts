import type { Position, ResultMap } from '@aqueduct/protocol';

/** The WebSocket constructor shape the client needs (browser `WebSocket`, or the `ws` package). */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface DisconnectInfo { code: number; reason: string; reconnect: boolean }

/**
 * What a room and a peer mesh need from the connection, and nothing more: the seam between
 * `AqueductClient` (which owns the socket, the outbox and the room registry) and `Room` /
 * `PeerMesh`, so that neither of those depends on the client class.
 */
export interface RoomConnection {
  /** Whether requests can be sent now (authenticated connection). */
  readonly ready: boolean;
  /** The server-assigned connection id of the current connection. */
  readonly clientId: string | undefined;
  /** Sends a request on the current connection; rejects with DISCONNECTED if it drops first. */
  request<K extends keyof ResultMap>(type: K, body: Record<string, unknown>): Promise<ResultMap[K]>;
  /** Publishes with a client-made id; queued (bounded) while offline; resolves on the server's ack. */
  publish(room: string, data: unknown, event: string | undefined): Promise<ResultMap['pub']>;
  /** Fire-and-forget volatile publish; false when not sent (offline). */
  publishVolatile(room: string, data: unknown, event: string | undefined): boolean;
  /** The room's last position changed (undefined: the room was left); saved by offline storage. */
  positionChanged?(room: string, position: Position | undefined): void;
  /** The room left: stop re-joining it. */
  forgetRoom(name: string): void;
  /** The HTTP base URL of the current node and a token, for the SDK's HTTP calls. */
  http(): Promise<{ baseUrl: string; token: string }>;
}
