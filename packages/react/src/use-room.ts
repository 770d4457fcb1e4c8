import { useCallback, useEffect, useRef, useState } from 'react';
import type { AqueductError, ResetInfo, Room, RoomMessage, RoomOptions } from '@aqueduct/client';
import { useClient } from './provider.js';
import { retainRoom } from './room-refs.js';

export interface UseRoomOptions<Msg> extends Pick<RoomOptions, 'history'> {
  /** Messages kept in `messages` (the latest ones). Default 100; 0 keeps none (use `onMessage`). */
  maxMessages?: number;
  /** Called for every delivered message (the latest callback is used; no re-subscribe). */
  onMessage?: (msg: RoomMessage<Msg>) => void;
  /** Called when missed messages could not be recovered: reload the room's state. */
  onReset?: (info: ResetInfo) => void;
}

export interface UseRoomResult<Msg> {
  /** The room handle (shared with every other user of the same room on this client); set once mounted. */
  room: Room<Msg> | undefined;
  /** The latest messages, oldest first (bounded by `maxMessages`). */
  messages: RoomMessage<Msg>[];
  /** Whether the room is joined now (false while reconnecting). */
  joined: boolean;
  /** The last error: a refused join (PERMISSION_DENIED...) or a final close (CLOSED, with `closeCode`). */
  error: AqueductError | undefined;
  /** Publishes a typed message; resolves on the server's ack (queued while offline). */
  publish: (data: Msg, options?: { event?: string }) => ReturnType<Room<Msg>['publish']>;
}

const DEFAULT_MAX_MESSAGES = 100;

/**
 * Joins `name` while the component is mounted and re-renders on its messages. `Msg` types the
 * payloads (`client.room<Msg>()`); the room is left when its last user unmounts.
 */
export function useRoom<Msg = unknown>(name: string, options: UseRoomOptions<Msg> = {}): UseRoomResult<Msg> {
  const client = useClient();
  const max = options.maxMessages ?? DEFAULT_MAX_MESSAGES;
  const handlers = useRef(options);
  handlers.current = options;
  const [messages, setMessages] = useState<RoomMessage<Msg>[]>([]);
  const [joined, setJoined] = useState(false);
  const [error, setError] = useState<AqueductError | undefined>(undefined);
  const [room, setRoom] = useState<Room<Msg> | undefined>(undefined);
  const history = options.history;

  useEffect(() => {
    const room = client.room<Msg>(name, history ? { history } : {});
    const release = retainRoom(client, name);
    setRoom(room);
    setMessages([]);
    setJoined(room.isJoined);
    setError(undefined);
    let live = true;
    const offs = [
      room.on('message', (msg) => {
        handlers.current.onMessage?.(msg);
        if (max > 0) setMessages((prev) => (prev.length >= max ? [...prev.slice(prev.length - max + 1), msg] : [...prev, msg]));
      }),
      room.on('joined', () => { setJoined(true); setError(undefined); }),
      room.on('reset', (info) => handlers.current.onReset?.(info)),
      room.on('error', (err) => setError(err)),
      client.on('disconnected', () => setJoined(false)),
    ];
    room.ready().then(() => { if (live) setJoined(true); }, (err: AqueductError) => { if (live) setError(err); });
    return () => {
      live = false;
      for (const off of offs) off();
      release();
    };
  }, [client, name, max, history]);

  const publish = useCallback(
    (data: Msg, opts?: { event?: string }) => client.room<Msg>(name).publish(data, opts),
    [client, name],
  );
  return { room, messages, joined, error, publish };
}
