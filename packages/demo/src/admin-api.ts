/** The HTTP calls of the admin dashboard, all authenticated with the server API key. */

import type { NodeStats } from '@aqueduct/server';

export type { NodeStats };

/** `GET /api/admin/stats`. */
export interface StatsResponse { node: string; demo: boolean; nodes: NodeStats[] }

export class AdminApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'AdminApiError';
  }
}

async function call<T>(key: string, method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Authorization: `Bearer ${key}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  const text = await res.text();
  let json: unknown = {};
  try { json = text ? JSON.parse(text) : {}; } catch { /* not JSON: reported by status below */ }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string } }).error;
    throw new AdminApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText);
  }
  return json as T;
}

export const fetchStats = (key: string): Promise<StatsResponse> => call(key, 'GET', '/api/admin/stats');

/** Posts an announcement to a room through the HTTP publish API (demo pages read it over SSE). */
export const postAnnouncement = (key: string, room: string, text: string): Promise<unknown> =>
  call(key, 'POST', '/api/publish', { room, data: { text, at: Date.now() }, event: 'announcement' });

/** Disconnects every connection of `user` in `room`, cluster-wide. */
export const disconnectUser = (key: string, room: string, user: string): Promise<unknown> =>
  call(key, 'POST', `/api/rooms/${encodeURIComponent(room)}/disconnect`, { user });

export interface MemberInfo { client: string; user: string; info?: Record<string, unknown> }

/** Presence of a room, cluster-wide. */
export const fetchMembers = async (key: string, room: string): Promise<MemberInfo[]> =>
  (await call<{ members: MemberInfo[] }>(key, 'GET', `/api/rooms/${encodeURIComponent(room)}/presence`)).members;
