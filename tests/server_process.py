"""Run fieldapp as shipped, in a real server process: `gunicorn -c gunicorn.conf.py "fieldapp:create_app()"`
on a free loopback port, configured only through FIELDAPP_* / GUNICORN_* environment variables, as an
operator would. Used by tests/test_sync_faults.py and bench/sync_soak.py.

Also: a scratch database migrated with the app's own CLI (`flask --app fieldapp setup --no-demo`), the
`recount` command, and plain-SQL helpers to read or empty that database without importing the app.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(database_url: str, secret_key: str, extra: dict | None = None) -> dict:
    """The environment of a server or CLI process: this process's, less any FIELDAPP_* setting that
    would leak in, plus the database and secret key (every process must sign with the same key)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIELDAPP_", "GUNICORN_"))}
    env.update({"FIELDAPP_SQLALCHEMY_DATABASE_URI": database_url, "FIELDAPP_SECRET_KEY": secret_key,
                "PYTHONUNBUFFERED": "1"})
    env.update({k: str(v) for k, v in (extra or {}).items()})
    return env


def flask_cli(database_url: str, secret_key: str, *args: str, timeout: float = 300) -> str:
    """Run `flask --app fieldapp <args>` against the database; returns its output, raises on failure."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "fieldapp", *args], cwd=ROOT,
                          env=app_env(database_url, secret_key), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def migrate(database_url: str, secret_key: str) -> None:
    """Create or upgrade the schema with the app's own command (no demo data)."""
    flask_cli(database_url, secret_key, "setup", "--no-demo")


def server_database(backend: str, database_url: str, tmp_path, secret_key: str):
    """For a fixture (`yield from`): a database a server process can use, migrated with the app's
    own CLI: a fresh SQLite file, or the run's scratch PostgreSQL database (emptied before and
    after: other tests share it)."""
    if backend == "sqlite":
        url = "sqlite:///" + str(tmp_path / "server.sqlite")
    else:
        url = database_url
        empty_database(url)
    migrate(url, secret_key)
    yield url
    if backend == "postgresql":
        empty_database(url)


def empty_database(database_url: str) -> None:
    """Delete every row (the schema stays): the fixture's PostgreSQL database is shared with other tests."""
    from sqlalchemy import create_engine, text
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                names = [r[0] for r in conn.execute(text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename <> 'alembic_version'"))]
                if names:
                    conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
            else:
                from sqlalchemy import MetaData
                meta = MetaData()
                meta.reflect(conn)
                for table in reversed(meta.sorted_tables):
                    if table.name != "alembic_version":
                        conn.execute(table.delete())
    finally:
        engine.dispose()


class AppServer:
    """One gunicorn master (and its workers) in a process group of its own, so that kill9() can take
    the whole server down at once, as a power cut or the OOM killer would."""

    def __init__(self, database_url: str, secret_key: str, log_path: Path, *, workers: int = 3, threads: int = 8,
                 port: int | None = None, extra_env: dict | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.env = app_env(database_url, secret_key, {"GUNICORN_BIND": f"127.0.0.1:{self.port}",
                                                      "GUNICORN_WORKERS": workers, "GUNICORN_THREADS": threads,
                                                      **(extra_env or {})})
        self.process: subprocess.Popen | None = None
        self.generation = 0  # +1 on every (re)start: tells clients their request met a restart
        self.starts = 0
        self.kills = 0

    def start(self, ready_within: float = 60.0) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        log.write(f"\n=== start {self.starts + 1} at {time.strftime('%H:%M:%S')} ===\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "fieldapp:create_app()"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        self.starts += 1
        self.wait_ready(ready_within)
        self.generation += 1

    def wait_ready(self, within: float) -> None:
        """Poll GET /api/ping until it answers 204 (a worker has loaded the app), with a deadline."""
        deadline = time.monotonic() + within
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}:\n"
                                   + self.log_tail())
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/ping")
                status = conn.getresponse().status
                conn.close()
                if status == 204:
                    return
                last = f"status {status}"
            except OSError as error:
                last = repr(error)
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn on {self.url} not ready within {within} s ({last}):\n" + self.log_tail())

    def kill9(self) -> None:
        """SIGKILL the master and every worker at once (the whole process group), then reap."""
        if self.process is None or self.process.poll() is not None:
            return
        self.generation += 1  # requests in flight now met a crash
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self.kills += 1
        self._reap_group(self.process.pid)

    def stop(self) -> None:
        """Stop (SIGINT to the master), then SIGKILL of anything left in the group."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                self.process.send_signal(signal.SIGINT)  # quick shutdown: nothing to finish
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._reap_group(self.process.pid)

    @staticmethod
    def _reap_group(pgid: int) -> None:
        # Workers whose master died are orphans of the same group: none may outlive the test.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
