import { z } from 'zod';
import type { ApiRoutes, ParamsSchema, ResponseSpec, RouteSpec } from './route.js';

/**
 * OpenAPI from route descriptors (route.ts): every schema is converted with `z.toJSONSchema`
 * (input side); schemas named with `.meta({ id })` become `#/components/schemas/<id>` and are
 * emitted once in `components.schemas`.
 */

type Json = Record<string, unknown>;

/** Meta keys that are not JSON Schema (validation hints, parameter-level OpenAPI fields). */
const NOT_SCHEMA = new Set(['$schema', 'errorCode', 'joinRepeated', 'example']);
const SAFE = Number.MAX_SAFE_INTEGER;

/** Rewrites `#/$defs/X` to `#/components/schemas/X`; drops non-schema keys and zod's safe-integer bounds. */
function clean(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clean);
  if (typeof value !== 'object' || value === null) return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    if (NOT_SCHEMA.has(k)) continue;
    if ((k === 'maximum' && v === SAFE) || (k === 'minimum' && v === -SAFE)) continue;
    out[k] = k === '$ref' && typeof v === 'string' ? v.replace('#/$defs/', '#/components/schemas/') : clean(v);
  }
  return out;
}

/** The schemas of one document: converts zod schemas and collects the named ones. */
export class SchemaSet {
  readonly components: Json = {};

  /** The JSON Schema of `schema` (named sub-schemas as `$ref`, added to `components`). */
  json(schema: z.ZodType): Json {
    return this.raw(schema).schema;
  }

  /** The JSON Schema and the parameter-level fields of its meta (`description`, `example`). */
  raw(schema: z.ZodType): { schema: Json; description?: string; example?: unknown } {
    const generated = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
    const { $defs, ...rest } = generated;
    for (const [name, def] of Object.entries(($defs ?? {}) as Json)) this.components[name] = clean(def);
    const { description, example } = rest as { description?: string; example?: unknown };
    return { schema: clean(rest) as Json, description, example };
  }
}

function parameters(where: 'path' | 'query' | 'header', schema: ParamsSchema | undefined, set: SchemaSet): Json[] {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const f = field as z.ZodType;
    const { schema: s, description, example } = set.raw(f);
    delete s.description;
    return {
      name, in: where, required: where === 'path' || !f.isOptional(),
      ...(description ? { description } : {}),
      schema: s,
      ...(example !== undefined ? { example } : {}),
    };
  });
}

function response(r: ResponseSpec, set: SchemaSet): Json {
  const content: Json = {};
  if (r.json) content['application/json'] = { schema: set.json(r.json) };
  for (const [type, schema] of Object.entries(r.content ?? {})) content[type] = { schema: set.json(schema) };
  const headers = r.headers
    ? Object.fromEntries(Object.entries(r.headers).map(([name, h]) => [name, { ...(h.description ? { description: h.description } : {}), schema: set.json(h.schema) }]))
    : undefined;
  return { description: r.description, ...(headers ? { headers } : {}), ...(Object.keys(content).length > 0 ? { content } : {}) };
}

/** The OpenAPI operation of one route. */
export function operationOf(spec: RouteSpec, set: SchemaSet): Json {
  const params = [...parameters('path', spec.params, set), ...parameters('query', spec.query, set), ...parameters('header', spec.headers, set)];
  const body = spec.body;
  return {
    tags: [...spec.tags],
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    ...(spec.security ? { security: spec.security } : {}),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(body
      ? { requestBody: { required: body.required ?? true, ...(body.description ? { description: body.description } : {}), content: { 'application/json': { schema: set.json(body.schema) } } } }
      : {}),
    responses: Object.fromEntries(Object.entries(spec.responses).map(([status, r]) => [status, response(r, set)])),
  };
}

/** The `HEAD` twin of a `GET` operation: same parameters and statuses, headers only. */
function headOf(get: Json): Json {
  const responses = Object.fromEntries(Object.entries(get.responses as Record<string, Json>).map(([status, r]) => {
    const { content: _content, ...rest } = r;
    return [status, rest];
  }));
  const { requestBody: _body, ...op } = get;
  return { ...op, operationId: `${String(get.operationId)}Head`, summary: `${String(get.summary)} (headers only)`, responses };
}

/** `paths` and `components.schemas` of a set of routes. */
export function pathsOf(parts: readonly ApiRoutes[], set: SchemaSet): Record<string, Json> {
  const paths: Record<string, Json> = {};
  for (const part of parts) {
    for (const schema of part.schemas ?? []) set.json(schema);
    for (const spec of part.routes) {
      const item = (paths[spec.path] ??= {});
      const op = operationOf(spec, set);
      item[spec.method] = op;
      if (spec.head) item.head = headOf(op);
      if (spec.cors === false) item['x-aqueduct-cors'] = false;
    }
  }
  return paths;
}
