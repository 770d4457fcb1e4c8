import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { compressionSchema } from './ws/compression-config.js';
import { shutdownSchema } from './shutdown-config.js';
import { natsSchema } from './broker/nats-config.js';
import { SFU_ENV, sfuSchema } from './sfu/sfu-config.js';
import { hooksSchema } from './hooks/hooks-config.js';

/**
 * Server configuration. Sources, later wins: built-in defaults, config file (`--config` /
 * `AQUEDUCT_CONFIG`, JSON), environment variables, CLI flags (`--set path=value` for any key).
 * Every limit has a unit in its name and a documented default (README §Configuration).
 */
const namespaceSchema = z.object({
  /** Publications kept per room for recovery. 0 disables history (and recovery). */
  historySize: z.number().int().min(0).max(1_000_000).default(1000),
  /** How long publications stay in history. */
  historyTtlMs: z.number().int().min(0).default(10 * 60_000),
  /** Whether presence (member list, join/leave events) is kept for rooms of this namespace. */
  presence: z.boolean().default(true),
  /** Whether clients may publish (with `pub` permission). Server-side publish is always allowed. */
  clientPublish: z.boolean().default(true),
  /** Token-bucket rate for client publishes per connection in this namespace, per second. */
  publishRatePerSec: z.number().positive().default(100),
  /** Token-bucket burst for client publishes. */
  publishBurst: z.number().int().positive().default(200),
  /**
   * Whether deliveries of this namespace's rooms wait for the connection's write-coalescing window
   * (`limits.writeCoalesceMs`). `false` for latency-critical rooms: they leave on the next tick.
   */
  coalesce: z.boolean().default(true),
}).strict();

export type NamespaceConfig = z.infer<typeof namespaceSchema>;

/** The built-in namespace defaults, parsed once (every join and publish resolves its namespace). */
const NAMESPACE_DEFAULTS: Readonly<NamespaceConfig> = Object.freeze(namespaceSchema.parse({}));

/** Limits and storage settings of collaborative documents (README §Collaborative documents, configuration). */
const docsSchema = z.object({
  /** Largest WebSocket frame accepted on `/yjs/:doc` (close 1009 beyond it). */
  maxMessageBytes: z.number().int().min(1024).default(8 * 1024 * 1024),
  /** Largest single Yjs update (sync step 2 or update) accepted from a client or the HTTP API. */
  maxUpdateBytes: z.number().int().min(64).default(4 * 1024 * 1024),
  /** Documents held in memory at once; idle ones are unloaded first, then new loads are refused. */
  maxLoadedDocs: z.number().int().min(1).default(1000),
  /** How long a document stays loaded after its last client left. */
  unloadGraceMs: z.number().int().min(0).default(30_000),
  /** Compact the update log into a snapshot after this many updates since the last snapshot. */
  compactAfterUpdates: z.number().int().min(1).default(500),
  /** ... or after this many update bytes since the last snapshot, whichever comes first. */
  compactAfterBytes: z.number().int().min(1024).default(4 * 1024 * 1024),
  /** Largest awareness message a client may send (the encoded update, one client state usually). */
  maxAwarenessBytes: z.number().int().min(64).default(16 * 1024),
  /** Awareness client ids one connection may control (a stock provider uses one). */
  maxAwarenessClientsPerConnection: z.number().int().min(1).default(4),
  /** Time budget for checking one update in the validator worker; slower updates are rejected. */
  applyTimeoutMs: z.number().int().min(10).default(2000),
  /** Updates waiting to be validated/persisted per document; beyond it the sender is disconnected. */
  maxQueuedUpdatesPerDoc: z.number().int().min(1).default(1000),
  /** Updates waiting for the validator worker, all documents together (OVERLOADED beyond it). */
  maxUpdatesValidating: z.number().int().min(1).default(10_000),
  /**
   * Updates up to this size that a bounds-checked scan on the server thread shows safe to decode
   * (known content, clocks in range) skip the validator worker; others go through it. 0: all do.
   */
  inlineScanMaxBytes: z.number().int().min(0).default(64 * 1024),
  /**
   * Broadcast coalescing on `/yjs`: the frames a document broadcasts (updates, awareness) leave in
   * one socket write per connection per flush. A document that flushed within this window waits for
   * its end (at most one write per connection per window); one that was quiet flushes on the next
   * event-loop tick. 0: every document flushes once per tick (no added latency).
   */
  writeCoalesceMs: z.number().int().min(0).max(100).default(0),
  /** Updates one connection may have waiting; beyond it the server stops reading its socket. */
  maxInflightUpdatesPerConnection: z.number().int().min(1).default(32),
  /** Connections to one document on this node. */
  maxConnectionsPerDoc: z.number().int().min(1).default(5000),
  /** Connections to `/yjs` on this node. */
  maxConnections: z.number().int().min(1).default(50_000),
  /** Messages buffered from a socket while its token is verified and its document loads. */
  maxPendingMessages: z.number().int().min(1).default(64),
  /** Time allowed for token verification plus document load before the socket is closed. */
  openTimeoutMs: z.number().int().min(100).default(15_000),
  /** Largest `limit` of version and audit listings. */
  maxListLimit: z.number().int().min(1).default(1000),
  /** Largest character/element diff table (old x new, after trimming common ends) of the diff route. */
  maxDiffCells: z.number().int().min(1).default(4_000_000),
  /** Largest JSON body of the docs HTTP routes. */
  maxHttpBodyBytes: z.number().int().min(256).default(16 * 1024),
  /** SQLite file of the default DocStore, relative to dataDir. */
  sqliteFile: z.string().min(1).default('docs.sqlite'),
  /**
   * SQLite `synchronous` in WAL mode. `normal`: a commit is in the OS page cache before it is
   * acknowledged, so a killed process (kill -9) loses nothing; an OS crash or power cut can lose the
   * last commits. `full`: fsync per commit, survives power loss, slower.
   */
  sqliteSynchronous: z.enum(['normal', 'full']).default('normal'),
  /**
   * SQLite group commit: an update is durable once written to a journal file beside the database
   * (`<sqliteFile>.aqjournal`, one write; fsync'd with `full`); journaled updates move into SQLite
   * 64 at a time, before any read, and at most this long after they were written. 0: no journal,
   * one SQLite transaction per update.
   */
  sqliteFlushMs: z.number().int().min(0).max(60_000).default(1000),
}).strict();

export type DocsConfig = z.infer<typeof docsSchema>;

const configSchema = z.object({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8787),
  dataDir: z.string().default('./data'),
  /** Identifies this node in a cluster (metrics, presence). Random when unset. */
  nodeId: z.string().min(1).max(64).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Allowed `Origin` header values for browser connections; empty list = any origin. */
  allowedOrigins: z.array(z.string()).default([]),
  /** Server API key for backends (HTTP API, admin). */
  apiKey: z.string().min(16).optional(),
  /** Demo mode: `/api/demo/token` issues short-lived tokens for `demo:*` rooms to anyone. */
  demo: z.boolean().default(false),
  /** Lifetime of a demo-mode token (the demo page refreshes it before expiry). */
  demoTokenTtlSec: z.number().int().min(60).max(86_400).default(900),
  /** Admin dashboard (`/admin`, `GET /api/admin/stats`); see README §The demo and the admin dashboard. */
  admin: z.object({
    /** How often each node samples its counters and shares its report with the cluster. */
    statsIntervalMs: z.number().int().min(200).default(1000),
    /** Samples kept for the dashboard's charts (default: 2 minutes at 1 s). */
    statsSamples: z.number().int().min(2).max(10_000).default(120),
    /** Rooms listed per node in a stats report, largest first. */
    maxRoomsListed: z.number().int().min(1).max(10_000).default(100),
  }).strict().prefault({}),
  jwt: z.object({
    secret: z.string().min(16).optional(),
    publicKey: z.string().optional(),
    jwksUrl: z.string().url().optional(),
    /** Explicit algorithm allow-list. Defaults depend on the key kind configured. */
    algorithms: z.array(z.enum(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])).optional(),
    clockSkewSec: z.number().int().min(0).max(300).default(5),
    issuer: z.string().optional(),
    audience: z.string().optional(),
    jwksCacheMs: z.number().int().min(1000).default(10 * 60_000),
  }).strict().prefault({}),
  limits: z.object({
    /** Largest accepted WebSocket frame (close 1009 beyond it). */
    maxMessageBytes: z.number().int().min(256).default(64 * 1024),
    maxRoomsPerConnection: z.number().int().min(1).default(100),
    /** Time allowed between upgrade and a successful auth message. */
    authTimeoutMs: z.number().int().min(100).default(5000),
    /** Bytes that may wait in one connection's outbound queue (socket buffer included). */
    outboundQueueBytes: z.number().int().min(1024).default(1024 * 1024),
    /** Above this fraction of outboundQueueBytes, volatile publications are dropped. */
    volatileDropRatio: z.number().min(0).max(1).default(0.5),
    heartbeatIntervalMs: z.number().int().min(100).default(25_000),
    /** A connection that has not answered a ping within this time is closed. */
    heartbeatTimeoutMs: z.number().int().min(100).default(10_000),
    /** Rate-limit violations (per connection, per minute) after which the connection is closed. */
    rateLimitStrikes: z.number().int().min(1).default(50),
    maxConnections: z.number().int().min(1).default(100_000),
    /** How long client publish ids (and HTTP idempotency keys) are remembered. */
    idempotencyTtlMs: z.number().int().min(1000).default(5 * 60_000),
    /** Most idempotency keys remembered per room; the oldest are forgotten first. */
    maxIdempotencyKeysPerRoom: z.number().int().min(1).default(10_000),
    /** Largest `history`/`limit` a client may ask for. */
    maxHistoryLimit: z.number().int().min(1).default(1000),
    /**
     * Most publication bytes in one join or history reply (at most half of outboundQueueBytes is
     * used). A longer recovery is sent in chunks: the join reply says `more: true` and the client
     * joins again from the last publication, so a reply never overflows the outbound queue.
     */
    recoveryChunkBytes: z.number().int().min(1024).default(256 * 1024),
    /** Signal payload limit (SDP can be tens of KB). */
    maxSignalBytes: z.number().int().min(256).default(64 * 1024),
    signalRatePerSec: z.number().positive().default(50),
    signalBurst: z.number().int().positive().default(100),
    /**
     * Token bucket for the other requests of a connection (join, leave, presence, history, refresh);
     * publishes and signals have their own. Refusals are RATE_LIMITED and count as strikes.
     */
    requestRatePerSec: z.number().positive().default(50),
    /** Burst of the request bucket: a reconnect re-joins every room at once, so keep it above maxRoomsPerConnection. */
    requestBurst: z.number().int().positive().default(250),
    /** Offline publishes the server keeps in a room's memory broker: rooms kept at most. */
    maxRooms: z.number().int().min(1).default(100_000),
    /**
     * Least write-coalescing window: each connection writes at most once per window, at its slot
     * (slots are staggered over the window), everything it was owed in one write. 0: no window
     * unless load opens one (`writeShare`). Namespaces with `coalesce: false` write on the next tick.
     * See write-coalescer.ts.
     */
    writeCoalesceMs: z.number().int().min(0).max(100).default(0),
    /**
     * Adaptive coalescing (`/ws` and `/yjs`): when writing every frame alone would take more than
     * this share of wall time (measured every 100 ms), a window opens, sized so that one write per
     * target per window takes about this share; it closes when the load drops. 1: only at saturation.
     */
    writeShare: z.number().gt(0).max(1).default(0.6),
    /** Upper bound of the adaptive window, in ms (`writeCoalesceMs` is never cut). */
    writeMaxGapMs: z.number().int().min(0).max(100).default(20),
    /** Maximum members of a WebRTC peer mesh per room. */
    maxMeshPeers: z.number().int().min(2).default(8),
    /** Presence `info` object: largest encoded size. */
    maxInfoBytes: z.number().int().min(0).default(1024),
  }).strict().prefault({}),
  namespaces: z.record(z.string(), namespaceSchema.partial()).default({}),
  /** One Redis URL, or several comma-separated: rooms are spread over them (README §Brokers). */
  redisUrl: z.string().optional(),
  /** NATS server URL(s), comma-separated; selects the NATS JetStream broker and presence. */
  natsUrl: z.string().optional(),
  /** Broker and presence: by default `nats` when `natsUrl` is set, else `redis` when `redisUrl` is, else `memory`. */
  broker: z.enum(['memory', 'redis', 'nats']).optional(),
  /** NATS JetStream broker and presence. See README §Brokers. */
  nats: natsSchema,
  databaseUrl: z.string().optional(),
  /** Redis broker and presence (used when `redisUrl` is set). See README §Redis: broker and presence. */
  redis: z.object({
    /** Prefix of every key and channel, so several deployments can share one Redis. */
    keyPrefix: z.string().default('aq:'),
    /** A Redis command that takes longer fails with UNAVAILABLE instead of hanging. */
    commandTimeoutMs: z.number().int().min(100).default(5000),
    /** How long an unused room keeps its epoch and top offset (every use refreshes it). */
    metaTtlMs: z.number().int().min(1000).default(24 * 3600_000),
    /** Publications read per history request when a node catches up after a gap or reconnect. */
    catchUpBatch: z.number().int().min(1).default(1000),
    /** Live publications buffered per room while a node catches up; beyond it they are re-read from history. */
    maxPendingPerRoom: z.number().int().min(1).default(10_000),
    /** How often a node refreshes its presence heartbeat. */
    presenceHeartbeatMs: z.number().int().min(100).default(5000),
    /** A node whose heartbeat is older than this is dead; its presence entries vanish (default 3 heartbeats). */
    presenceTtlMs: z.number().int().min(300).default(15_000),
    /** `redisUrl` names seed nodes of one Redis Cluster instead of independent shards. */
    cluster: z.boolean().default(false),
  }).strict().prefault({}),
  /** PostgreSQL document store (used when `databaseUrl` is set). See README §Running a cluster. */
  postgres: z.object({
    /** Connections per node. */
    poolSize: z.number().int().min(1).max(1000).default(10),
    /** A query (e.g. a document write) that takes longer fails instead of hanging. */
    queryTimeoutMs: z.number().int().min(100).default(10_000),
    /** Waiting longer than this for a connection fails the operation. */
    connectTimeoutMs: z.number().int().min(100).default(5000),
    /** Prefix of every table, so several deployments can share one database. */
    tablePrefix: z.string().regex(/^[a-z_][a-z0-9_]{0,30}$/).default('aq_'),
  }).strict().prefault({}),
  sse: z.object({
    heartbeatMs: z.number().int().min(100).default(15_000),
    retryMs: z.number().int().min(0).default(2000),
    maxRoomsPerStream: z.number().int().min(1).default(50),
    maxStreamsPerUser: z.number().int().min(1).default(10),
    /** Bytes buffered for a slow SSE reader before it is closed (it resumes by id). */
    bufferBytes: z.number().int().min(1024).default(1024 * 1024),
    pollTimeoutMs: z.number().int().min(0).max(120_000).default(25_000),
  }).strict().prefault({}),
  turn: z.object({
    secret: z.string().optional(),
    urls: z.array(z.string()).default([]),
    stunUrls: z.array(z.string()).default([]),
    ttlSec: z.number().int().min(60).default(86_400),
  }).strict().prefault({}),
  /** Collaborative documents (`/yjs/:doc`, `/api/docs/*`); see README §Collaborative documents. */
  docs: docsSchema.prefault({}),
  /** permessage-deflate on `/ws` and `/yjs/:doc`; see README §Compression. */
  compression: compressionSchema.prefault({}),
  /** Graceful shutdown: how long `/readyz` fails before connections close; see README §Shutdown and readiness. */
  shutdown: shutdownSchema.prefault({}),
  /** Media through the Janus SFU; see README §Media (SFU). */
  sfu: sfuSchema,
  /** Backend hooks as webhooks, and the hooks' failure policy; see README §Backend hooks and webhooks. */
  hooks: hooksSchema.prefault({}),
}).strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Resolves the settings of a room's namespace: defaults < `""` entry < namespace entry. */
export function namespaceSettings(config: Config, namespace: string): NamespaceConfig {
  return { ...NAMESPACE_DEFAULTS, ...config.namespaces[''], ...config.namespaces[namespace] };
}

/** Validates a config object; throws ConfigError naming the bad key. */
export function parseConfig(input: unknown): Config {
  const result = configSchema.safeParse(input ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const extra = issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys : [];
    const key = [...issue.path, ...extra.slice(0, 1)].join('.') || '(root)';
    throw new ConfigError(`invalid config key "${key}": ${issue.message}`);
  }
  return result.data;
}

type Json = Record<string, unknown>;

function setPath(target: Json, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
    node = node[part] as Json;
  }
  node[parts[parts.length - 1]] = value;
}

function coerce(raw: string): unknown {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (/^[[{]/.test(raw)) {
    try { return JSON.parse(raw); } catch { /* fall through: keep as string */ }
  }
  return raw;
}

function deepMerge(a: Json, b: Json): Json {
  const out: Json = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof prev === 'object' && prev !== null && !Array.isArray(prev)
      ? deepMerge(prev as Json, v as Json)
      : v;
  }
  return out;
}

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

/** Environment variables understood by the server (README §Configuration). */
export function configFromEnv(env: NodeJS.ProcessEnv): Json {
  const out: Json = {};
  const map: Array<[string, string, (s: string) => unknown]> = [
    ['PORT', 'port', Number],
    ['HOST', 'host', String],
    ['AQUEDUCT_DATA_DIR', 'dataDir', String],
    ['AQUEDUCT_NODE_ID', 'nodeId', String],
    ['AQUEDUCT_LOG_LEVEL', 'logLevel', String],
    ['AQUEDUCT_ALLOWED_ORIGINS', 'allowedOrigins', list],
    ['AQUEDUCT_API_KEY', 'apiKey', String],
    ['AQUEDUCT_DEMO', 'demo', (s) => s === '1' || s === 'true'],
    ['AQUEDUCT_JWT_SECRET', 'jwt.secret', String],
    ['AQUEDUCT_JWT_PUBLIC_KEY', 'jwt.publicKey', (s) => s.replace(/\\n/g, '\n')],
    ['AQUEDUCT_JWKS_URL', 'jwt.jwksUrl', String],
    ['AQUEDUCT_JWT_ALGORITHMS', 'jwt.algorithms', list],
    ['AQUEDUCT_JWT_ISSUER', 'jwt.issuer', String],
    ['AQUEDUCT_JWT_AUDIENCE', 'jwt.audience', String],
    ['REDIS_URL', 'redisUrl', String],
    ['REDIS_URLS', 'redisUrl', String],
    ['REDIS_CLUSTER', 'redis.cluster', (s) => s === '1' || s === 'true'],
    ['AQUEDUCT_REDIS_MODE', 'redis.cluster', (s) => s === 'cluster'],
    ['NATS_URL', 'natsUrl', String],
    ['AQUEDUCT_BROKER', 'broker', String],
    ['DATABASE_URL', 'databaseUrl', String],
    ['AQUEDUCT_TURN_SECRET', 'turn.secret', String],
    ['AQUEDUCT_TURN_URLS', 'turn.urls', list],
    ['AQUEDUCT_STUN_URLS', 'turn.stunUrls', list],
    ['AQUEDUCT_TURN_TTL', 'turn.ttlSec', Number],
    ...SFU_ENV,
    ['AQUEDUCT_WEBHOOK_URL', 'hooks.webhookUrl', String],
    ['AQUEDUCT_WEBHOOK_SECRET', 'hooks.webhookSecret', String],
  ];
  for (const [name, path, conv] of map) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') setPath(out, path, conv(raw));
  }
  // AQUEDUCT_SET="limits.maxMessageBytes=1024;namespaces.chat.historySize=50"
  for (const pair of (env.AQUEDUCT_SET ?? '').split(';').filter(Boolean)) {
    const i = pair.indexOf('=');
    if (i > 0) setPath(out, pair.slice(0, i).trim(), coerce(pair.slice(i + 1).trim()));
  }
  return out;
}

/** Builds the final config from a config file, the environment and parsed CLI overrides. */
export function loadConfig(opts: { env?: NodeJS.ProcessEnv; file?: string; overrides?: Json; sets?: string[] } = {}): Config {
  const env = opts.env ?? process.env;
  let merged: Json = {};
  const file = opts.file ?? env.AQUEDUCT_CONFIG;
  if (file) {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch (e) { throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`); }
    try { merged = JSON.parse(text) as Json; } catch (e) { throw new ConfigError(`config file ${file} is not valid JSON: ${(e as Error).message}`); }
  }
  merged = deepMerge(merged, configFromEnv(env));
  if (opts.overrides) merged = deepMerge(merged, opts.overrides);
  for (const pair of opts.sets ?? []) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new ConfigError(`--set expects path=value, got "${pair}"`);
    setPath(merged, pair.slice(0, i), coerce(pair.slice(i + 1)));
  }
  return parseConfig(merged);
}
