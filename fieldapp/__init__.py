"""fieldapp: field collection for the "three actuals" registry.

create_app() is the table of contents: configuration, extensions, blueprints, commands.
"""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, request

from . import config as _config
from .extensions import babel, csrf, db, login_manager, migrate

MIGRATIONS = str(Path(__file__).parent / "migrations")


def create_app(overrides: dict | None = None) -> Flask:
    # FIELDAPP_INSTANCE_PATH: the instance folder (config.py, secret_key, the SQLite database, photos)
    # somewhere else than instance/ beside the code, e.g. /var/lib/fieldapp. Absolute.
    instance_path = os.environ.get("FIELDAPP_INSTANCE_PATH") or None
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    _config.load_config(app, overrides)
    register_middleware(app)
    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    return app


def register_middleware(app: Flask) -> None:
    # Behind PROXY_HOPS reverse proxies, take the client's address and scheme from their headers.
    if app.config["PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix
        hops = int(app.config["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_extensions(app: Flask) -> None:
    from .database import configure_engine, set_write_intent
    from .i18n import select_locale

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)  # batch: SQLite can't ALTER much
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    with app.app_context():
        configure_engine(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"],
                         strict=app.config.get("STRICT_READ_REQUESTS", False))
    app.before_request(lambda: set_write_intent(request.method))
    # Outside a request (the test client's thread, CLI work after it) writes are the default again.
    app.teardown_request(lambda _exc: set_write_intent("POST"))


def register_blueprints(app: Flask) -> None:
    from . import (admin, api, auditlog, auth, badges, campaigns, doors, errors, exports, imports, maps, photoview,
                   prints, progress, pwa, registry, review, roster, search, security, templating, tips, townsetup)

    for module in (templating, security, auth, registry, search, review, progress, campaigns, maps, doors, tips, badges,
                   admin, roster, auditlog, townsetup, imports, prints, exports, api, pwa, photoview, errors):
        module.init_app(app)
    from .flags import views as flags_views
    flags_views.init_app(app)


def register_commands(app: Flask) -> None:
    from .cli import commands

    for command in commands:
        app.cli.add_command(command)
