"""Route handlers: pages (server-rendered, htmx) and the JSON API."""
