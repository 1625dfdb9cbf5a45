"""Fixtures: every app-level test runs on SQLite, and again on PostgreSQL when
FIELDAPP_TEST_DATABASE_URL names a scratch database (CI sets it). The schema comes from the
migrations, never from create_all, so the tests exercise what users get.
"""
from __future__ import annotations

import contextvars
import os

import pytest
from flask.globals import _cv_app
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from fieldapp import create_app
from fieldapp.extensions import db

from .builders import sign_in

PG_URL = os.environ.get("FIELDAPP_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])

# Fast hashing in tests only; test_accounts checks that the real default is a slow hash.
# STRICT_READ_REQUESTS: a GET that writes outside database.write_transaction() fails at once.
TEST_CONFIG = {"TESTING": True, "STRICT_READ_REQUESTS": True, "SECRET_KEY": "test",
               "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "WTF_CSRF_ENABLED": False}


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """One migrated database per backend for the whole run."""
    if request.param == "sqlite":
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite")
    else:
        url = _worker_database(PG_URL)
        _drop_everything(url)
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


def _worker_database(url: str) -> str:
    """test.sh runs two pytest-xdist workers; each needs a PostgreSQL database of its own, because
    each session wipes its database. Worker gw1 uses <scratch>_gw1, made next to the scratch database
    (the role needs CREATEDB, as CI's has); without xdist the scratch database itself is used."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    own = make_url(url).set(database=f"{make_url(url).database}_{worker}")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{own.database}"'))
    engine.dispose()
    return own.render_as_string(hide_password=False)


def _drop_everything(url: str) -> None:
    from sqlalchemy import create_engine
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def backend(database_url) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


class IsolatedClient(FlaskClient):
    """Each request runs in its own application context, as in production, even while the test holds
    one open for its builders. Otherwise Flask reuses the test's context: requests would share `g`
    (Flask-Login's cached user) and the test's database session, hiding real bugs."""

    def open(self, *args, **kwargs):
        def isolated():
            _cv_app.set(None)
            return FlaskClient.open(self, *args, **kwargs)

        # The test's own session is another client of the database: end its transaction around each
        # request so it holds no lock the request waits for, and reads fresh state afterwards.
        holds_context = _cv_app.get(None) is not None
        if holds_context:
            db.session.rollback()
        try:
            return contextvars.copy_context().run(isolated)
        finally:
            if holds_context:
                db.session.rollback()


@pytest.fixture
def make_app(database_url):
    """Build an app on the test database with extra settings; tables are emptied afterwards."""
    apps = []

    def factory(**overrides):
        app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, **overrides})
        app.test_client_class = IsolatedClient
        apps.append(app)
        return app

    yield factory
    if apps:
        with apps[0].app_context():
            _empty_tables()
        for app in apps:
            with app.app_context():
                db.engine.dispose()


def _empty_tables() -> None:
    db.session.remove()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def ctx(app):
    """An application context for tests that call functions directly."""
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login(app):
    """login(account) -> a test client signed in as that account."""
    def _login(account, pin="secret-pin-1"):
        client = app.test_client()
        sign_in(client, account.collection_id, pin)
        return client
    return _login


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
