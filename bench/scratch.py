"""What every database benchmark starts from: the app on a scratch database, wiped and migrated."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text

from fieldapp import MIGRATIONS, create_app
from fieldapp.extensions import db


def scratch_app(url: str | None, tmp_dir: str, **config) -> tuple[Flask, str]:
    """The app on `url` (PostgreSQL: its public schema is dropped first) or, without one, on a new
    SQLite file in `tmp_dir`; migrated to the newest schema. `config`: more app settings (TESTING,
    PASSWORD_HASH_METHOD, ...). Returns the app and the URL used."""
    url = url or f"sqlite:///{Path(tmp_dir) / 'bench.sqlite'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, **config})
    with app.app_context():
        if url.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=MIGRATIONS)
    return app, url
