import type { ErrorCode, Member } from '@aqueduct/protocol';
import { can, type User } from '../auth/grants.js';

/** What a mesh join needs to know; the session passes it in, so this file never sees a socket. */
export interface MeshJoinInput {
  user: User;
  room: string;
  /** Whether presence is on in the room's namespace (the mesh is built from presence). */
  presence: boolean;
  /** `limits.maxMeshPeers`. */
  maxMeshPeers: number;
  /** The room's current presence entries (cluster-wide). */
  members(): Promise<Member[]>;
}

/**
 * Decides whether a `join` with `mesh: true` may proceed; resolves with the refusal, or undefined.
 *
 * A full mesh of n peers holds n-1 connections per browser, so the room's mesh size is capped:
 * the join that would make the room's mesh members exceed `maxMeshPeers` is refused with MESH_FULL
 * (not temporary in the catalogue, but it succeeds once a member leaves). The count is read from
 * presence before this client is added, so two joins racing for the last seat can both pass; the
 * limit protects browsers from an unbounded mesh, it is not a reservation system.
 */
export async function meshJoinRefusal(input: MeshJoinInput): Promise<{ code: ErrorCode; message: string } | undefined> {
  if (!can(input.user, 'signal', input.room)) {
    return { code: 'PERMISSION_DENIED', message: `a mesh join needs the signal permission for ${input.room}` };
  }
  if (!input.presence) return { code: 'PRESENCE_DISABLED', message: 'a peer mesh needs presence, which is off in this namespace' };
  const meshMembers = (await input.members()).filter((m) => m.mesh === true).length;
  if (meshMembers >= input.maxMeshPeers) {
    return { code: 'MESH_FULL', message: `the peer mesh of ${input.room} is full (${input.maxMeshPeers} peers)` };
  }
  return undefined;
}
