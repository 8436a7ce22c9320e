"""The dashboard: server-rendered pages (Jinja2) with progressive enhancement (htmx, a little Alpine.js),
served by the API's own process. A web layer like the API routers: it calls the same services."""
