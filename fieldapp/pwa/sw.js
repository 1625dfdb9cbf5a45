// The service worker (served at /sw.js by fieldapp/pwa/views.py, which fills in the version and
// the list of files). It only makes the app shell available offline: it precaches a versioned copy
// of the shell and answers those files from it. It never touches /api/ nor any non-GET request,
// nor the server-rendered pages (they carry personal data and are never stored), except that a
// door QR link (/d/<token>) is answered with the shell on a phone signed in to the app.
// A new version installs in the background and waits; the page asks the collector, and only their
// "update now" (a 'skipWaiting' message) lets it take over. IndexedDB is never touched here.
const VERSION = '__VERSION__';
const CACHE = `shell-${VERSION}`;
const SHELL = __SHELL__;
const SHELL_PATHS = new Set(SHELL);
const DOOR_PATH = /^\/d\/[A-Za-z0-9_-]{16,64}\/?$/;
const STATE_CACHE = 'fieldapp-state'; // written by app.js; not a 'shell-' cache, so updates keep it
const SIGNED_IN = '/app/state/signed-in';

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: 'reload' })))));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name.startsWith('shell-') && name !== CACHE) await caches.delete(name);
    await self.clients.claim(); // the first install controls the page that registered it
  })());
});

self.addEventListener('message', (event) => {
  if (event.data === 'skipWaiting') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;
  if (req.mode === 'navigate' && url.pathname.startsWith('/app/')) {
    event.respondWith(caches.open(CACHE).then((cache) => cache.match('/app/')).then((hit) => hit || fetch(req)));
    return;
  }
  // A door QR link (/d/<token>) opened by the phone's camera app: the app opens that house, offline
  // too, when this phone holds a signed-in work package (the page keeps that marker in Cache
  // Storage; the service worker never reads IndexedDB). Otherwise, and for ?public=1 (where the
  // app sends a door it does not know), the server's public door page.
  if (req.mode === 'navigate' && DOOR_PATH.test(url.pathname) && !url.search) {
    event.respondWith((async () => {
      const signedIn = await caches.open(STATE_CACHE).then((cache) => cache.match(SIGNED_IN));
      const shell = signedIn && await caches.open(CACHE).then((cache) => cache.match('/app/'));
      return shell || fetch(req);
    })());
    return;
  }
  if (SHELL_PATHS.has(url.pathname)) {
    event.respondWith(caches.open(CACHE).then((cache) => cache.match(url.pathname)).then((hit) => hit || fetch(req)));
  }
});

// Background Sync: the outbox is in the pages' hands (the key lives there); wake them up.
self.addEventListener('sync', (event) => {
  if (event.tag === 'outbox') {
    event.waitUntil(self.clients.matchAll({ type: 'window' }).then((clients) => clients.forEach((c) => c.postMessage('sync'))));
  }
});
