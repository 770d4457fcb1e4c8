import { z } from 'zod';

/**
 * permessage-deflate (RFC 7692) on `/ws` and `/yjs/:doc` (README §Compression). Negotiated per
 * connection: a client that does not offer the extension gets uncompressed frames.
 */
export const compressionSchema = z.object({
  /**
   * Accept permessage-deflate on `/ws` and `/yjs/:doc`. Off by default: clients (browsers) compress
   * every message they send, and inflating one costs the server more CPU than fanning it out
   * (BENCHMARKS.md §Compression; README §Compression).
   */
  enabled: z.boolean().default(false),
  /** Messages the server sends below this size (payload bytes) are sent uncompressed. */
  thresholdBytes: z.number().int().min(0).default(256),
  /**
   * Reset the server's compressor after every message. `true` (the default) lets a broadcast be
   * compressed once and the same frame go to every subscriber; `false` keeps a compressor per
   * connection (better ratio on small messages, one compression per recipient, up to
   * `2^(serverMaxWindowBits+2) + 2^(memLevel+9)` bytes of zlib state per connection).
   */
  serverNoContextTakeover: z.boolean().default(true),
  /**
   * Tell clients to reset their compressor after every message: the server's inflater keeps no
   * history between messages, and clients that skip small messages when they may (`ws`: below
   * 1 KiB) send them uncompressed, sparing the server an inflate per small message (BENCHMARKS.md §Compression).
   */
  clientNoContextTakeover: z.boolean().default(true),
  /** LZ77 window of the server's compressor, in bits (9–15). Unset: 15, or smaller if the client asks. */
  serverMaxWindowBits: z.number().int().min(9).max(15).optional(),
  /**
   * Largest LZ77 window clients may use, in bits (9–15): bounds the server's inflater memory
   * (`2^windowBits` + ~7 KB per connection). Unset: 15. Clients that cannot limit it are refused (400).
   */
  clientMaxWindowBits: z.number().int().min(9).max(15).optional(),
  /** zlib memLevel of the server's compressor (1–9): less memory, slightly worse ratio. */
  memLevel: z.number().int().min(1).max(9).default(8),
  /** zlib level (1 fastest … 9 smallest). */
  level: z.number().int().min(1).max(9).default(1),
  /** zlib operations (inflate/deflate) running at once in the thread pool, for all connections. */
  concurrencyLimit: z.number().int().min(1).max(128).default(10),
}).strict();

export type CompressionConfig = z.infer<typeof compressionSchema>;
