import { z } from 'zod';
import { isValidRoomName } from '@aqueduct/protocol';
import type { Config } from '../config.js';
import { Origin } from '../http/api-routes.js';
import { authErrors, errorResponse } from '../http/openapi-common.js';
import { intQuery, route } from '../http/route.js';

/**
 * `GET /api/events` (sse-route.ts) and `GET /api/poll` (poll.ts): their query schemas validate the
 * requests, and with the event schemas below they are the routes' OpenAPI.
 */

const ROOMS_REQUIRED = 'rooms is required: ?rooms=room1,room2';

/** `?rooms=a,b` (or repeated `rooms=`): deduplicated, validated, in the order given; at most `maxRooms`. */
export function roomsQuery(maxRooms: number) {
  return z.string({ error: ROOMS_REQUIRED }).transform((raw, ctx) => {
    const rooms: string[] = [];
    for (const part of raw.split(',')) {
      const room = part.trim();
      if (room === '') continue;
      const shown = JSON.stringify(room.slice(0, 64));
      if (!isValidRoomName(room)) {
        ctx.addIssue({ code: 'custom', message: `invalid room name ${shown}`, params: { errorCode: 'INVALID_ROOM' } });
        return z.NEVER;
      }
      if (!rooms.includes(room)) rooms.push(room);
      if (rooms.length > maxRooms) {
        ctx.addIssue({ code: 'custom', message: `at most ${maxRooms} rooms per stream`, params: { errorCode: 'TOO_MANY_ROOMS' } });
        return z.NEVER;
      }
    }
    if (rooms.length === 0) {
      ctx.addIssue({ code: 'custom', message: ROOMS_REQUIRED });
      return z.NEVER;
    }
    return rooms;
  }).meta({
    joinRepeated: true,
    description: `Comma-separated room names (at most \`sse.maxRoomsPerStream\`, ${maxRooms}). The token needs \`sub\` in each.`,
    example: 'news:global,orders:42',
  });
}

const tokenQuery = z.string().optional()
  .meta({ description: 'A user token, for clients that cannot set headers (EventSource). Prefer the Authorization header elsewhere.' });

const position = z.object({ epoch: z.string(), offset: z.int() });
export const SseMessage = z.object({
  room: z.string(), epoch: z.string().optional(), offset: z.int().optional(), event: z.string().optional(),
  data: z.unknown(), from: Origin.optional(), volatile: z.literal(true).optional(),
}).meta({ id: 'SseMessage', description: 'The `data:` of a publication event. Volatile ones have no epoch/offset and no `id:`.' });
export const SseReset = z.object({ room: z.string(), epoch: z.string(), offset: z.int() }).meta({ id: 'SseReset' });
export const SseReady = z.object({ rooms: z.record(z.string(), position) }).meta({ id: 'SseReady' });
export const SseDisconnect = z.object({ code: z.int(), reason: z.string(), reconnect: z.boolean() }).meta({ id: 'SseDisconnect' });
const PollEvent = z.union([
  z.intersection(SseMessage, z.object({ type: z.literal('message'), id: z.string().optional() })),
  z.intersection(SseReset, z.object({ type: z.literal('reset'), id: z.string() })),
  z.intersection(SseDisconnect, z.object({ type: z.literal('disconnect') })),
]).meta({ id: 'PollEvent' });
/** The SSE event payloads (`data:` of `message`, `reset`, `ready`, `disconnect`), documented as components. */
export const streamSchemas = [SseMessage, SseReset, SseReady, SseDisconnect];
const PollResult = z.object({ cursor: z.string(), events: z.array(PollEvent), more: z.boolean() }).meta({ id: 'PollResult' });

export function streamRoutes(config: Config) {
  const { sse, limits } = config;
  const events = route({
    method: 'get', path: '/api/events', tags: ['streams'], operationId: 'streamEvents',
    summary: 'Server-Sent Events stream of one or more rooms, resumable by Last-Event-ID',
    description:
      'Each publication is one event: `event:` (its event name, default `message`; all are `message` with `named=0`), ' +
      '`data:` (JSON, see SseMessage) and `id:` (the cursor of every room after this event). ' +
      'Control events: `ready` (replay done, see SseReady), `reset` (history does not cover the id for a room, see SseReset), ' +
      `\`disconnect\` (the server ends the stream, see SseDisconnect). \`retry: ${sse.retryMs}\` is sent once; a \`: ping\` comment ` +
      `every ${sse.heartbeatMs} ms of silence. A reader more than ${sse.bufferBytes} bytes behind is closed (it resumes by id).`,
    query: z.object({
      rooms: roomsQuery(sse.maxRoomsPerStream),
      lastEventId: z.string().optional().meta({ description: 'Resume after this event id (for clients that cannot set the header).' }),
      named: z.string().optional().meta({ description: '`0`: send every publication as `event: message` (its name stays in the JSON); any other value: named events.' }),
      token: tokenQuery,
    }),
    headers: z.object({
      'Last-Event-ID': z.string().optional().meta({ description: 'Resume after this event id (sent by EventSource on reconnect; wins over `lastEventId`).' }),
    }),
    responses: {
      200: {
        description: 'The event stream (`Cache-Control: no-store`, `X-Accel-Buffering: no`).',
        headers: { 'Cache-Control': { schema: z.literal('no-store') }, 'X-Accel-Buffering': { schema: z.literal('no') } },
        content: { 'text/event-stream': z.string().meta({ description: 'text/event-stream; see SseMessage, SseReset, SseReady, SseDisconnect.' }) },
      },
      400: errorResponse('BAD_REQUEST (malformed or forged Last-Event-ID, missing rooms), INVALID_ROOM, TOO_MANY_ROOMS'),
      ...authErrors,
      429: errorResponse(`RATE_LIMITED: more than ${sse.maxStreamsPerUser} open streams for this user`),
      503: errorResponse('UNAVAILABLE: node at its connection limit, or broker down; HOOK_FAILED: a backend hook failed (fail closed)'),
    },
  });
  const poll = route({
    method: 'get', path: '/api/poll', tags: ['streams'], operationId: 'poll', summary: 'Long polling with the same cursor semantics as SSE',
    description:
      'Without `cursor`: answers at once with the current cursor. With one: answers at once when something is newer ' +
      `(or a room must be reset), otherwise holds until the first live event or \`timeoutMs\` (default and maximum ${sse.pollTimeoutMs} ms).`,
    query: z.object({
      rooms: roomsQuery(sse.maxRoomsPerStream),
      cursor: z.string().optional().meta({ description: 'The `cursor` of the previous answer, or an SSE event id.' }),
      timeoutMs: intQuery('timeoutMs', sse.pollTimeoutMs, sse.pollTimeoutMs),
      limit: intQuery('limit', limits.maxHistoryLimit, limits.maxHistoryLimit, { description: `Most events per answer (at least 1; default and cap ${limits.maxHistoryLimit}).` }),
      token: tokenQuery,
    }),
    responses: {
      200: { description: 'Events after the cursor (possibly none after the timeout).', json: PollResult },
      400: errorResponse('BAD_REQUEST (malformed or forged cursor), INVALID_ROOM, TOO_MANY_ROOMS'),
      ...authErrors,
      429: errorResponse('RATE_LIMITED: too many open streams for this user'),
      503: errorResponse('UNAVAILABLE; HOOK_FAILED: a backend hook failed (fail closed)'),
    },
  });
  return { events, poll };
}
