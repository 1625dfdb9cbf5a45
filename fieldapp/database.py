"""Database engine rules that must hold on every backend.

SQLite is the embedded default and must survive several writers (gunicorn workers, the CLI):
- WAL journal, so readers never block the writer and the writer never blocks readers;
- a busy timeout, so a second writer waits for the lock instead of failing at once;
- write transactions begin with BEGIN IMMEDIATE. A deferred transaction that reads and then
  writes must upgrade its lock, and in WAL mode that upgrade fails with "database is locked"
  *without* waiting when another writer committed meanwhile. Taking the write lock up front
  turns that failure into a wait.

Requests that only read (GET, HEAD, OPTIONS) begin deferred so they never queue behind writers;
everything else (POST requests, CLI commands, tests) begins immediate. The decision is kept in a
context variable so it follows the request through the session's connection checkout.

A read request that must write something (an audit line for an edit form, a device's last-use
time) does it inside `write_transaction()`: the read transaction ends and the write gets its own
BEGIN IMMEDIATE transaction. With `strict=True` (tests), a write statement in a deferred
transaction raises, so a forgotten `write_transaction()` fails every time instead of once in a
while under load.
"""
from __future__ import annotations

import contextlib
import contextvars
import re

from sqlalchemy import event
from sqlalchemy.engine import Engine

_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("fieldapp_write_intent", default=True)

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def set_write_intent(method: str) -> None:
    """Called before each request: only non-read methods start write transactions."""
    _write_intent.set(method.upper() not in READ_ONLY_METHODS)


@contextlib.contextmanager
def write_transaction():
    """Run a write from a read request in its own immediate transaction, committed on exit.
    Whatever the read request had read is committed first (it wrote nothing)."""
    from .extensions import db

    db.session.commit()
    token = _write_intent.set(True)
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        _write_intent.reset(token)


_WRITE_STATEMENT = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class DeferredWriteError(RuntimeError):
    """A write statement in a deferred (read request) transaction: see write_transaction()."""


def configure_engine(engine: Engine, busy_timeout_ms: int, strict: bool = False) -> None:
    """Attach the SQLite rules above to `engine`; other backends are left as they are."""
    if engine.dialect.name != "sqlite":
        return

    if strict:
        @event.listens_for(engine, "before_cursor_execute")
        def _refuse_deferred_writes(_conn, _cursor, statement, _params, _context, _many):
            if not _write_intent.get() and _WRITE_STATEMENT.match(statement):
                raise DeferredWriteError(
                    "write in a read request's deferred transaction (use database.write_transaction()): "
                    + statement.split("(", 1)[0][:80])

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would emit a plain BEGIN).
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; FULL costs an fsync per commit
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")
