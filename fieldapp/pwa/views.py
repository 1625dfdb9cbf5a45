"""The phone app's three static resources. Nothing here reads personal data or the session's user:
the shell is the same HTML for everyone (the browser caches it), and everything personal comes
later from /api/ with a device token, into IndexedDB, encrypted (static/js/crypto.js).

The shell version (version.py) is a hash of what the shell serves, so any change to it makes a new
/sw.js, which the phone installs in the background and offers as an update."""
from __future__ import annotations

from flask import Response

from . import bp, shell
from .version import current as shell_version


@bp.get("/app/", endpoint="shell")
def shell_page():
    """The app shell. Static: no user, no token, no personal data, so it can be cached offline.
    Forms are the web forms (same names, labels and choices), rendered into <template> elements."""
    version = shell_version()
    response = Response(shell.render_shell(version))
    response.headers["X-Shell-Version"] = version
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    return Response(shell.render_manifest(), mimetype="application/manifest+json")


@bp.get("/sw.js")
def service_worker():
    """Served from the root so it may control '/', never cached by HTTP (the browser must see each
    new version at once); its bytes change with the shell version, which is what triggers an update."""
    return Response(shell.render_service_worker(shell_version()), mimetype="text/javascript",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})
