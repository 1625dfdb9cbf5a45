"""Response headers that keep personal data where it belongs.

- Pages shown to a signed-in user are never stored by the browser or a proxy (`no-store`): phones
  are shared, and the back button must not bring a household's details back after sign-out.
  Photos alone are `private, no-cache` (fieldapp/photoview): the browser may keep them but asks the
  server before each use, so after sign-out it gets the sign-in page, not the photo.
- No page may be framed, sniffed as another type, or leak its address to another site.
- Scripts and styles come only from this server (the app never loads anything from a CDN).
  Images too, except map tiles when a tile server is configured (MAP_TILE_URL): exactly its hosts.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request
from flask_login import current_user

CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def tile_origins(template: str, subdomains: str = "abc") -> list[str]:
    """The origins a tile URL template loads from: {s} expands to each subdomain character (as
    Leaflet does), so 'https://{s}.tile.example.org/{z}/{x}/{y}.png' names three hosts, no wildcard."""
    if not template:
        return []
    origins = []
    for sub in (subdomains if "{s}" in template else "x"):
        parts = urlsplit(template.replace("{s}", sub))
        if parts.scheme not in ("https", "http") or not parts.netloc or "{" in parts.netloc:
            raise ValueError(f"MAP_TILE_URL must be an http(s) URL template with a fixed host: {template!r}")
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in origins:
            origins.append(origin)
    return origins


def csp_for(config) -> str:
    """The policy above, with the configured tile hosts added to img-src (nothing else changes)."""
    # str(): FIELDAPP_MAP_TILE_SUBDOMAINS=1234 arrives as a number (environment values are JSON).
    hosts = tile_origins(str(config.get("MAP_TILE_URL") or ""), str(config.get("MAP_TILE_SUBDOMAINS") or "abc"))
    if not hosts:
        return CSP
    return CSP.replace("img-src 'self' data: blob:", "img-src 'self' data: blob: " + " ".join(hosts))


def secure_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Content-Security-Policy", current_app.extensions.get("fieldapp.csp", CSP))
    # The path first: a static file needs no session lookup (nor its database query).
    # Photos say `private` themselves (photoview: kept, but asked for again before each use).
    if (not request.path.startswith("/static/") and current_user.is_authenticated
            and "private" not in headers.get("Cache-Control", "")):
        headers["Cache-Control"] = "no-store"
    return response


def init_app(app):
    app.extensions["fieldapp.csp"] = csp_for(app.config)  # a bad tile URL fails at start, not per page
    app.after_request(secure_headers)
