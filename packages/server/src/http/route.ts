import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { type BodySpec, issueError } from './body.js';

/**
 * One HTTP operation, described once: its path parameters, query, headers, body and responses are
 * zod schemas. The route's handler validates its input with the same schemas (`parseQuery`,
 * `parseParams`, `parseHeaders`, `parseBody`), and `/api/openapi.json` is generated from the
 * descriptors (openapi-gen.ts), so the document cannot drift from the checks.
 *
 * Parameter schemas are `z.object`s whose fields carry their OpenAPI text in `.meta()`
 * (`description`, `example`; `errorCode` for a failure other than BAD_REQUEST).
 */

export type Method = 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete' | 'options';
/** OpenAPI security requirements (names of `components.securitySchemes`). */
export type Security = ReadonlyArray<Readonly<Record<string, readonly string[]>>>;
/** Parameter schemas: an object of (optional) fields. */
export type ParamsSchema = z.ZodObject<z.ZodRawShape>;

export interface ResponseSpec {
  description: string;
  /** An `application/json` body. */
  json?: z.ZodType;
  /** Other media types and their schemas. */
  content?: Readonly<Record<string, z.ZodType>>;
  /** Response headers. */
  headers?: Readonly<Record<string, { schema: z.ZodType; description?: string }>>;
}

export interface RouteSpec {
  method: Method;
  /** OpenAPI path template (`/api/rooms/{room}/history`). */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: readonly string[];
  /** Default: the document's (any credential). */
  security?: Security;
  params?: ParamsSchema;
  query?: ParamsSchema;
  /** Request headers (field names as sent, e.g. `Last-Event-ID`; matched case-insensitively). */
  headers?: ParamsSchema;
  body?: BodySpec<z.ZodType> & { required?: boolean; description?: string };
  responses: Readonly<Record<number, ResponseSpec>>;
  /** The same route also answers HEAD (documented as its headers-only twin `<operationId>Head`). */
  head?: boolean;
  /** false: not behind the CORS layer (no `OPTIONS` operation is documented for it). */
  cors?: false;
}

/** A part's routes and the tags they use, added to the node's document with `NodeHost.addOpenApi`. */
export interface ApiRoutes {
  routes: readonly RouteSpec[];
  tags?: ReadonlyArray<{ name: string; description: string }>;
  /** Named schemas (`.meta({ id })`) documented in `components` although no route refers to them (e.g. SSE event payloads). */
  schemas?: readonly z.ZodType[];
}

/** Declares one operation (a typed identity: the literal types of its schemas are kept). */
export function route<const S extends RouteSpec>(spec: S): S {
  return spec;
}

type Shape<S extends ParamsSchema | undefined> = S extends ParamsSchema ? z.output<S> : Record<string, never>;

/** Validates `input` against a parameter object; HttpError 400 (or the field's `errorCode`) with the first issue. */
function parseFields<S extends ParamsSchema>(schema: S, input: Record<string, string | undefined>): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw issueError(schema, result.error.issues[0]);
}

/**
 * The route's query, validated. Each field takes the first value of its name; a field with
 * `.meta({ joinRepeated: true })` takes every value, joined with `,` (`?rooms=a&rooms=b,c`).
 */
export function parseQuery<S extends RouteSpec>(spec: S, url: URL): Shape<S['query']> {
  const schema = spec.query;
  if (!schema) return {} as Shape<S['query']>;
  const input: Record<string, string | undefined> = {};
  for (const [name, field] of Object.entries(schema.shape)) {
    const values = url.searchParams.getAll(name);
    if (values.length === 0) continue;
    input[name] = z.globalRegistry.get(field as z.ZodType)?.joinRepeated === true ? values.join(',') : values[0];
  }
  return parseFields(schema, input) as Shape<S['query']>;
}

/** The route's path parameters (already decoded by the router), validated. */
export function parseParams<S extends RouteSpec>(spec: S, params: Record<string, string | undefined>): Shape<S['params']> {
  return (spec.params ? parseFields(spec.params, params) : {}) as Shape<S['params']>;
}

/** The route's documented request headers, validated (absent and repeated headers read as undefined / the first). */
export function parseHeaders<S extends RouteSpec>(spec: S, req: IncomingMessage): Shape<S['headers']> {
  const schema = spec.headers;
  if (!schema) return {} as Shape<S['headers']>;
  const input: Record<string, string | undefined> = {};
  for (const name of Object.keys(schema.shape)) {
    const v = req.headers[name.toLowerCase()];
    input[name] = Array.isArray(v) ? v[0] : v;
  }
  return parseFields(schema, input) as Shape<S['headers']>;
}

/**
 * A non-negative integer query parameter: absent or empty → `fallback`; otherwise at most `max`
 * (larger values are capped, not refused). Documented as an integer.
 */
export function intQuery(name: string, fallback: number, max: number, opts: { capFallback?: boolean; description?: string } = {}) {
  const message = `${name} must be a non-negative integer`;
  const dflt = opts.capFallback === false ? fallback : Math.min(fallback, max);
  return z.preprocess(
    (v) => (v === undefined || v === '' ? undefined : typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : v),
    z.number({ error: message }).int(message).min(0, message).optional().transform((n) => (n === undefined ? dflt : Math.min(n, max))),
  ).meta({ description: opts.description ?? `Default ${fallback}; larger values are capped at ${max}.` });
}

declare module 'zod' {
  interface GlobalMeta {
    /** Query fields: every value of a repeated parameter, joined with `,`. */
    joinRepeated?: boolean;
    /** OpenAPI example of a parameter. */
    example?: unknown;
  }
}
