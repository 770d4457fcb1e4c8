import { createHash } from 'node:crypto';

/**
 * Names of the NATS broker, from a prefix (default `aq`). A room becomes a subject token with
 * base64url (NATS tokens cannot hold `.`, `*`, `>` or spaces, room names can); names longer than
 * `MAX_TOKEN_CHARS` become a SHA-256 digest, which keeps stream names within JetStream's limits.
 *
 * - stream of a room: `<PREFIX>_<token>`, subject `<prefix>.r.<token>` (the stored log)
 * - live feed of a room: `<prefix>.n.<token>` (core NATS: publications after they are stored, and
 *   ephemeral messages)
 * - control: `<prefix>.control`
 * - presence KV bucket: `<prefix>_presence`, keys `<token>.<client token>`
 */
export const MAX_TOKEN_CHARS = 180;

export function token(value: string): string {
  const t = Buffer.from(value, 'utf8').toString('base64url');
  if (t.length <= MAX_TOKEN_CHARS) return t;
  return `h${createHash('sha256').update(value).digest('base64url')}`;
}

export interface NatsNames {
  stream(room: string): string;
  logSubject(room: string): string;
  feedSubject(room: string): string;
  control: string;
  presenceBucket: string;
}

/** Checks a prefix: letters, digits, `_` and `-` only (it is part of subjects and stream names). */
export function natsNames(prefix: string): NatsNames {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) throw new Error(`nats prefix must match [A-Za-z0-9_-]{1,32}: ${prefix}`);
  const streamPrefix = prefix.toUpperCase();
  return {
    stream: (room) => `${streamPrefix}_${token(room)}`,
    logSubject: (room) => `${prefix}.r.${token(room)}`,
    feedSubject: (room) => `${prefix}.n.${token(room)}`,
    control: `${prefix}.control`,
    presenceBucket: `${prefix}_presence`,
  };
}
