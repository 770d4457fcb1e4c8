import * as Y from 'yjs';
import type { User } from '../auth/grants.js';
import type { Logger } from '../logger.js';
import { hooksSchema, type HookName, type HooksConfig } from './hooks-config.js';
import {
  HOOK_FAILED, HookDenied,
  type ConnectHookContext, type DocUpdateHookContext, type JoinHookContext, type PublishHookContext, type ServerHooks,
} from './hook-types.js';
import { WebhookClient } from './webhooks.js';

const CODE_RE = /^[A-Z][A-Z0-9_]{0,63}$/;
const MAX_MESSAGE_CHARS = 256;
const NO_DATA = Symbol('no rewrite');

type Decision = { allow: true; data: unknown } | { allow: false; code: string; message: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a verdict (a hook's return value, or a webhook's JSON answer). Throws on anything else. */
function interpret(v: unknown, rewritable: boolean): Decision {
  if (v === undefined || v === null || v === true) return { allow: true, data: NO_DATA };
  if (v === false) return { allow: false, code: 'PERMISSION_DENIED', message: 'denied by the application' };
  if (!isObj(v)) throw new Error(`hook returned ${typeof v}; expected undefined, a boolean or { allow, code?, message?${rewritable ? ', data?' : ''} }`);
  if (v.allow === false) {
    const code = typeof v.code === 'string' && CODE_RE.test(v.code) ? v.code : 'PERMISSION_DENIED';
    const message = typeof v.message === 'string' && v.message !== '' ? v.message.slice(0, MAX_MESSAGE_CHARS) : 'denied by the application';
    return { allow: false, code, message };
  }
  if (v.allow !== undefined && v.allow !== true) throw new Error('hook answer: allow must be a boolean');
  if (rewritable && 'data' in v) {
    if (v.data === undefined) throw new Error('hook answer: data must not be undefined');
    return { allow: true, data: v.data };
  }
  return { allow: true, data: NO_DATA };
}

const publicUser = (u: User) => (u.info ? { id: u.id, info: u.info } : { id: u.id });

export interface HooksOptions {
  hooks?: ServerHooks;
  config?: HooksConfig;
  logger?: Logger;
  nodeId?: string;
  /** Largest publication (limits.maxMessageBytes): a rewrite beyond it is a hook failure. */
  maxMessageBytes?: number;
}

/**
 * The backend hooks of a node: the app's in-process functions, then the webhook (when configured
 * for that hook). Every pipe asks here (README §Backend hooks and webhooks). Each method resolves
 * when allowed and rejects with HookDenied otherwise; `publish` resolves with the (rewritten) data.
 */
export class Hooks {
  /** Which hooks are active: pipes skip the call (and its await) when false. */
  readonly has: Readonly<Record<HookName, boolean>>;
  private readonly fns: ServerHooks;
  private readonly config: HooksConfig;
  private readonly webhook?: WebhookClient;
  private readonly webhookEvents: ReadonlySet<HookName>;

  constructor(private readonly options: HooksOptions = {}) {
    this.fns = options.hooks ?? {};
    this.config = options.config ?? hooksSchema.parse({});
    const { webhookUrl, webhookSecret } = this.config;
    if (webhookUrl && webhookSecret) this.webhook = new WebhookClient({ ...this.config, webhookUrl, webhookSecret }, options.nodeId ?? 'local');
    this.webhookEvents = new Set(this.webhook ? this.config.webhookEvents : []);
    const on = (name: HookName, fn: unknown) => typeof fn === 'function' || this.webhookEvents.has(name);
    this.has = {
      connect: on('connect', this.fns.onConnect),
      join: on('join', this.fns.onJoin),
      publish: on('publish', this.fns.onPublish),
      docUpdate: on('docUpdate', this.fns.onDocUpdate),
    };
  }

  /** Webhook calls in flight (metrics, tests). */
  get webhookInFlight(): number {
    return this.webhook?.inFlight ?? 0;
  }

  async connect(ctx: ConnectHookContext): Promise<void> {
    if (!this.has.connect || ctx.user.superuser) return;
    const forwarded: Record<string, string> = {};
    for (const name of this.config.forwardHeaders) {
      const v = ctx.req?.headers[name.toLowerCase()];
      if (v !== undefined) forwarded[name.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    }
    await this.run('connect', this.fns.onConnect && (() => this.fns.onConnect!(ctx)), () => ({
      user: publicUser(ctx.user), transport: ctx.transport, client: ctx.client,
      remoteAddress: ctx.req?.socket?.remoteAddress, headers: forwarded,
    }), false);
  }

  async join(ctx: JoinHookContext): Promise<void> {
    if (!this.has.join || ctx.user.superuser) return;
    await this.run('join', this.fns.onJoin && (() => this.fns.onJoin!(ctx)), () => ({
      user: publicUser(ctx.user), room: ctx.room, transport: ctx.transport, client: ctx.client,
    }), false);
  }

  /** Resolves with the data to publish: the original, or the hooks' rewrite. */
  async publish(ctx: PublishHookContext): Promise<unknown> {
    if (!this.has.publish || ctx.user.superuser) return ctx.data;
    const data = await this.run('publish', this.fns.onPublish && (() => this.fns.onPublish!(ctx)), (current) => ({
      user: publicUser(ctx.user), room: ctx.room, data: current, event: ctx.event, volatile: ctx.volatile, transport: ctx.transport, client: ctx.client,
    }), true, ctx.data);
    if (data !== ctx.data) {
      const max = this.options.maxMessageBytes;
      let size: number;
      try { size = Buffer.byteLength(JSON.stringify(data) ?? ''); } catch { size = Infinity; }
      if (max !== undefined && size > max) return this.failed('publish', new Error(`rewritten publication of ${size} bytes exceeds limits.maxMessageBytes`), ctx.data);
    }
    return data;
  }

  /** `current`: the document before the update (read inside the document's queue). */
  async docUpdate(input: { user: User; doc: string; update: Uint8Array; current: Y.Doc }): Promise<void> {
    if (!this.has.docUpdate || input.user.superuser) return;
    let copy: Y.Doc | undefined;
    const ctx: DocUpdateHookContext = {
      user: input.user,
      doc: input.doc,
      update: input.update,
      after: () => {
        if (!copy) {
          copy = new Y.Doc();
          Y.applyUpdate(copy, Y.encodeStateAsUpdate(input.current));
          Y.applyUpdate(copy, input.update);
        }
        return copy;
      },
    };
    try {
      await this.run('docUpdate', this.fns.onDocUpdate && (() => this.fns.onDocUpdate!(ctx)), () => ({
        user: publicUser(input.user), doc: input.doc, update: Buffer.from(input.update).toString('base64'),
      }), false);
    } finally {
      copy?.destroy();
    }
  }

  /**
   * In-process hook first; if it allows, the webhook (when enabled for `hook`) with the data as the
   * in-process hook left it. Returns the final data (publish) or undefined.
   */
  private async run(hook: HookName, fn: (() => unknown) | undefined, payload: (data: unknown) => Record<string, unknown>, rewritable: boolean, data?: unknown): Promise<unknown> {
    let current = data;
    if (fn) {
      let d: Decision;
      try {
        d = interpret(await fn(), rewritable);
      } catch (err) {
        if (err instanceof HookDenied) throw err;
        return this.failed(hook, err, data);
      }
      if (!d.allow) throw new HookDenied(d.code, d.message);
      if (d.data !== NO_DATA) current = d.data;
    }
    if (this.webhook && this.webhookEvents.has(hook)) {
      let d: Decision;
      try {
        d = interpret(await this.webhook.call(hook, payload(current)), rewritable);
      } catch (err) {
        return this.failed(hook, err, data);
      }
      if (!d.allow) throw new HookDenied(d.code, d.message);
      if (d.data !== NO_DATA) current = d.data;
    }
    return current;
  }

  /** A hook failed: allowed unchanged with failOpen, else denied with HOOK_FAILED (temporary). */
  private failed(hook: HookName, err: unknown, data: unknown): unknown {
    const reason = err instanceof Error ? err.message : String(err);
    this.options.logger?.warn({ hook, reason, failOpen: this.config.failOpen }, 'backend hook failed');
    if (this.config.failOpen) return data;
    throw new HookDenied(HOOK_FAILED, `backend hook ${hook} failed`, true);
  }

  close(): void {
    this.webhook?.close();
  }
}
