"""The shell version: a hash of what the shell serves, in every language.

A phone only hears of a new shell when /sw.js changes, and /sw.js only changes with this version.
So the version is taken from the rendered output, not from a list of source files: the shell HTML
carries the forms' labels and choices, the required-field messages and the scripts' strings, all
of which come from Python classes and the message catalogs, and any of them changing must offer
phones an update. Every language is rendered, because a phone caches the shell in its user's one.

The hash must be the same in every worker and on every server behind the proxy (or phones would be
offered an "update" on each request that lands elsewhere), so what is hashed is deterministic:
  - the version itself is rendered as a placeholder (it cannot be part of its own hash);
  - per-request values (CSRF tokens, CSP nonces) are blanked, should a template ever render one;
  - it is rendered in a fresh application context, so nothing of the request being answered (its
    user, its session, its `g`) can leak in.
It is computed once per process and app, on first use (not at start: most processes and tests never
serve the shell)."""
from __future__ import annotations

import hashlib
import re

from flask import Flask, current_app
from flask_babel import force_locale

from . import shell

PLACEHOLDER = "shell-version"
_CACHE_KEY = "fieldapp.pwa.shell_version"

# Values that differ per request and say nothing about the shell's content: the value of a CSRF
# token field (WTForms writes attributes in sorted order, so name= comes before value=) and nonces.
_PER_REQUEST = (re.compile(rb'(name="csrf_token"[^>]*?value=")[^"]*'),
                re.compile(rb'(\bnonce=")[^"]*'))


def normalise(body: bytes) -> bytes:
    for pattern in _PER_REQUEST:
        body = pattern.sub(rb"\1", body)
    return body


def compute(app: Flask) -> str:
    """The hash of every precached file and of the service worker, rendered by `app` in each of its
    languages. Uncached: tests call it to see a change; requests use current()."""
    digest = hashlib.sha256()

    def add(part: bytes) -> None:
        # Length-prefixed, so moving bytes from one file to the next is a different hash.
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)

    for lang in app.config["LANGUAGES"]:
        with app.app_context(), app.test_request_context("/app/"), force_locale(lang):
            served = [*((url, render(PLACEHOLDER)) for url, render in shell.precached()),
                      ("/sw.js", shell.render_service_worker(PLACEHOLDER).encode())]
            for url, body in served:
                add(lang.encode())
                add(url.encode())
                add(normalise(body))
    return digest.hexdigest()[:12]


def current() -> str:
    """The version the current app serves. PWA_SHELL_VERSION pins it (deployments that want a
    readable version; tests of the update path)."""
    app = current_app._get_current_object()
    pinned = app.config.get("PWA_SHELL_VERSION")
    if pinned:
        return str(pinned)
    version = app.extensions.get(_CACHE_KEY)
    if version is None:
        # Two threads may both compute it on first use: the same value, so no lock is needed.
        version = app.extensions[_CACHE_KEY] = compute(app)
    return version
