"""The phone app's three static resources. Nothing here reads personal data or the session's user:
the shell is the same HTML for everyone (the browser caches it), and everything personal comes
later from /api/ with a device token, into IndexedDB, encrypted (static/js/crypto.js).

The shell version is a hash of every file the service worker precaches, so any change to them
makes a new /sw.js, which the phone installs in the background and offers as an update."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Response, current_app, json, render_template, url_for
from flask_babel import gettext as _

from wtforms.validators import DataRequired

from ..registry.forms import CloseForm, HouseForm, LeaveForm, OrganisationForm, PersonForm
from ..i18n import ui_lang
from ..tips.forms import InformantTipForm, VerifyForm
from . import bp

HERE = Path(__file__).resolve().parent
STATIC = HERE.parent / "static"
TEMPLATE = HERE.parent / "templates" / "pwa" / "app.html"
SW_SOURCE = HERE / "sw.js"

# ES modules of the app, in load order of importance (all precached).
MODULES = ("app.js", "i18n.js", "db.js", "crypto.js", "package.js", "outbox.js", "sync.js", "forms.js", "photos.js",
           "views.js", "visits.js")
# Loaded only when the collector opens the scan screen (precached for offline use, but not part of
# the page weight every opening of the app pays): the camera, the door-code rule, the QR decoder.
LAZY = ("js/scan.js", "js/doorcode.js", "vendor/jsqr-1.4.0/jsQR.js",
        "js/tips.js",  # the informant's screens: only informants load them
        "js/tasks.js")  # a collector's tip tasks: loaded when the collector has some
ICONS = ("icon-192.png", "icon-512.png")
THEME = "#0b5cad"


def shell_assets() -> list[str]:
    """What the service worker precaches: the shell, its modules, the stylesheet, icons, manifest."""
    return (["/app/", url_for("pwa.manifest"), url_for("static", filename="css/app.css")]
            + [url_for("static", filename=f"js/{m}") for m in MODULES]
            + [url_for("static", filename=f) for f in LAZY]
            + [url_for("static", filename=f"icons/{i}") for i in ICONS])


@lru_cache(maxsize=1)
def _content_hash() -> str:
    digest = hashlib.sha256()
    files = [TEMPLATE, SW_SOURCE, STATIC / "css" / "app.css", *(STATIC / "js" / m for m in MODULES),
             *(STATIC / f for f in LAZY),
             *(STATIC / "icons" / i for i in ICONS), HERE / "views.py"]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def shell_version() -> str:
    # PWA_SHELL_VERSION pins it (deployments that want a readable version; tests of the update path).
    return str(current_app.config.get("PWA_SHELL_VERSION") or _content_hash())


@bp.get("/app/")
def shell():
    """The app shell. Static: no user, no token, no personal data, so it can be cached offline.
    Forms are the web forms (same names, labels and choices), rendered into <template> elements."""
    lang = ui_lang()
    person = PersonForm(meta={"csrf": False})
    person.setup(lang, police=True)  # the app hides police-only choices for other roles
    forms = {"house": HouseForm(meta={"csrf": False}), "person": person,
             "leave": LeaveForm(meta={"csrf": False}), "organisation": OrganisationForm(meta={"csrf": False}),
             "close": CloseForm(meta={"csrf": False}), "tip": InformantTipForm(meta={"csrf": False}),
             "tipverify": VerifyForm(meta={"csrf": False})}
    forms["tip"].village.choices = []  # the phone fills in the informant's villages
    response = Response(render_template("pwa/app.html", forms=forms, version=shell_version(),
                                        modules=MODULES, theme=THEME, required=required_messages(forms)))
    response.headers["X-Shell-Version"] = shell_version()
    return response


def required_messages(forms: dict) -> dict:
    """{"kind:field": message} for every field the web forms require: the phone says what the
    server would say ("Enter the door number."), not a generic "required"."""
    out = {}
    for kind, form in forms.items():
        for field in form:
            for validator in field.validators:
                if isinstance(validator, DataRequired) and validator.message:
                    out[f"{kind}:{field.name}"] = str(validator.message)
    return out


@bp.get("/manifest.webmanifest")
def manifest():
    data = {
        "id": "/app/", "name": "三实采集", "short_name": "三实采集",
        "description": _("Register houses, people and organisations door to door, also without signal."),
        "lang": "zh-CN", "start_url": "/app/", "scope": "/", "display": "standalone",
        "orientation": "portrait", "background_color": "#f6f8fa", "theme_color": THEME,
        "icons": [{"src": url_for("static", filename=f"icons/icon-{n}.png"), "sizes": f"{n}x{n}",
                   "type": "image/png", "purpose": "any maskable"} for n in (192, 512)],
    }
    return Response(json.dumps(data, ensure_ascii=False), mimetype="application/manifest+json")


@bp.get("/sw.js")
def service_worker():
    """Served from the root so it may control '/', never cached by HTTP (the browser must see each
    new version at once); its bytes change with the shell version, which is what triggers an update."""
    source = SW_SOURCE.read_text(encoding="utf-8")
    source = (source.replace("__VERSION__", shell_version())
              .replace("__SHELL__", json.dumps(shell_assets())))
    return Response(source, mimetype="text/javascript",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})
