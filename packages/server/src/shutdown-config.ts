import { z } from 'zod';

/** Drain delay when Aqueduct owns the HTTP server and `shutdown.readyzGraceMs` is not set. */
export const DEFAULT_READYZ_GRACE_MS = 2000;

/** Graceful shutdown (README §Shutdown and readiness). */
export const shutdownSchema = z.object({
  /**
   * After SIGTERM/SIGINT or `close()`, `/readyz` answers 503 (`reason: "shutting down"`) for this
   * long while everything else still works, so a load balancer polling it stops routing here before
   * connections are closed (with close code 4000). Default: 2000 ms when Aqueduct owns the HTTP
   * server (`aqueduct serve`, `createServer()` without `server`), 0 when mounted on the app's own
   * server (the app drains its listener). Capped at 10 minutes.
   */
  readyzGraceMs: z.number().int().min(0).max(600_000).optional(),
}).strict();

export type ShutdownConfig = z.infer<typeof shutdownSchema>;

/** The drain delay that applies to a node. */
export function readyzGraceMs(config: ShutdownConfig, ownsHttp: boolean): number {
  return config.readyzGraceMs ?? (ownsHttp ? DEFAULT_READYZ_GRACE_MS : 0);
}
