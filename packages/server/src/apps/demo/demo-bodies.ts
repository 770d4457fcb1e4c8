import { z } from 'zod';
import type { BodySpec } from '../../http/body.js';
import { LIVE_ROLES } from './demo-roles.js';

const NAME_RE = /^[\p{L}\p{N} _.'-]{1,32}$/u;
const USER = 'user must look like "demo-" followed by 6-32 lowercase letters or digits';
const NAME = "name must be 1-32 letters, digits, spaces or _ . ' -";
const COLOR = 'color must be #rrggbb';
const ROLE = `role must be one of ${LIVE_ROLES.join(', ')}`;

/** `POST /api/demo/token` (demo.ts): every field optional; missing ones are generated. */
export const tokenBody = {
  notObject: 'body must be a JSON object',
  schema: z.object({
    user: z.string({ error: USER }).regex(/^demo-[a-z0-9]{6,32}$/, USER).optional().meta({ description: 'Reuse an id (the page keeps it in sessionStorage).' }),
    name: z.string({ error: NAME }).refine((v) => NAME_RE.test(v.trim()), NAME).transform((v) => v.trim()).optional()
      .meta({ description: "1-32 letters, digits, space, _ . ' - (surrounding spaces are trimmed)" }),
    color: z.string({ error: COLOR }).regex(/^#[0-9a-fA-F]{6}$/, COLOR).transform((v) => v.toLowerCase()).optional(),
    role: z.enum(LIVE_ROLES, { error: ROLE }).optional()
      .meta({ description: 'A role of the live-stream app (`/live`): adds its media grant on `demo:live-*` (host, cohost: `media`; viewer: `media:subscribe`).' }),
  }),
} satisfies BodySpec<z.ZodType>;
