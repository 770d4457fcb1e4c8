import { z } from 'zod';

/** `config.sfu`: many-party media through Janus's VideoRoom (README §Media (SFU)). */
export const sfuSchema = z.object({
  /** Janus WebSocket API (`janus-protocol`), e.g. `ws://127.0.0.1:8188`. Unset: the SFU is off (media requests answer UNAVAILABLE). Env `AQUEDUCT_JANUS_URL`. */
  janusUrl: z.string().url().optional(),
  /** Janus `api_secret` (sent with every request; clients never see it). Env `AQUEDUCT_JANUS_API_SECRET`. */
  apiSecret: z.string().optional(),
  /** Janus Admin API (WebSocket, `janus-admin-protocol`); optional, used by operators' tooling and tests. */
  adminUrl: z.string().url().optional(),
  /** Janus `admin_secret`. Env `AQUEDUCT_JANUS_ADMIN_SECRET`. */
  adminSecret: z.string().optional(),
  /** Publishers (senders) per room: the Janus room's `publishers`; more publish attempts get MEDIA_FULL. */
  maxPublishers: z.number().int().min(1).max(256).default(16),
  /** Media participants (publishing or watching) per room on this node; more joins get MEDIA_FULL. */
  maxSubscribers: z.number().int().min(1).default(100),
  /** Media rooms at once on this node (each has a Janus room); more get MEDIA_FULL. */
  maxRooms: z.number().int().min(1).default(1000),
  /** A Janus request (including an async VideoRoom answer) that takes longer fails with UNAVAILABLE. */
  requestTimeoutMs: z.number().int().min(100).default(10_000),
  /** Janus requests in flight at once; more fail with UNAVAILABLE at once. */
  maxPendingRequests: z.number().int().min(1).default(2000),
  /** Keepalive of every Janus session (Janus drops sessions silent for its `session_timeout`, 60 s by default). */
  keepaliveMs: z.number().int().min(1000).max(59_000).default(25_000),
  /** Reconnect backoff to Janus: first delay and cap (full jitter). */
  reconnectMinMs: z.number().int().min(10).default(200),
  reconnectMaxMs: z.number().int().min(100).default(3000),
  /** Video bitrate cap per publisher (Janus room `bitrate`, bits/s). */
  bitrateBps: z.number().int().min(0).default(512_000),
  /** `mode: 'auto'` in the SDK: rooms with at most this many media participants use the mesh, bigger ones the SFU. */
  meshMaxParticipants: z.number().int().min(1).max(32).default(4),
}).strict().prefault({});

export type SfuConfig = z.infer<typeof sfuSchema>;

/** Environment variables of `sfu.*` (README §Configuration sources), read by `configFromEnv`. */
export const SFU_ENV: Array<[string, string, (s: string) => unknown]> = [
  ['AQUEDUCT_JANUS_URL', 'sfu.janusUrl', String],
  ['AQUEDUCT_JANUS_API_SECRET', 'sfu.apiSecret', String],
  ['AQUEDUCT_JANUS_ADMIN_URL', 'sfu.adminUrl', String],
  ['AQUEDUCT_JANUS_ADMIN_SECRET', 'sfu.adminSecret', String],
];
