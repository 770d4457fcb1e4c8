import type { AqueductClient, MediaSession } from '@aqueduct/client';

/**
 * The stage's media session: the SDK's SFU session for the live room. Always the SFU, even for a
 * small audience: a host uploads one stream however many watch, and viewers (`media:subscribe`)
 * never upload anything.
 */
export function createStageMedia(client: AqueductClient, room: string): MediaSession {
  return client.media(room, { mode: 'sfu' });
}
