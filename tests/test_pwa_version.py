"""The shell version follows what the shell serves: a form's choices or a translation changing offers
phones an update (a new /sw.js), and every process and server computes the same version."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from flask_babel import force_locale, get_translations
from flask_wtf.csrf import generate_csrf

from fieldapp.forms import SelectChoice
from fieldapp.pwa import shell, version
from fieldapp.registry.forms import CATEGORY_LABELS, HouseForm


def test_the_shell_and_the_service_worker_serve_the_computed_version(app, client):
    page = client.get("/app/")
    served = page.headers["X-Shell-Version"]
    assert served == version.compute(app)
    assert f'<meta name="shell-version" content="{served}">' in page.get_data(as_text=True)
    assert f"const VERSION = '{served}';" in client.get("/sw.js").get_data(as_text=True)


def test_the_version_is_computed_once_per_process(app, client, monkeypatch):
    first = client.get("/sw.js").get_data()
    monkeypatch.setattr(version, "compute", lambda app: pytest.fail("computed again"))
    assert client.get("/sw.js").get_data() == first


@pytest.mark.parametrize("change", ["class choices", "setup choices"])
def test_changing_a_form_choice_changes_the_version(app, monkeypatch, change):
    before = version.compute(app)
    if change == "class choices":  # built once, when the form class is defined
        use = HouseForm.use.kwargs
        monkeypatch.setitem(use, "choices", [*use["choices"], SelectChoice("hostel", "Hostel")])
    else:  # built per form, in PersonForm.setup
        monkeypatch.setitem(CATEGORY_LABELS, "seasonal", "Seasonal worker")
    assert version.compute(app) != before


def test_changing_a_translation_changes_the_version_in_every_language(app, monkeypatch):
    before = version.compute(app)
    seen = {before}
    for lang in app.config["LANGUAGES"]:
        with app.test_request_context("/app/"), force_locale(lang):
            catalog = get_translations()._catalog  # the one the app caches and renders with
        monkeypatch.setitem(catalog, "Sync now", f"Sync now ({lang})")
        seen.add(version.compute(app))
    assert len(seen) == 1 + len(app.config["LANGUAGES"])  # each language's change is a new version


def test_the_version_is_the_same_in_every_app_and_process(app, make_app):
    """Workers and servers differ in their secret key's use, hash seed and start time, never in
    what they serve: a phone landing on another worker must not be offered an "update"."""
    expected = version.compute(app)
    assert version.compute(make_app(SECRET_KEY="another", WTF_CSRF_ENABLED=True)) == expected
    script = ("from fieldapp import create_app; from fieldapp.pwa import version; "
              "print(version.compute(create_app({'SECRET_KEY': 'x', 'SQLALCHEMY_DATABASE_URI': 'sqlite://'})))")
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed})
        assert out.stdout.split()[-1] == expected, seed


def test_per_request_values_do_not_change_the_version(app, monkeypatch):
    """Should the shell ever render a CSRF token or a nonce, the version must not change per render."""
    plain = shell.render_shell

    def with_token(version_text):
        token = generate_csrf()
        return (plain(version_text) + f'<input id="csrf_token" name="csrf_token" type="hidden" value="{token}">'
                f'<script nonce="{secrets.token_hex(8)}"></script>')

    with app.test_request_context():
        one = with_token("v").encode()
    with app.test_request_context():
        another = with_token("v").encode()
    assert one != another and version.normalise(one) == version.normalise(another)
    monkeypatch.setattr(shell, "render_shell", with_token)
    assert version.compute(app) == version.compute(app)
