"""The cooperative console at /console/: member logins and sessions, server-rendered pages
(zh / en, phone first) and an offline outbox kept by a service worker and IndexedDB.
`registry.console.setup.install(app)` adds it to the app."""
