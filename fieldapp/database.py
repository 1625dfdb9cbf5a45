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

Writers queue for their turn before BEGIN IMMEDIATE (released when the transaction ends): the
threads of a process on a lock, the processes on a flock() of a file next to the database
(_WriterQueue). SQLite's busy handler polls with growing sleeps and favours nobody: with dozens of
threads per process asking at once, some waited past any timeout while others went through again
and again ("database is locked" under 20 phones), and the database sat idle while they slept.

A read request that must write something (an audit line for an edit form, a device's last-use
time) does it inside `write_transaction()`: the read transaction ends and the write gets its own
BEGIN IMMEDIATE transaction. With `strict=True` (tests), a write statement in a deferred
transaction raises, so a forgotten `write_transaction()` fails every time instead of once in a
while under load.
"""
from __future__ import annotations

import contextlib
import contextvars
import fcntl
import os
import re
import sqlite3
import threading

from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

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


@contextlib.contextmanager
def read_transaction():
    """Run reads from a write request in a deferred transaction of their own, ended on exit (what
    they loaded stays loaded): checking a push's token, or looking after a push whether more is to
    be done, must not queue for (or hold) SQLite's write lock."""
    from .extensions import db

    db.session.commit()
    token = _write_intent.set(False)
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    else:
        # It only read: end it without expiring what it loaded, so that using those objects does
        # not begin the next (write) transaction before the caller means to.
        session = db.session()
        expire, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = expire
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

    writer = _WriterQueue(busy_timeout_ms / 1000, engine.url.database)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if not _write_intent.get():
            conn.exec_driver_sql("BEGIN")
            return
        writer.take(conn.info)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.give(conn.info)
            raise

    # The transaction ends (the events fire just before COMMIT / ROLLBACK is sent: the next writer
    # of this process may then wait a few milliseconds in SQLite's busy handler, never longer).
    event.listen(engine, "commit", lambda conn: writer.give(conn.info))
    event.listen(engine, "rollback", lambda conn: writer.give(conn.info))
    # A connection returned, reset or dropped without either (an error, a killed request).
    @event.listens_for(engine.pool, "reset")
    def _on_reset(_dbapi, record, _state):
        writer.give(record.info)

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi, record):
        if record is not None:
            writer.give(record.info)

    @event.listens_for(engine.pool, "invalidate")
    def _on_invalidate(_dbapi, record, _exception):
        writer.give(record.info)


class _WriterQueue:
    """The turn to write (see the module docstring). Threads of one process queue on a lock; the
    thread at its head then queues with the other processes on an exclusive flock() of a file next
    to the database: the kernel wakes the next process the moment the lock is free, where SQLite's
    busy handler would sleep up to 100 ms between tries (with four processes the database was idle
    most of the time while every writer slept). Held per connection: the flag lives in the
    connection's info, so a connection that already holds it never asks twice. A killed process's
    flock is released by the kernel."""

    KEY = "fieldapp_writer"

    def __init__(self, timeout: float, database: str | None):
        self.timeout = timeout
        self.lock = threading.Lock()
        self.path = f"{database}-writer.lock" if database not in (None, "", ":memory:") else None
        self.fd: int | None = None

    def take(self, info: dict) -> None:
        if info.get(self.KEY):
            return
        if not self.lock.acquire(timeout=self.timeout):
            # The same error SQLite gives after its busy timeout, so callers treat both alike.
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError(
                "database is locked (waited for this process's turn to write)"))
        try:
            if self.path is not None:
                if self.fd is None:
                    self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            self.lock.release()
            raise
        info[self.KEY] = True

    def give(self, info: dict) -> None:
        if info.pop(self.KEY, False):
            try:
                if self.fd is not None:
                    fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                self.lock.release()


def pending_at_commit(session, key: str):
    """For a before_commit hook that inserts rows collected in `session.info[key]` at the very end
    of the outermost transaction: those rows (None when there are none, or when this is only a
    SAVEPOINT ending). Everything else is flushed first: once the hook takes its commit-order lock
    (commit_order_lock) the transaction must not wait for a row another writer holds, or two
    writers would wait for each other (a deadlock)."""
    if session.in_nested_transaction():
        return None
    pending = session.info.get(key)
    if not pending:
        return None
    session.flush()
    return pending


def commit_order_lock(connection, lock: int) -> None:
    """Hold PostgreSQL's transaction-level advisory lock `lock` until the commit, so rows inserted
    under it follow commit order (ids from a sequence do not). SQLite serialises writers anyway."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(lock)))
