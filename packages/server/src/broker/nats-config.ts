import { z } from 'zod';

/** `config.nats`: the NATS JetStream broker and presence (README §Brokers). */
export const natsSchema = z.object({
  /** Prefix of subjects, streams and the presence bucket, so several deployments can share NATS. */
  prefix: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('aq'),
  /** A JetStream request (publish, history read) that takes longer fails with UNAVAILABLE. */
  requestTimeoutMs: z.number().int().min(100).default(5000),
  /** Client ping interval; two missed pings mark the connection dead (UNAVAILABLE until it returns). */
  pingIntervalMs: z.number().int().min(100).default(2000),
  /** JetStream replicas of each room stream and of the presence bucket (3 on a JetStream cluster). */
  replicas: z.number().int().min(1).max(5).default(1),
  /** Publications read per history request when a node catches up after a gap or reconnect. */
  catchUpBatch: z.number().int().min(1).default(1000),
  /** Live publications buffered per room while a node catches up; beyond it they are re-read from history. */
  maxPendingPerRoom: z.number().int().min(1).default(10_000),
  /** How often a node rewrites its presence entries. */
  presenceHeartbeatMs: z.number().int().min(100).default(5000),
  /** Presence entries not rewritten for this long vanish (the KV bucket's TTL). */
  presenceTtlMs: z.number().int().min(300).default(15_000),
}).strict().prefault({});
