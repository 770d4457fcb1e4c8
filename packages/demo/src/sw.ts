/**
 * The demo's service worker (served as `/sw.js`): keeps the app shell — the page, its bundle, its
 * CSS and icon — in the Cache Storage so that the page also loads without network. Network first
 * (a deploy is picked up at once), the cached copy when the network fails. Only the shell: the
 * API, SSE, WebSocket and document traffic is never cached (the SDK's IndexedDB storage covers the
 * data). One cache, replaced as a whole by the next version of this file.
 */

/** The slice of the service worker global scope used here (the DOM lib has no WebWorker types). */
interface ExtendableEvent extends Event { waitUntil(p: Promise<unknown>): void }
interface FetchEvent extends ExtendableEvent { readonly request: Request; respondWith(r: Promise<Response>): void }
interface WorkerScope {
  addEventListener(type: 'install' | 'activate', fn: (ev: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', fn: (ev: FetchEvent) => void): void;
  skipWaiting(): Promise<void>;
  readonly clients: { claim(): Promise<void> };
  readonly location: Location;
}

const sw = self as unknown as WorkerScope;
const CACHE = 'aqueduct-demo-shell-v1';
/** The app shell: every request for these (and every page navigation, as `/`) is cached. */
const SHELL = ['/', '/build/demo.js', '/style.css', '/favicon.svg'];

sw.addEventListener('install', (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => sw.skipWaiting()));
});

sw.addEventListener('activate', (ev) => {
  ev.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await sw.clients.claim();
  })());
});

sw.addEventListener('fetch', (ev) => {
  const req = ev.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== sw.location.origin) return;
  // A demo page with any query (`/?room=x`) is the same shell.
  const key = req.mode === 'navigate' && (url.pathname === '/' || url.pathname === '/index.html') ? '/' : SHELL.includes(url.pathname) ? url.pathname : undefined;
  if (!key) return;
  ev.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const res = await fetch(req);
      if (res.ok) await cache.put(key, res.clone());
      return res;
    } catch (err) {
      const cached = await cache.match(key);
      if (cached) return cached;
      throw err;
    }
  })());
});
