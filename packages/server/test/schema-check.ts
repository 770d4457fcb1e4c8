/**
 * A small JSON Schema (2020-12 subset) checker for the schemas of `/api/openapi.json`: `$ref` into
 * `#/components/schemas`, allOf / anyOf / oneOf, type (incl. lists and `integer`), const, enum,
 * required, properties, additionalProperties, items, minimum / maximum, minLength / maxLength,
 * pattern. Returns the problems found (empty: the value matches).
 */
type Schema = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeMatches(type: string, v: unknown): boolean {
  switch (type) {
    case 'null': return v === null;
    case 'boolean': return typeof v === 'boolean';
    case 'string': return typeof v === 'string';
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'array': return Array.isArray(v);
    case 'object': return isObject(v);
    default: return false;
  }
}

export function checkSchema(doc: Record<string, unknown>, schema: unknown, value: unknown, at = '$'): string[] {
  if (schema === true || schema === undefined) return [];
  if (schema === false) return [`${at}: not allowed`];
  const s = schema as Schema;
  const problems: string[] = [];
  if (typeof s.$ref === 'string') {
    const name = s.$ref.replace('#/components/schemas/', '');
    const target = ((doc.components as Schema).schemas as Schema)[name];
    if (target === undefined) return [`${at}: unresolved ${s.$ref}`];
    problems.push(...checkSchema(doc, target, value, at));
  }
  for (const sub of (s.allOf as unknown[] | undefined) ?? []) problems.push(...checkSchema(doc, sub, value, at));
  if (Array.isArray(s.anyOf) && !s.anyOf.some((sub) => checkSchema(doc, sub, value, at).length === 0)) problems.push(`${at}: matches none of anyOf`);
  if (Array.isArray(s.oneOf)) {
    const n = s.oneOf.filter((sub) => checkSchema(doc, sub, value, at).length === 0).length;
    if (n !== 1) problems.push(`${at}: matches ${n} of oneOf (needs exactly 1)`);
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => typeMatches(t, value))) return [...problems, `${at}: ${JSON.stringify(value)?.slice(0, 80)} is not ${types.join(' | ')}`];
  }
  if ('const' in s && JSON.stringify(s.const) !== JSON.stringify(value)) problems.push(`${at}: expected ${JSON.stringify(s.const)}`);
  if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) problems.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(s.enum)}`);
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) problems.push(`${at}: below ${s.minimum}`);
    if (typeof s.maximum === 'number' && value > s.maximum) problems.push(`${at}: above ${s.maximum}`);
  }
  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && value.length < s.minLength) problems.push(`${at}: shorter than ${s.minLength}`);
    if (typeof s.maxLength === 'number' && value.length > s.maxLength) problems.push(`${at}: longer than ${s.maxLength}`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) problems.push(`${at}: does not match ${s.pattern}`);
  }
  if (isObject(value)) {
    for (const key of (s.required as string[] | undefined) ?? []) if (!(key in value)) problems.push(`${at}: missing required "${key}"`);
    const props = (s.properties as Schema | undefined) ?? {};
    for (const [key, v] of Object.entries(value)) {
      if (key in props) problems.push(...checkSchema(doc, props[key], v, `${at}.${key}`));
      else if (s.additionalProperties !== undefined) problems.push(...checkSchema(doc, s.additionalProperties, v, `${at}.${key}`));
    }
  }
  if (Array.isArray(value) && s.items !== undefined) value.forEach((v, i) => problems.push(...checkSchema(doc, s.items, v, `${at}[${i}]`)));
  return problems;
}
