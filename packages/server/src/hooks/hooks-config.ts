import { z } from 'zod';

/** The hooks a webhook can be asked for (`hooks.webhookEvents`). */
export const HOOK_NAMES = ['connect', 'join', 'publish', 'docUpdate'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/**
 * Backend hooks as HTTP webhooks (README §Backend hooks and webhooks). In-process hooks are given
 * to `createServer` / `createAqueduct` as functions (`hooks` option); these keys configure the
 * webhook and the failure policy of both.
 */
export const hooksSchema = z.object({
  /** The app backend's endpoint; every enabled hook is a signed `POST` to it. Unset: no webhook. */
  webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** HMAC-SHA256 key of `X-Aqueduct-Signature` (required with `webhookUrl`). */
  webhookSecret: z.string().min(16).optional(),
  /** Hooks sent to the webhook. `docUpdate` is opt-in: it is asked for every document change. */
  webhookEvents: z.array(z.enum(HOOK_NAMES)).default(['connect', 'join', 'publish']),
  /** Time allowed for one webhook attempt (connect + response). */
  timeoutMs: z.number().int().min(10).max(60_000).default(2000),
  /** Extra attempts after a timeout, a network error or a 5xx (hook calls are idempotent questions). */
  retries: z.number().int().min(0).max(5).default(1),
  /** Delay before the first retry; doubles for each further one. */
  retryBackoffMs: z.number().int().min(0).max(10_000).default(100),
  /** Webhook calls in flight on this node at once; a call beyond it fails at once (see failOpen). */
  maxConcurrent: z.number().int().min(1).max(100_000).default(1000),
  /**
   * What a failed hook means (webhook unreachable, timeout, 5xx after retries, bad answer, an
   * in-process hook that threw): `false` (default) denies with `HOOK_FAILED`; `true` allows
   * (publications pass unchanged).
   */
  failOpen: z.boolean().default(false),
  /** Request headers of the connecting client forwarded in the `connect` webhook (lower case). */
  forwardHeaders: z.array(z.string().min(1).max(64)).max(32).default(['origin', 'user-agent', 'x-forwarded-for']),
}).strict().refine((h) => !h.webhookUrl || h.webhookSecret !== undefined, {
  message: 'hooks.webhookSecret is required when hooks.webhookUrl is set',
  path: ['webhookSecret'],
});

export type HooksConfig = z.infer<typeof hooksSchema>;
