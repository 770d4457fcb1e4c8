import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { HookName, HooksConfig } from './hooks-config.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook } from './signature.js';

/** A webhook call failed (after its retries): unreachable, timeout, non-2xx, or not a JSON answer. */
export class WebhookError extends Error {
  constructor(message: string, readonly retriable: boolean) {
    super(message);
    this.name = 'WebhookError';
  }
}

/** Largest webhook answer read (a rewritten publication is bounded by limits.maxMessageBytes anyway). */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

async function readBounded(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > max) throw new WebhookError(`answer of ${declared} bytes exceeds ${max}`, false);
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > max) throw new WebhookError(`answer exceeds ${max} bytes`, false);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const done = () => { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); };
  const t = setTimeout(done, ms);
  signal.addEventListener('abort', done, { once: true });
});

/**
 * Signed JSON POSTs to the app backend (`hooks.webhookUrl`), with Node's global fetch: one attempt
 * per `timeoutMs`, `retries` more after a timeout / network error / 5xx / 429 with doubling backoff,
 * at most `maxConcurrent` calls in flight. Resolves with the parsed JSON answer.
 */
export class WebhookClient {
  private inflight = 0;
  private readonly closing = new AbortController();

  constructor(private readonly config: HooksConfig & { webhookUrl: string; webhookSecret: string }, private readonly nodeId: string) {
    // One listener per call in flight (bounded by maxConcurrent).
    setMaxListeners(0, this.closing.signal);
  }

  get inFlight(): number {
    return this.inflight;
  }

  async call(hook: HookName, payload: Record<string, unknown>): Promise<unknown> {
    const { maxConcurrent, retries, retryBackoffMs } = this.config;
    if (this.closing.signal.aborted) throw new WebhookError('server is shutting down', false);
    if (this.inflight >= maxConcurrent) throw new WebhookError(`${maxConcurrent} webhook calls in flight (hooks.maxConcurrent)`, false);
    this.inflight++;
    try {
      const body = JSON.stringify({ hook, node: this.nodeId, ...payload });
      const delivery = randomBytes(8).toString('hex');
      let last: WebhookError | undefined;
      for (let attempt = 0; attempt <= retries; attempt++) {
        if (attempt > 0) await sleep(retryBackoffMs * 2 ** (attempt - 1), this.closing.signal);
        if (this.closing.signal.aborted) throw new WebhookError('server is shutting down', false);
        try {
          return await this.attempt(hook, body, delivery, attempt);
        } catch (err) {
          last = err instanceof WebhookError ? err : new WebhookError(String(err), true);
          if (!last.retriable) break;
        }
      }
      throw last ?? new WebhookError('webhook failed', false);
    } finally {
      this.inflight--;
    }
  }

  private async attempt(hook: HookName, body: string, delivery: string, attempt: number): Promise<unknown> {
    const { webhookUrl, webhookSecret, timeoutMs } = this.config;
    const timestamp = String(Date.now());
    // A timer of our own (AbortSignal.timeout inside AbortSignal.any can be collected before it fires).
    const ctrl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; ctrl.abort(); }, timeoutMs);
    const onClose = () => ctrl.abort();
    this.closing.signal.addEventListener('abort', onClose, { once: true });
    const signal = ctrl.signal;
    let res: Response;
    let text: string;
    try {
      res = await fetch(webhookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-aqueduct-hook': hook,
          'x-aqueduct-delivery': delivery,
          'x-aqueduct-attempt': String(attempt + 1),
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signWebhook(webhookSecret, timestamp, body),
        },
        body,
        signal,
        redirect: 'error',
      });
      text = await readBounded(res, MAX_ANSWER_BYTES);
    } catch (err) {
      if (err instanceof WebhookError) throw err;
      throw new WebhookError(timedOut ? `no answer within ${timeoutMs} ms (hooks.timeoutMs)` : `request failed: ${(err as Error).message}`, true);
    } finally {
      clearTimeout(timer);
      this.closing.signal.removeEventListener('abort', onClose);
    }
    if (res.status >= 500 || res.status === 429) throw new WebhookError(`answered ${res.status}`, true);
    if (res.status < 200 || res.status > 299) throw new WebhookError(`answered ${res.status}`, false);
    if (text.trim() === '') return {};
    try {
      return JSON.parse(text);
    } catch {
      throw new WebhookError('answer is not JSON', false);
    }
  }

  /** Aborts calls in flight (they fail like a timeout). */
  close(): void {
    this.closing.abort();
  }
}
