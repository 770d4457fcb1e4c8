import type { AqueductClient } from '@aqueduct/client';
import type { StageMedia, StageTrack } from './stage.js';

/**
 * The stage's media session: the SDK's SFU session for the live room.
 * (Placeholder until `client.media` lands: reports that video is unavailable.)
 */
export function createStageMedia(_client: AqueductClient, _room: string): StageMedia {
  const stateListeners: Array<(s: string) => void> = [];
  const unavailable = new Error('video is not available in this build');
  return {
    async join() { for (const l of stateListeners) l('unavailable'); throw unavailable; },
    async publish() { throw unavailable; },
    mute() {},
    async leave() {},
    on(event: string, fn: ((t: StageTrack) => void) | ((s: string) => void) | ((e: Error) => void)) {
      if (event === 'state') stateListeners.push(fn as (s: string) => void);
      return undefined;
    },
  };
}
