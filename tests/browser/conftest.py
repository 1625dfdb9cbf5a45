"""Real-browser fixtures: Debian's Chromium driven by Playwright, a phone profile, and the app served
on 127.0.0.1 (a secure context, so service workers, IndexedDB and WebCrypto work).

Without Chromium the browser tests are skipped, loudly; with FIELDAPP_BROWSER_TESTS=required (CI)
a missing browser is an error. Recipe and gotchas: ../shared/recipes/browser-testing.md.
"""
from __future__ import annotations

import os
import threading
import warnings

import pytest
from werkzeug.serving import make_server
from werkzeug.wsgi import ClosingIterator

from ..builders import PIN

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
REQUIRED = os.environ.get("FIELDAPP_BROWSER_TESTS") == "required"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]

# axe-core: WCAG 2.1 A and AA, and best practice. Pages are checked with bypass_csp contexts: axe
# is injected as a script, which the app's CSP (script-src 'self') would refuse.
AXE_RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
             "resultTypes": ["violations"]}


def axe_violations(page) -> list[str]:
    """axe-core's violations on the page as it is now, one line each: rule, help, how many nodes,
    the first node."""
    from axe_playwright_python.sync_playwright import Axe

    return [f"{v['id']}: {v['help']} ({len(v['nodes'])}x: {v['nodes'][0]['target']})"
            for v in Axe().run(page, options=AXE_RULES).response["violations"]]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def pw():
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed"
    if missing is None and not os.path.exists(CHROMIUM):
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)"
    if missing:
        if REQUIRED:
            pytest.fail(f"BROWSER TESTS ARE REQUIRED BUT CANNOT RUN: {missing}")
        warnings.warn(f"BROWSER TESTS SKIPPED: {missing}", stacklevel=1)
        pytest.skip(f"BROWSER TESTS SKIPPED: {missing}")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(pw):
    b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def live_server(make_app):
    """The app on the test database, served by a threaded server on a free loopback port."""
    yield from serve(make_app(WTF_CSRF_ENABLED=True))


class InFlight:
    """WSGI middleware counting the requests being answered, until their response is closed (a
    streamed one included), so that a fixture can wait for the server to be idle."""

    def __init__(self, app):
        self.app = app
        self.count = 0
        self.idle = threading.Condition()

    def __call__(self, environ, start_response):
        with self.idle:
            self.count += 1
        try:
            return ClosingIterator(self.app(environ, start_response), [self._done])
        except BaseException:
            self._done()
            raise

    def _done(self):
        with self.idle:
            self.count -= 1
            self.idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self.idle:
            return self.idle.wait_for(lambda: self.count == 0, timeout)


def serve(app):
    """Serve `app` on a free loopback port until the generator is closed (for fixtures). On the way
    out it waits for requests still being answered (a phone's last sync outlives its test): emptying
    the tables under one deadlocks on PostgreSQL and leaves rows for the next test."""
    inflight = InFlight(app)
    server = make_server("127.0.0.1", 0, inflight, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.base_url = f"http://127.0.0.1:{server.server_port}"
    server.app = app
    yield server
    server.shutdown()
    thread.join(5)
    if not inflight.wait_idle(timeout=30):
        warnings.warn(f"{inflight.count} request(s) still running 30 s after the test", stacklevel=1)


def phone_profile(pw) -> dict:
    device = dict(pw.devices["Pixel 7"])
    device.pop("default_browser_type", None)
    return device


@pytest.fixture
def phone(pw, browser):
    """A fresh phone: its own storage, service workers allowed."""
    ctx = browser.new_context(**phone_profile(pw), service_workers="allow")
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


def sign_in(page, base: str, collection_id: str, pin: str = PIN) -> None:
    """Sign in on the web login page and wait until it has been left."""
    page.goto(base + "/login")
    page.fill("#collection_id", collection_id)
    page.fill("#pin", pin)
    page.click("form.card button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
