import { AqueductError } from './errors.js';

/** The HTTP side of a mesh: where the server is, and how to fetch. */
export interface MeshHttp {
  http(): Promise<{ baseUrl: string; token: string }>;
  fetch: typeof fetch;
  onError(err: AqueductError): void;
}

/** Fetched ICE servers are refreshed this long before their TURN credentials expire. */
const ICE_REFRESH_LEAD_MS = 60_000;

/**
 * ICE servers for one room's mesh: the app's fixed list, or `GET /api/ice-servers` (TURN
 * credentials included when the server has TURN), cached until shortly before they expire; one
 * fetch at a time.
 */
export class IceServers {
  private servers: RTCIceServer[] | undefined;
  private expiresAt = Infinity;
  private inFlight: Promise<RTCIceServer[] | undefined> | undefined;

  constructor(
    private readonly net: MeshHttp,
    private readonly room: string,
    private readonly relayOnly: boolean,
    fixed: RTCIceServer[] | undefined,
  ) {
    this.servers = fixed;
  }

  /** Current servers; undefined when a relay-only mesh cannot get TURN (every peer uses the bus). */
  get(): Promise<RTCIceServer[] | undefined> {
    if (this.servers && Date.now() < this.expiresAt - ICE_REFRESH_LEAD_MS) return Promise.resolve(this.servers);
    this.inFlight ??= this.fetch().finally(() => { this.inFlight = undefined; });
    return this.inFlight;
  }

  private async fetch(): Promise<RTCIceServer[] | undefined> {
    const relayOnly = this.relayOnly;
    try {
      const { baseUrl, token } = await this.net.http();
      const url = `${baseUrl}/api/ice-servers?room=${encodeURIComponent(this.room)}${relayOnly ? '&turn=required' : ''}`;
      const res = await this.net.fetch(url, { headers: { Authorization: `Bearer ${token}` } });
      const body = await res.json() as { iceServers?: RTCIceServer[]; expiresAt?: number; error?: { code: string; message: string } };
      if (!res.ok || !Array.isArray(body.iceServers)) {
        throw new AqueductError(body.error?.code === 'UNAVAILABLE' ? 'UNAVAILABLE' : 'BAD_REQUEST', `ice servers: ${body.error?.message ?? res.status}`, res.status >= 500);
      }
      this.servers = body.iceServers;
      this.expiresAt = body.expiresAt ?? Infinity;
      return this.servers;
    } catch (err) {
      this.net.onError(err instanceof AqueductError ? err : new AqueductError('UNAVAILABLE', `ice servers: ${(err as Error).message}`, true));
      // Host candidates still work on a LAN; a relay-only mesh has no way to connect at all.
      return relayOnly ? undefined : [];
    }
  }
}

/** Reports an established connection's path to `POST /api/webrtc/stats` (the server's metrics). */
export async function reportPath(net: MeshHttp, path: 'relay' | 'direct'): Promise<void> {
  try {
    const { baseUrl, token } = await net.http();
    const res = await net.fetch(`${baseUrl}/api/webrtc/stats`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ path }),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  } catch (err) {
    net.onError(new AqueductError('UNAVAILABLE', `stats report failed: ${(err as Error).message}`, true));
  }
}
