import { namespaceOf, type Origin } from '@aqueduct/protocol';
import { can, type User } from '../auth/grants.js';
import type { PublishOutcome } from '../broker/broker.js';
import { namespaceSettings, type Config, type NamespaceConfig } from '../config.js';
import type { Hub } from './hub.js';
import { HookTurns } from '../hooks/hook-turns.js';
import type { HookTransport } from '../hooks/hook-types.js';

/** Why a publish was refused (error codes of the catalogue in packages/protocol). */
export type PublishRefusalCode = 'PERMISSION_DENIED' | 'PUBLISH_DISABLED' | 'RATE_LIMITED' | 'MESSAGE_TOO_LARGE';

/** A publish the policy refused; each pipe maps it to its own error shape (reply error, HTTP status). */
export class PublishRefused extends Error {
  constructor(readonly code: PublishRefusalCode, message: string) {
    super(message);
  }
}

/**
 * Takes one token from the caller's bucket for `key` (one per configured namespace; unconfigured
 * namespaces share `''`, so a caller cannot grow its buckets by inventing namespaces). True when
 * the publish may go ahead. The caller owns its buckets: a connection's, or per user for HTTP.
 */
export type TakePublishToken = (key: string, ns: NamespaceConfig, namespace: string) => boolean;

/** One publish from a pipe: who, where, what, and the caller-made id (idempotency) if any. */
export interface PublishRequest {
  user: User;
  room: string;
  data: unknown;
  event?: string;
  volatile?: boolean;
  /** The caller's publish id (`cid` on the bus, `Idempotency-Key` over HTTP). */
  key?: string;
  /** Origin stamped on the publication (none for the server API key). */
  from?: Origin;
  /** Encoded size of `data` when the pipe did not bound it already (HTTP); checked against maxMessageBytes. */
  bytes?: number;
  /** Backend hooks: the pipe, and the caller whose publications keep their order through onPublish. */
  transport?: HookTransport;
  order?: { publishTurns?: HookTurns };
}

/** Encoded size of publication data (JSON; bigints as strings), for the maxMessageBytes bound. */
export function dataBytes(data: unknown): number {
  return Buffer.byteLength(JSON.stringify(data, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? '');
}

/**
 * The publish policy of every pipe (room bus, HTTP publish, the embedding app through the same
 * hub): size, grants (`pub`), namespace `clientPublish`, rate limit, and the idempotency key scoped
 * by caller, so one caller's ids never collide with (or probe) another's. The server API key
 * (`superuser`) skips `clientPublish` and the rate limit; its scope starts with NUL, which no token
 * `sub` can equal. Throws PublishRefused; resolves with the position (none for volatile).
 */
export async function publishAs(hub: Hub, config: Config, req: PublishRequest, take: TakePublishToken): Promise<PublishOutcome | undefined> {
  const { user, room } = req;
  if (req.bytes !== undefined && req.bytes > config.limits.maxMessageBytes) {
    throw new PublishRefused('MESSAGE_TOO_LARGE', `data exceeds ${config.limits.maxMessageBytes} bytes`);
  }
  if (!can(user, 'pub', room)) throw new PublishRefused('PERMISSION_DENIED', `no pub permission for ${room}`);
  const namespace = namespaceOf(room);
  const ns = namespaceSettings(config, namespace);
  if (!user.superuser) {
    if (!ns.clientPublish) throw new PublishRefused('PUBLISH_DISABLED', 'client publish is disabled in this namespace (use the server API key)');
    const bucketKey = namespace in config.namespaces ? namespace : '';
    if (!take(bucketKey, ns, namespace)) throw new PublishRefused('RATE_LIMITED', `at most ${ns.publishRatePerSec} publishes/s in namespace "${namespace}"`);
  }
  const scope = user.superuser ? '\u0000api' : user.id;
  const send = (data: unknown) => hub.publish(room, data, {
    event: req.event,
    volatile: req.volatile,
    from: req.from,
    idempotencyKey: req.key === undefined || req.volatile ? undefined : `${scope}\u0000${req.key}`,
  });
  const hooks = hub.hooks;
  if (!hooks.has.publish || user.superuser) return send(req.data);
  // Backend hooks (hooks/): deny, or rewrite what subscribers and history get. A caller's
  // publications pass the hook in order: the next one's hook starts once this one reached the hub.
  const turn = req.order ? (req.order.publishTurns ??= new HookTurns()).next() : undefined;
  let data: unknown;
  try {
    const ask = () => hooks.publish({ user, room, data: req.data, event: req.event, volatile: req.volatile === true, transport: req.transport ?? 'http', client: req.from?.client });
    data = await (turn ? turn.run(ask) : ask());
  } catch (err) {
    turn?.done();
    throw err;
  }
  const published = send(data);
  turn?.done();
  return published;
}

/** The reply to an accepted publish: its position, `duplicate` when the key was seen before. */
export function publishReply(outcome: PublishOutcome | undefined): { epoch?: string; offset?: number; duplicate?: true } {
  if (!outcome) return {};
  return outcome.duplicate
    ? { epoch: outcome.epoch, offset: outcome.offset, duplicate: true }
    : { epoch: outcome.epoch, offset: outcome.offset };
}
