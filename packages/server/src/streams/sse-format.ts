/**
 * Pure text/event-stream formatting (WHATWG HTML §9.2 "Server-sent events"). No I/O.
 *
 * A field value may not contain CR or LF: `data` is split into one `data:` line per line (the
 * client joins them with `\n`), and single-line fields (`event`, `id`) have line breaks removed so
 * no input can inject fields or events.
 */

const LINE_BREAK = /\r\n|\r|\n/;
const LINE_BREAKS = /[\r\n]/g;

/** The `data:` lines of an event, each ending in `\n`. */
export function dataLines(data: string): string {
  let out = '';
  for (const line of data.split(LINE_BREAK)) out += `data: ${line}\n`;
  return out;
}

/** A single-line field (`event`, `id`); line breaks and NUL (which makes clients drop an id) removed. */
export function field(name: 'event' | 'id', value: string): string {
  return `${name}: ${value.replace(LINE_BREAKS, '').replace(/\0/g, '')}\n`;
}

/** A complete event: optional `event:`, `data:` lines, optional `id:`, then the blank line. */
export function formatEvent(fields: { event?: string; data: string; id?: string }): string {
  let out = fields.event !== undefined && fields.event !== 'message' ? field('event', fields.event) : '';
  out += dataLines(fields.data);
  if (fields.id !== undefined) out += field('id', fields.id);
  return out + '\n';
}

/** The reconnection delay the client should use, in ms. */
export function retryField(ms: number): string {
  return `retry: ${Math.max(0, Math.floor(ms))}\n\n`;
}

/** A comment line (ignored by clients; keeps proxies from closing an idle stream). */
export function comment(text: string): string {
  return `: ${text.replace(LINE_BREAKS, ' ')}\n\n`;
}
