import { z } from 'zod';
import { HttpError } from './http-util.js';

/**
 * Request bodies are zod schemas: the same schema validates the request (`parseBody`) and is the
 * `requestBody` of `/api/openapi.json` (`bodySchema`), so the document cannot drift from the check.
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

function errorCodeOf(schema: z.ZodType, path: PropertyKey[]): string {
  let s: z.ZodType | undefined = schema;
  for (const key of path) {
    const shape: Record<string, z.ZodType> | undefined = (s as { shape?: Record<string, z.ZodType> } | undefined)?.shape;
    s = shape?.[String(key)];
  }
  const meta = s ? z.globalRegistry.get(s) : undefined;
  return typeof meta?.errorCode === 'string' ? meta.errorCode : 'BAD_REQUEST';
}

/** Validates a parsed JSON body; HttpError 400 (or the field's `errorCode`) with the first issue otherwise. */
export function parseBody<T extends z.ZodType>(spec: BodySpec<T>, body: unknown): z.output<T> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'BAD_REQUEST', spec.notObject);
  const result = spec.schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new HttpError(400, errorCodeOf(spec.schema, issue.path), issue.message);
}

/** The JSON Schema of a body, for the OpenAPI document (input side; no `$schema`, no zod-only keys). */
export function bodySchema(spec: BodySpec<z.ZodType>): Record<string, unknown> {
  const json = z.toJSONSchema(spec.schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return strip(json) as Record<string, unknown>;
}

/** Drops `$schema` and the `errorCode` meta (not JSON Schema) everywhere in a generated schema. */
function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (k !== '$schema' && k !== 'errorCode') out[k] = strip(v);
  return out;
}

declare module 'zod' {
  interface GlobalMeta {
    /** The error code of a request field's validation failure (default BAD_REQUEST). */
    errorCode?: string;
  }
}
