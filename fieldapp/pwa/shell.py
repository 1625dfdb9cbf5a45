"""What the phone app's shell is made of, rendered for the current request's language: the shell
HTML, the manifest, the service worker and the static files it precaches. Nothing here reads personal
data or the session's user: the shell is the same HTML for everyone (the browser caches it).

Each renderer takes the shell version as a parameter, so version.py can render exactly what is
served with a placeholder in its place and hash that (the version cannot be part of its own hash)."""
from __future__ import annotations

from pathlib import Path
from collections.abc import Callable

from flask import current_app, json, render_template, url_for
from flask_babel import gettext as _
from werkzeug.security import safe_join
from wtforms.validators import DataRequired

from ..i18n import ui_lang
from ..registry.forms import CloseForm, HouseForm, LeaveForm, OrganisationForm, PersonForm
from ..tips.forms import InformantTipForm, VerifyForm

SW_SOURCE = Path(__file__).resolve().parent / "sw.js"

# ES modules of the app, in load order of importance (all precached and preloaded).
MODULES = ("app.js", "i18n.js", "dom.js", "db.js", "crypto.js", "package.js", "outbox.js", "sync.js", "forms.js",
           "photos.js", "views.js", "visits.js", "returns.js", "labels.js", "dupes.js")
# Loaded only when the collector opens the scan screen (precached for offline use, but not part of
# the page weight every opening of the app pays): the camera, the door-code rule, the QR decoder.
LAZY = ("js/scan.js", "js/doorcode.js", "vendor/jsqr-1.4.0/jsQR.js",
        "js/tips.js",  # the informant's screens: only informants load them
        "js/tasks.js")  # a collector's tip tasks: loaded when the collector has some
ICONS = ("icon-192.png", "icon-512.png")
THEME = "#0b5cad"


def forms() -> dict:
    """The web forms (same names, labels and choices) the shell renders into <template> elements."""
    person = PersonForm(meta={"csrf": False})
    person.setup(ui_lang(), police=True)  # the app hides police-only choices for other roles
    out = {"house": HouseForm(meta={"csrf": False}), "person": person,
           "leave": LeaveForm(meta={"csrf": False}), "organisation": OrganisationForm(meta={"csrf": False}),
           "close": CloseForm(meta={"csrf": False}), "tip": InformantTipForm(meta={"csrf": False}),
           "tipverify": VerifyForm(meta={"csrf": False})}
    out["tip"].village.choices = []  # the phone fills in the informant's villages
    return out


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


def render_shell(version: str) -> str:
    shell_forms = forms()
    return render_template("pwa/app.html", forms=shell_forms, version=version, modules=MODULES, theme=THEME,
                           required=required_messages(shell_forms))


def render_manifest() -> str:
    data = {
        "id": "/app/", "name": "三实采集", "short_name": "三实采集",
        "description": _("Register houses, people and organisations door to door, also without signal."),
        "lang": "zh-CN", "start_url": "/app/", "scope": "/", "display": "standalone",
        "orientation": "portrait", "background_color": "#f6f8fa", "theme_color": THEME,
        "icons": [{"src": url_for("static", filename=f"icons/icon-{n}.png"), "sizes": f"{n}x{n}",
                   "type": "image/png", "purpose": "any maskable"} for n in (192, 512)],
    }
    return json.dumps(data, ensure_ascii=False)


def render_service_worker(version: str) -> str:
    source = SW_SOURCE.read_text(encoding="utf-8")
    return source.replace("__VERSION__", version).replace("__SHELL__", json.dumps(shell_assets()))


def static_bytes(filename: str) -> bytes:
    """A static file as the static route serves it (the same folder, the same path check)."""
    return Path(safe_join(current_app.static_folder, filename)).read_bytes()


def precached() -> list[tuple[str, Callable[[str], bytes]]]:
    """(URL, render(version) -> bytes) for every file the service worker precaches. One list, so
    what the phone caches and what the version covers cannot drift apart."""
    def static(filename):
        return url_for("static", filename=filename), lambda _version: static_bytes(filename)

    return [("/app/", lambda version: render_shell(version).encode()),
            (url_for("pwa.manifest"), lambda _version: render_manifest().encode()),
            static("css/app.css"),
            *(static(f"js/{m}") for m in MODULES),
            *(static(f) for f in LAZY),
            *(static(f"icons/{i}") for i in ICONS)]


def shell_assets() -> list[str]:
    """What the service worker precaches: the shell, its modules, the stylesheet, icons, manifest."""
    return [url for url, _render in precached()]
