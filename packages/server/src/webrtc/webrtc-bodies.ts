import { z } from 'zod';
import type { BodySpec } from '../http/body.js';

const PATH = "path must be 'relay' or 'direct'";

/** `POST /api/webrtc/stats` (webrtc-http.ts): the path of an established peer connection. */
export const statsBody = {
  notObject: PATH,
  schema: z.object({ path: z.enum(['relay', 'direct'], { error: PATH }) }),
} satisfies BodySpec<z.ZodType>;
