"""Response headers that keep personal data where it belongs.

- Pages shown to a signed-in user are never stored by the browser or a proxy (`no-store`): phones
  are shared, and the back button must not bring a household's details back after sign-out.
- No page may be framed, sniffed as another type, or leak its address to another site.
- Scripts and styles come only from this server (the app never loads anything from a CDN).
"""
from __future__ import annotations

from flask import request
from flask_login import current_user

CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def secure_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Content-Security-Policy", CSP)
    if current_user.is_authenticated and not request.path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"
    return response


def init_app(app):
    app.after_request(secure_headers)
