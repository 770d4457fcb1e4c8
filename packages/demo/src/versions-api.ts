/**
 * The document versions HTTP API (`/api/docs/:doc/versions`, restore), called with the demo token.
 * Errors carry the server's `{error:{code,message}}`.
 */
export interface VersionInfo { id: string; label: string | null; author: string; time: number; seq?: number }

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

async function call<T>(method: string, path: string, token: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try { json = text ? JSON.parse(text) : {}; } catch { json = {}; }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string } }).error;
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText);
  }
  return json as T;
}

const base = (doc: string): string => `/api/docs/${encodeURIComponent(doc)}`;

export async function listVersions(doc: string, token: string): Promise<VersionInfo[]> {
  const r = await call<{ versions?: VersionInfo[] } | VersionInfo[]>('GET', `${base(doc)}/versions?limit=50`, token);
  return Array.isArray(r) ? r : r.versions ?? [];
}

export async function recordVersion(doc: string, token: string, label: string | null): Promise<VersionInfo> {
  const r = await call<VersionInfo | { version: VersionInfo }>('POST', `${base(doc)}/versions`, token, { label });
  return 'version' in r ? r.version : r;
}

export async function restoreVersion(doc: string, token: string, id: string): Promise<void> {
  await call('POST', `${base(doc)}/restore`, token, { version: id });
}

/** A version's content: JSON of every top-level shared type (`{ version, types, content }`). */
export async function versionContent(doc: string, token: string, id: string): Promise<Record<string, unknown>> {
  const r = await call<{ content?: Record<string, unknown> }>('GET', `${base(doc)}/versions/${encodeURIComponent(id)}`, token);
  return r.content ?? {};
}
