import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook request signing (README §Backend hooks and webhooks, "Verifying a webhook"):
 * `X-Aqueduct-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, where
 * `timestamp` is the `X-Aqueduct-Timestamp` header (milliseconds since the epoch) and `body` the raw
 * request body bytes.
 */
export const SIGNATURE_HEADER = 'x-aqueduct-signature';
export const TIMESTAMP_HEADER = 'x-aqueduct-timestamp';

export function signWebhook(secret: string, timestamp: string, body: string | Buffer): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

export interface VerifyWebhookInput {
  secret: string;
  /** The `X-Aqueduct-Signature` header. */
  signature: string | undefined;
  /** The `X-Aqueduct-Timestamp` header. */
  timestamp: string | undefined;
  /** The raw body as received (before JSON parsing). */
  body: string | Buffer;
  /** Largest accepted age (either way) of the timestamp; default 5 minutes. Replays older than it fail. */
  toleranceMs?: number;
  now?: number;
}

/** Whether a webhook request really comes from an Aqueduct node holding `secret` (for the app backend). */
export function verifyWebhookSignature(input: VerifyWebhookInput): boolean {
  const { secret, signature, timestamp, body } = input;
  if (!signature || !timestamp || !/^\d{1,15}$/.test(timestamp)) return false;
  const age = Math.abs((input.now ?? Date.now()) - Number(timestamp));
  if (age > (input.toleranceMs ?? 300_000)) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
