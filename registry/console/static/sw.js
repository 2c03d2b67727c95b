// The console's service worker: pages are fetched from the network and a copy is kept, so
// every console page opened once still opens without a network. A slow network (no answer
// within 1.5 s) gets the kept copy while the fresh one is stored for next time. The script
// is answered from the kept copy at once and refreshed behind it.
"use strict";
const CACHE = "registry-console-v1";
const PRECACHE = ["/console/offline", "/console/static/console.js"];
const SLOW_MS = 1500;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

function kept(cache, request) {
  return cache.match(request, { ignoreVary: true })
    .then((hit) => hit || cache.match(request, { ignoreVary: true, ignoreSearch: true }));
}

function fromNetwork(cache, request) {
  return fetch(request).then((response) => {
    // Never keep redirects (e.g. to the sign-in page) or errors in place of a page.
    if (response.ok && !response.redirected && response.type === "basic") {
      cache.put(request, response.clone());
    }
    return response;
  });
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (
    request.method !== "GET" ||
    url.origin !== self.location.origin ||
    !url.pathname.startsWith("/console/") ||
    url.pathname === "/console/sw.js" ||
    url.pathname === "/console/refusal" ||
    url.pathname.startsWith("/console/jobs/")
  ) {
    return;
  }
  const opened = caches.open(CACHE);
  const network = opened.then((cache) => fromNetwork(cache, request));
  if (url.pathname.startsWith("/console/static/")) {
    event.waitUntil(network.catch(() => undefined));
    event.respondWith(
      opened.then((cache) => kept(cache, request)).then((hit) => hit || network)
    );
    return;
  }
  // Keep the worker alive until the fresh copy is stored, even when the kept one answered.
  event.waitUntil(network.catch(() => undefined));
  event.respondWith(
    opened.then((cache) => {
      const fallback = () =>
        kept(cache, request).then((hit) => {
          if (hit) return hit;
          if (request.mode === "navigate") {
            return cache.match("/console/offline", { ignoreVary: true })
              .then((page) => page || Response.error());
          }
          return Response.error();
        });
      const slow = new Promise((resolve) => {
        setTimeout(() => kept(cache, request).then((hit) => hit && resolve(hit)), SLOW_MS);
      });
      return Promise.race([network.catch(fallback), slow]);
    })
  );
});
