import { z } from 'zod';
import { HttpError } from './http-util.js';

/**
 * Request bodies are zod schemas: the same schema validates the request (`parseBody`) and is the
 * request body of its route in `/api/openapi.json` (route.ts, openapi-gen.ts).
 *
 * Errors: the first issue (in the schema's field order) becomes HttpError 400 with the issue's
 * message; a field may name its own error code with `.meta({ errorCode })` (e.g. INVALID_ROOM).
 */

/** Object schemas whose non-object input gets `notObject` as its message. */
export interface BodySpec<T extends z.ZodType> {
  schema: T;
  /** Message when the body is not a JSON object at all. */
  notObject: string;
}

function errorCodeOf(schema: z.ZodType, issue: z.core.$ZodIssue): string {
  const own = issue.code === 'custom' ? (issue.params as { errorCode?: unknown } | undefined)?.errorCode : undefined;
  if (typeof own === 'string') return own;
  let s: z.ZodType | undefined = schema;
  for (const key of issue.path) {
    const shape: Record<string, z.ZodType> | undefined = (s as { shape?: Record<string, z.ZodType> } | undefined)?.shape;
    s = shape?.[String(key)];
  }
  const meta = s ? z.globalRegistry.get(s) : undefined;
  return typeof meta?.errorCode === 'string' ? meta.errorCode : 'BAD_REQUEST';
}

/**
 * The HttpError of a validation issue: 400 with the issue's message; the code is the issue's own
 * (`ctx.addIssue({ code: 'custom', params: { errorCode } })`), else its field's `errorCode` meta, else BAD_REQUEST.
 */
export function issueError(schema: z.ZodType, issue: z.core.$ZodIssue): HttpError {
  return new HttpError(400, errorCodeOf(schema, issue), issue.message);
}

/** Validates a parsed JSON body; HttpError 400 (or the field's `errorCode`) with the first issue otherwise. */
export function parseBody<T extends z.ZodType>(spec: BodySpec<T>, body: unknown): z.output<T> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'BAD_REQUEST', spec.notObject);
  const result = spec.schema.safeParse(body);
  if (result.success) return result.data;
  throw issueError(spec.schema, result.error.issues[0]);
}

declare module 'zod' {
  interface GlobalMeta {
    /** The error code of a request field's validation failure (default BAD_REQUEST). */
    errorCode?: string;
  }
}
