export { AqueductClient, type ClientOptions, type ClientEvents, type ConnectionState, type DisconnectInfo, type WebSocketConstructor, type WebSocketLike } from './client.js';
export { Room, type RoomOptions, type RoomMessage, type RoomEvents, type ResetInfo } from './room.js';
export { AqueductError, type ClientErrorCode, type CloseDetails } from './errors.js';
export type { OutboxEntry, OutboxDrop, OutboxAck, OutboxDropReason, OfflinePersistence } from './offline-types.js';
export {
  PeerMesh, MeshChannel, type PeerMeshOptions, type PeerMeshEvents, type PeerPath, type PeerInfo, type PeerStats,
  type ChannelOptions, type ChannelMessageInfo, type MeshChannelEvents,
} from './peers.js';
export {
  subscribeEvents, eventsUrl, type EventsHandlers, type EventsSubscription, type EventsState, type EventMessage,
  type SubscribeEventsOptions, type EventSourceConstructor, type EventSourceLike,
} from './events.js';
export { MediaSession, type MediaOptions, type MediaSessionEvents, type MediaState, type MediaTrackInfo, type PublishOptions } from './media.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { CloseCodes, ErrorCodes, shouldReconnect, type Member, type Position, type Origin, type SseResetData, type SseReadyData } from '@aqueduct/protocol';
