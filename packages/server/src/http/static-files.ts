import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

/** Content types of the files the demo ships. Anything else is served as octet-stream. */
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

interface CachedFile { mtimeMs: number; size: number; body: Buffer; etag: string }

/**
 * Serves files from one directory: GET/HEAD only, no directory listing, no path escaping the
 * root, strong ETags with 304 answers. Files are not content-hashed, so every response says
 * `no-cache` (revalidate each time; the 304 makes that cheap). Bodies are cached in memory up to
 * `maxCachedFiles` entries (the demo ships a handful).
 */
export class StaticFiles {
  private readonly cache = new Map<string, CachedFile>();

  constructor(private readonly root: string, private readonly maxCachedFiles = 64, private readonly maxFileBytes = 16 * 1024 * 1024) {}

  /** Resolves a URL path inside the root, or undefined when it is not a plain file path there. */
  resolve(urlPath: string): string | undefined {
    let decoded: string;
    try { decoded = decodeURIComponent(urlPath); } catch { return undefined; }
    if (decoded.includes('\0') || decoded.split('/').some((part) => part === '..' || part.startsWith('.') && part.length > 0)) return undefined;
    const full = normalize(join(this.root, decoded));
    return full.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep) ? full : undefined;
  }

  /** Serves `urlPath` (relative to the root); resolves false when there is no such file. */
  async serve(req: IncomingMessage, res: ServerResponse, urlPath: string, headers: Record<string, string> = {}): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = this.resolve(urlPath);
    if (!path) return false;
    const file = await this.load(path);
    if (!file) return false;
    const common = { ETag: file.etag, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff', ...headers };
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, common);
      res.end();
      return true;
    }
    res.writeHead(200, { ...common, 'Content-Type': contentTypeOf(path), 'Content-Length': file.size });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  }

  private async load(path: string): Promise<CachedFile | undefined> {
    let info;
    try { info = await stat(path); } catch { return undefined; }
    if (!info.isFile() || info.size > this.maxFileBytes) return undefined;
    const hit = this.cache.get(path);
    if (hit && hit.mtimeMs === info.mtimeMs && hit.size === info.size) return hit;
    const body = await readFile(path);
    const file: CachedFile = { mtimeMs: info.mtimeMs, size: body.length, body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
    this.cache.delete(path);
    this.cache.set(path, file);
    if (this.cache.size > this.maxCachedFiles) this.cache.delete(this.cache.keys().next().value as string);
    return file;
  }
}
