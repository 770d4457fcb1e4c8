export { AqueductProvider, useClient, type AqueductProviderProps, type DocSettings } from './provider.js';
export { useRoom, type UseRoomOptions, type UseRoomResult } from './use-room.js';
export { usePresence } from './use-presence.js';
export { useDoc, type UseDocOptions, type UseDocResult, type DocStatus } from './use-doc.js';
