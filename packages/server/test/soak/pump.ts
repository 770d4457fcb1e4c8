/**
 * Feeds fuzzed frames to a WebSocket endpoint and counts the inputs the server actually processed.
 * Inputs go in batches followed by a sentinel (a message the server answers in order). A batch whose
 * sentinel is answered counts whole; when the server closes the connection during a batch (an input
 * was rejected, as it should be), the batch is retried one input per connection so that every input
 * reaches the server once and is counted once.
 */
import WebSocket from 'ws';

export interface PumpTarget {
  /** Opens an authenticated connection, ready for inputs. */
  connect(): Promise<PumpConn>;
}

export interface PumpConn {
  send(frame: Buffer | string): void;
  /** Sends the sentinel; true when it was answered, false when the connection closed first. */
  sentinel(): Promise<boolean>;
  close(): void;
  readonly open: boolean;
}

export interface PumpStats {
  tried: number;
  /** Connections the server closed (a rejected input; expected for malformed ones). */
  closedByServer: number;
  /** Close codes seen, with counts. */
  closeCodes: Map<number, number>;
}

export function newPumpStats(): PumpStats {
  return { tried: 0, closedByServer: 0, closeCodes: new Map() };
}

/** Runs every input through `target` with `parallel` connections, `batch` inputs per sentinel. */
export async function pump(target: PumpTarget, inputs: ReadonlyArray<Buffer | string>, opts: { batch: number; parallel: number }, stats: PumpStats): Promise<void> {
  const chunks: Array<ReadonlyArray<Buffer | string>> = [];
  for (let i = 0; i < inputs.length; i += opts.batch) chunks.push(inputs.slice(i, i + opts.batch));
  let next = 0;
  const worker = async () => {
    let conn: PumpConn | undefined;
    try {
      while (next < chunks.length) {
        const chunk = chunks[next++];
        if (!conn || !conn.open) conn = await target.connect();
        for (const f of chunk) conn.send(f);
        if (await conn.sentinel()) {
          stats.tried += chunk.length;
          continue;
        }
        stats.closedByServer++;
        if (chunk.length === 1) {
          stats.tried++;
          continue;
        }
        // Closed mid-batch: each input again, alone on a connection.
        for (const f of chunk) {
          const single = await target.connect();
          single.send(f);
          if (!(await single.sentinel())) stats.closedByServer++;
          stats.tried++;
          single.close();
        }
      }
    } finally {
      conn?.close();
    }
  };
  await Promise.all(Array.from({ length: opts.parallel }, worker));
}

/** Waits for a `ws` connection to open (rejects on error or refused upgrade). */
export function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
}

/** Connections the fuzzer itself ended (their close is not the server's answer to an input). */
const ours = new WeakSet<WebSocket>();

/** Records a connection's close code in `stats`, unless the fuzzer ended it (`endConnection`). */
export function recordClose(ws: WebSocket, stats: PumpStats): void {
  ws.once('close', (code) => {
    if (!ours.has(ws)) stats.closeCodes.set(code, (stats.closeCodes.get(code) ?? 0) + 1);
  });
}

/** Ends a fuzz connection from the client side. */
export function endConnection(ws: WebSocket): void {
  ours.add(ws);
  ws.terminate();
}
