import { z } from 'zod';
import { MAX_CID_LENGTH, MAX_EVENT_NAME_LENGTH, isValidRoomName } from '@aqueduct/protocol';
import type { BodySpec } from './body.js';

/** Request bodies of the room API (http-api.ts); validated with `parseBody`, documented with `bodySchema`. */

const ROOM = 'room must be a valid room name';
const EVENT = `event must be a single-line string of 1..${MAX_EVENT_NAME_LENGTH} characters`;
/** Also the message for a bad `Idempotency-Key` header. */
export const IDEMPOTENCY_KEY_MESSAGE = `idempotencyKey must be a string of 1..${MAX_CID_LENGTH} characters`;

/** `POST /api/publish`. */
export const publishBody = {
  notObject: 'body must be a JSON object',
  schema: z.object({
    room: z.string({ error: ROOM }).min(1, ROOM).max(200, ROOM).refine(isValidRoomName, ROOM).meta({ errorCode: 'INVALID_ROOM' }),
    data: z.custom<unknown>((v) => v !== undefined, { error: 'data is required' }).meta({ description: 'Any JSON value.' }),
    event: z.string({ error: EVENT }).min(1, EVENT).max(MAX_EVENT_NAME_LENGTH, EVENT).refine((v) => !/[\r\n\0]/.test(v), EVENT).optional(),
    volatile: z.boolean({ error: 'volatile must be a boolean' }).optional().meta({ description: 'Not stored, no position, dropped first under backpressure.' }),
    idempotencyKey: z.string({ error: IDEMPOTENCY_KEY_MESSAGE }).min(1, IDEMPOTENCY_KEY_MESSAGE).max(MAX_CID_LENGTH, IDEMPOTENCY_KEY_MESSAGE).optional(),
  }),
} satisfies BodySpec<z.ZodType>;

const DISCONNECT = 'body must be { "user": "<token sub>" }';

/** `POST /api/rooms/:room/disconnect`. */
export const disconnectBody = {
  notObject: DISCONNECT,
  schema: z.object({
    user: z.string({ error: DISCONNECT }).min(1, DISCONNECT).max(256, DISCONNECT).meta({ description: 'The token `sub`.' }),
  }),
} satisfies BodySpec<z.ZodType>;
