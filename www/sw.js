// The service worker: keeps the page itself (HTML, JS, CSS, wasm, vendor modules) for offline use.
// Network first: while the server answers, every request goes to it (a rebuild is never hidden
// behind an old copy) and the copy is refreshed; only when the network fails is the copy served.
// The data sets are not handled here: worker.js (data.js) keeps them in its own cache, checked
// against their manifest. Registered by main.js; see docs/web.md ("Offline").
//
// scripts/build.sh replaces the two placeholders in dist/sw.js: the build's id (a hash of the
// files, so each build has its own cache and changed bytes make the browser install the new
// service worker) and the list of files to keep, one a line.

const BUILD = '__SAMLAB_BUILD__';
const SHELL_FILES = '__SAMLAB_SHELL__'.split('\n');
const CACHE_PREFIX = 'samlab-shell-';
const SHELL_CACHE = `${CACHE_PREFIX}${BUILD}`;
/** Not built (www/ served as it is): nothing to keep. */
const BUILT = !BUILD.startsWith('__');
const scope = new URL(self.registration.scope);
const shellUrls = new Set(SHELL_FILES.map((file) => new URL(file, scope).href));

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    if (BUILT) {
      const cache = await caches.open(SHELL_CACHE);
      // (no-cache: revalidate with the server rather than take the HTTP cache's copy)
      await cache.addAll(SHELL_FILES.map((file) => new Request(new URL(file, scope), { cache: 'no-cache' })));
    }
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(CACHE_PREFIX) && name !== SHELL_CACHE) await caches.delete(name);
    }
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (!BUILT || request.method !== 'GET') return;
  const url = new URL(request.url);
  url.search = '';
  url.hash = '';
  // Only the page's own files; the data sets (data/) and anything else go to the network as usual.
  if (!shellUrls.has(url.href)) return;
  event.respondWith(networkFirst(request, url.href));
});

async function networkFirst(request, key) {
  try {
    const response = await fetch(request);
    if (response.ok && shellUrls.has(key)) {
      const copy = response.clone();
      caches.open(SHELL_CACHE).then((cache) => cache.put(key, copy)).catch(() => {});
    }
    return response;
  } catch (err) {
    const copy = await (await caches.open(SHELL_CACHE)).match(key);
    if (copy) return copy;
    throw err;
  }
}
