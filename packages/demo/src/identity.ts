/**
 * Who this tab is in demo mode: `POST /api/demo/token` returns a short-lived token for `demo:*`
 * rooms plus a name and colour. The user id, name and colour are kept in sessionStorage so a reload
 * is the same person; the token itself is re-fetched (the SDK calls `token()` on every connect and
 * before expiry).
 */
export interface DemoIdentity {
  user: string;
  name: string;
  color: string;
  token: string;
  expiresAt: number;
}

const KEY = 'aqueduct.demo.identity';

interface Stored { user: string; name: string; color: string }

function stored(): Partial<Stored> {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Partial<Stored>) : {};
  } catch {
    return {};
  }
}

export class DemoTokens {
  /** `role`: a role of the live-stream app (`/live`), asked for with every token. */
  constructor(private readonly options: { role?: string } = {}) {}

  private current?: DemoIdentity;
  private inflight?: Promise<DemoIdentity>;
  private readonly listeners = new Set<(id: DemoIdentity) => void>();

  /** The latest identity (after the first `fetch`). */
  get identity(): DemoIdentity | undefined {
    return this.current;
  }

  /**
   * This tab's identity from sessionStorage without a token (`token: ''`, already expired): the
   * page starts offline with it, and the SDK fetches a token once the network is back.
   */
  cached(): DemoIdentity | undefined {
    const s = stored();
    if (!s.user || !s.name || !s.color) return undefined;
    return { user: s.user, name: s.name, color: s.color, token: '', expiresAt: 0 };
  }

  /** Called whenever a fresh token arrives (the Yjs provider needs it for its next connect). */
  onToken(fn: (id: DemoIdentity) => void): void {
    this.listeners.add(fn);
  }

  /** A token valid for at least a minute; fetched anew when the current one is older. */
  async token(): Promise<string> {
    const cur = this.current;
    if (cur && cur.expiresAt - Date.now() > 60_000) return cur.token;
    return (await this.fetch()).token;
  }

  /** Fetches a fresh token (coalesced). `name` renames this tab's user. */
  fetch(name?: string): Promise<DemoIdentity> {
    if (this.inflight && name === undefined) return this.inflight;
    const prev = stored();
    const body: Partial<Stored> & { role?: string } = { ...prev };
    if (name !== undefined) body.name = name;
    if (this.options.role) body.role = this.options.role;
    const p = (async () => {
      const res = await fetch('/api/demo/token', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const json = (await res.json()) as DemoIdentity | { error: { code: string; message: string } };
      if (!res.ok || 'error' in json) throw new Error('error' in json ? `${json.error.code}: ${json.error.message}` : `HTTP ${res.status}`);
      try { sessionStorage.setItem(KEY, JSON.stringify({ user: json.user, name: json.name, color: json.color })); } catch { /* private mode: a reload is a new user */ }
      this.current = json;
      for (const l of this.listeners) l(json);
      return json;
    })();
    this.inflight = p;
    p.finally(() => { if (this.inflight === p) this.inflight = undefined; }).catch(() => undefined);
    return p;
  }
}
