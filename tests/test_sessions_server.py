"""Sign-in throttling and sign-out against fieldapp as shipped: gunicorn with several worker
processes (tests/server_process.py), on SQLite and on PostgreSQL, the production hash (scrypt).

40 wrong PINs sent at the same moment: exactly LOGIN_MAX_FAILURES (5) are checked, the rest are
answered as throttled. Two app servers on one database: a sign-out through one ends the session on
the other (nothing lives in a process's memory)."""
from __future__ import annotations

import http.client
import re
import threading
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, text
from werkzeug.security import generate_password_hash

from fieldapp import create_app
from fieldapp.extensions import db

from .builders import PIN, make_account, make_town
from .conftest import TEST_CONFIG
from .server_process import AppServer, server_database

SECRET = "sessions-test-secret"
CONCURRENT = 40


@pytest.fixture
def server_db(backend, database_url, tmp_path):
    yield from server_database(backend, database_url, tmp_path, SECRET)


def _seed(url: str) -> str:
    """One collector whose PIN is stored with the production hash, so each check takes real time."""
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        town, (east, _west) = make_town()
        account = make_account(town, "collector", [east])
        account.password_hash = generate_password_hash(PIN)  # werkzeug's default: scrypt
        db.session.commit()
        cid = account.collection_id
        db.session.remove()
        db.engine.dispose()
    return cid


class Browser:
    """A cookie jar of one: enough for the session cookie and the sign-in form's CSRF token."""

    def __init__(self, server: AppServer):
        self.server = server
        self.cookie = ""

    def request(self, method: str, path: str, body: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, data, headers)
            response = conn.getresponse()
            text_ = response.read().decode()
            cookie = response.getheader("Set-Cookie")
            if cookie:
                self.cookie = cookie.split(";", 1)[0]
            return response.status, text_
        finally:
            conn.close()

    def csrf(self, path: str = "/login") -> str:
        _status, page = self.request("GET", path)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def _count(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def test_forty_concurrent_wrong_pins_check_exactly_five(backend, server_db, tmp_path):
    cid = _seed(server_db)
    with AppServer(server_db, SECRET, tmp_path / "server.log", workers=3, threads=8) as server:
        browsers = [Browser(server) for _ in range(CONCURRENT)]
        tokens = [b.csrf() for b in browsers]
        start = threading.Barrier(CONCURRENT)
        statuses: list[int | str] = [0] * CONCURRENT

        def attempt(n: int) -> None:
            start.wait()
            try:
                statuses[n], _page = browsers[n].request(
                    "POST", "/login", {"collection_id": cid, "pin": f"wrong-pin-{n}", "csrf_token": tokens[n]})
            except OSError as error:  # reported, not raised in the thread
                statuses[n] = repr(error)

        threads = [threading.Thread(target=attempt, args=(n,)) for n in range(CONCURRENT)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    checked = _count(server_db, "SELECT count(*) FROM audit_events WHERE action = 'login_failed'")
    print(f"{backend}: {CONCURRENT} concurrent wrong PINs, {checked} checked, statuses {sorted(map(str, statuses))}")
    assert checked == 5, (checked, statuses)
    assert sorted(statuses, key=str) == [401] * 5 + [429] * (CONCURRENT - 5), statuses


def test_sign_out_on_one_server_ends_the_session_on_another(backend, server_db, tmp_path):
    cid = _seed(server_db)
    with AppServer(server_db, SECRET, tmp_path / "one.log", workers=2, threads=4) as one, \
            AppServer(server_db, SECRET, tmp_path / "two.log", workers=2, threads=4) as two:
        phone = Browser(one)
        status, _page = phone.request("POST", "/login", {"collection_id": cid, "pin": PIN, "csrf_token": phone.csrf()})
        assert status == 303
        saved = phone.cookie
        assert '"signed_in":true' in phone.request("GET", "/api/session")[1].replace(" ", "")
        phone.server = two  # the same browser, now answered by the other server
        assert '"signed_in":true' in phone.request("GET", "/api/session")[1].replace(" ", "")
        token = re.search(r'"csrf_token":\s*"([^"]+)"', phone.request("GET", "/api/session")[1]).group(1)
        assert phone.request("POST", "/logout", {"csrf_token": token})[0] == 303
        thief = Browser(one)
        thief.cookie = saved  # the cookie from before sign-out, replayed on the first server
        assert '"signed_in":false' in thief.request("GET", "/api/session")[1].replace(" ", "")
