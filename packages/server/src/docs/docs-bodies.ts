import { z } from 'zod';
import type { BodySpec } from '../http/body.js';

/** Request bodies of `/api/docs/:doc/...` (docs-http.ts); an empty body reads as `{}`. */

const LABEL = 'label must be a string of at most 200 characters';
const VERSION = 'body must be { "version": "<id>" }';

/** `POST /api/docs/:doc/versions`. */
export const versionBody = {
  notObject: 'body must be a JSON object',
  schema: z.object({ label: z.string({ error: LABEL }).max(200, LABEL).nullable().optional() }),
} satisfies BodySpec<z.ZodType>;

/** `POST /api/docs/:doc/restore`. */
export const restoreBody = {
  notObject: 'body must be a JSON object',
  schema: z.object({
    version: z.union([z.string({ error: VERSION }).min(1, VERSION), z.number({ error: VERSION })], { error: VERSION })
      .transform((v) => (typeof v === 'number' ? String(v) : v))
      .meta({ description: 'The version id (a number is accepted).' }),
  }),
} satisfies BodySpec<z.ZodType>;
