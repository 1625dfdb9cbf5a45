"""The audit log: security actions and every read of personal data, kept tamper-evident.

Rules:
- Every security action and every request that shows or sends personal data writes one
  AuditEvent row: `action` says what, `target` names a record by table and key ("person:12",
  "device:3", never a name or a number read off a document), `records` how many records were
  shown or sent, `detail` a short note that holds no personal data either.
- The rows form a hash chain. Row n carries seq n, prev_hash = row_hash of row n-1 (GENESIS_HASH
  before row 1, or the anchor a prune left: see below) and row_hash = SHA-256 over a canonical
  serialisation of its fields and prev_hash (row_hash()). Changing, deleting or inserting a row
  afterwards breaks the chain at that row: verify() names it.
- Rows are inserted when their transaction commits, under a lock, so the chain has a single order
  however many workers and app servers write: on PostgreSQL a transaction-level advisory lock
  (AUDIT_LOCK) taken at the very end of the transaction and released by its commit; SQLite
  serialises writers already (BEGIN IMMEDIATE, database.py). A transaction or savepoint that rolls
  back writes no row, like the change feed (changefeed.py, whose lock is always taken first).
- Rows are kept AUDIT_RETENTION_DAYS (at least 183 days, six months: PIPL and the Cybersecurity
  Law art. 21 ask for six months of logs). prune() deletes only older rows and, in the same
  transaction, writes an `audit_prune` row naming the last row deleted and its hash: verify()
  starts the chain there.
- On PostgreSQL the app's role may INSERT and SELECT audit rows but never UPDATE, DELETE or
  TRUNCATE them (grant_statements()); pruning runs as the table's owner.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

from .changefeed import FEED_LOCK  # imported first: its before_commit lock is always taken before ours
from .config import MIN_AUDIT_RETENTION_DAYS
from .database import commit_order_lock, pending_at_commit, write_transaction
from .extensions import db
from .models import AuditEvent, utcnow

_PENDING = "fieldapp.audit.pending"  # session.info: [(row fields, the transaction that wrote it)]

# pg_advisory_xact_lock key that orders the chain (PostgreSQL). Distinct from the feed's, which a
# transaction writing both takes first (its listener is registered first, see the import above).
AUDIT_LOCK = FEED_LOCK + 1
GENESIS_HASH = "0" * 64  # prev_hash of row 1 of a chain never pruned
PRUNE_ACTION = "audit_prune"
_ANCHOR = re.compile(r"anchor seq=(\d+) hash=([0-9a-f]{64})")


# --- writing ----------------------------------------------------------------------------------------

def audit(account_id: int | None, action: str, target: str | None = None, detail: str | None = None,
          *, records: int | None = None) -> None:
    """Log `action` by `account_id` on `target` in the current transaction. The row is written, and
    takes its place in the chain, when the transaction commits; if it rolls back (or the savepoint
    this was called in does), the row goes with it."""
    session = db.session()
    entry = {"at": utcnow(), "account_id": account_id, "action": action[:32],
             "target": target[:64] if target is not None else None, "records": records,
             "detail": detail[:255] if detail is not None else None}
    pending = session.info.setdefault(_PENDING, [])
    pending.append((entry, session.get_nested_transaction() or session.get_transaction()))


def log_read(account_id: int, action: str, target: str | None, records: int, detail: str | None = None) -> None:
    """Log a read of personal data from a read request (GET): one row, written in a write transaction
    of its own (SQLite: the writer queue and BEGIN IMMEDIATE; a read request's transaction is
    deferred and must not write). Call it once per request, after the page is rendered, so the
    page's objects are not loaded twice."""
    with write_transaction():
        audit(account_id, action, target, detail, records=records)


def row_hash(row: dict, prev_hash: str) -> str:
    """SHA-256 (hex) of the row's chained fields and prev_hash, serialised canonically: a JSON array
    in a fixed order, UTF-8, no spaces, the time as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC). Frozen: the
    migration that chained the rows before it keeps a copy, and verify() depends on it."""
    fields = [row["seq"], row["at"].isoformat(sep=" ", timespec="microseconds"), row["account_id"],
              row["action"], row["target"], row["records"], row["detail"], prev_hash]
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@event.listens_for(Session, "before_flush")
def _refuse_direct_rows(session, _context, _instances) -> None:
    # A row added to the session would be inserted without its place in the chain (and out of
    # commit order): every writer goes through audit().
    if any(isinstance(obj, AuditEvent) for obj in session.new):
        raise RuntimeError("AuditEvent rows are written by fieldapp.audit.audit(), not added to the session")


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session, transaction) -> None:
    # A savepoint rolled back (one sync item refused): rows logged in it, or in savepoints inside
    # it, go with it. The whole transaction rolling back is _forget's.
    pending = session.info.get(_PENDING)
    if not pending or not transaction.nested:
        return

    def inside(noted_in) -> bool:
        while noted_in is not None and noted_in is not transaction:
            noted_in = noted_in.parent
        return noted_in is transaction
    session.info[_PENDING] = [(entry, noted_in) for entry, noted_in in pending if not inside(noted_in)]


@event.listens_for(Session, "before_commit")
def _write_rows(session) -> None:
    # The chain must have one order. The next seq and prev_hash are read from the last row and the
    # new rows inserted under a lock held until the commit, so two writers never both extend the
    # same row (a fork) and a reader never sees a seq before the rows below it have committed.
    # Everything else is flushed first: once the lock is held the transaction must not wait for a
    # row another writer holds (that writer may be waiting for this lock: a deadlock). The lock is
    # held for one indexed read, one insert and the commit: an audited GET costs a short queue, not
    # a serialised app.
    pending = pending_at_commit(session, _PENDING)
    if not pending:
        return
    connection = session.connection()
    commit_order_lock(connection, AUDIT_LOCK)
    head = connection.execute(select(AuditEvent.seq, AuditEvent.row_hash)
                              .order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev = (head[0], head[1]) if head is not None else (0, GENESIS_HASH)
    rows = []
    for entry, _noted_in in pending:
        seq += 1
        row = {**entry, "seq": seq, "prev_hash": prev}
        row["row_hash"] = prev = row_hash(row, row["prev_hash"])
        rows.append(row)
    connection.execute(AuditEvent.__table__.insert(), rows)
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _forget(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


# --- verifying --------------------------------------------------------------------------------------

@dataclass
class Verdict:
    """What verify() found: ok, or the first row that breaks the chain (its seq and id) and how."""
    ok: bool
    rows: int
    problem: str = ""
    seq: int | None = None
    row_id: int | None = None
    head_seq: int | None = None
    head_hash: str | None = None

    def message(self) -> str:
        if self.ok:
            if not self.rows:
                return "OK: the audit log is empty."
            return f"OK: {self.rows} rows chained; last seq {self.head_seq}, hash {self.head_hash}."
        return f"FAILED at seq {self.seq} (id {self.row_id}): {self.problem}"


def _anchors(session) -> dict[int, str]:
    """seq -> row_hash of the last row each prune deleted (written in its audit_prune row)."""
    found = {}
    for detail in session.scalars(select(AuditEvent.detail).where(AuditEvent.action == PRUNE_ACTION)):
        match = _ANCHOR.search(detail or "")
        if match:
            found[int(match.group(1))] = match.group(2)
    return found


def verify(session=None, expect_head: tuple[int, str] | None = None, batch: int = 2000) -> Verdict:
    """Walk the chain in seq order and return the first row that breaks it:
    - its row_hash is not the hash of its fields: the row was changed (or forged);
    - its seq is not the previous seq + 1: rows before it were deleted;
    - its prev_hash is not the previous row's row_hash: it was inserted out of order (or the one
      before it replaced);
    - the first row is neither seq 1 after GENESIS_HASH nor the row after a prune's anchor: the
      oldest rows were deleted without a prune.
    `expect_head` (seq, hash), a head written down earlier, must still be in the chain: deleting
    the newest rows leaves no gap, only a shorter chain."""
    session = session or db.session
    anchors = _anchors(session)
    columns = (AuditEvent.id, AuditEvent.seq, AuditEvent.at, AuditEvent.account_id, AuditEvent.action,
               AuditEvent.target, AuditEvent.records, AuditEvent.detail, AuditEvent.prev_hash, AuditEvent.row_hash)
    previous: tuple[int, str] | None = None
    count, last_seq, head_seen = 0, 0, expect_head is None
    while True:
        # Plain rows in batches by seq: a year of reads stays out of the session's identity map.
        chunk = session.execute(select(*columns).where(AuditEvent.seq > last_seq)
                                .order_by(AuditEvent.seq).limit(batch)).all()
        if not chunk:
            break
        for row in chunk:
            problem = _break_in(row._asdict(), previous, anchors)
            if problem:
                return Verdict(False, count, problem, row.seq, row.id)
            if expect_head is not None and (row.seq, row.row_hash) == tuple(expect_head):
                head_seen = True
            previous = (row.seq, row.row_hash)
            count += 1
        last_seq = chunk[-1].seq
    if not head_seen:
        return Verdict(False, count, f"the expected head (seq {expect_head[0]}) is not in the chain: "
                                     "it, or rows before it, were changed or deleted", expect_head[0], None)
    return Verdict(True, count, head_seq=previous[0] if previous else None,
                   head_hash=previous[1] if previous else None)


def _break_in(row: dict, previous: tuple[int, str] | None, anchors: dict[int, str]) -> str | None:
    """Why `row` does not follow `previous` (seq, row_hash) in the chain, or None if it does."""
    if previous is None:
        if row["seq"] == 1:
            expected_prev = GENESIS_HASH
        elif row["seq"] - 1 in anchors:
            expected_prev = anchors[row["seq"] - 1]
        else:
            return (f"the chain starts here, but rows 1 to {row['seq'] - 1} were removed without a prune "
                    "anchor (deleted)")
        if row["prev_hash"] != expected_prev:
            return "its prev_hash does not match the start of the chain: inserted out of order, or changed"
    else:
        prev_seq, prev_hash = previous
        if row["seq"] != prev_seq + 1:
            missing = (f"row {prev_seq + 1}" if row["seq"] == prev_seq + 2
                       else f"rows {prev_seq + 1} to {row['seq'] - 1}")
            return f"{missing} before it are missing (deleted)"
        if row["prev_hash"] != prev_hash:
            return f"its prev_hash is not the hash of row {prev_seq}: inserted out of order"
    if row_hash(row, row["prev_hash"]) != row["row_hash"]:
        return "its contents do not match its hash: changed"
    return None


# --- retention --------------------------------------------------------------------------------------

def prune(days: int, now: datetime | None = None, account_id: int | None = None) -> int:
    """Delete the rows older than `days` days (never fewer than the minimum) and log the pruning as
    a row holding the anchor (seq and hash of the last row deleted) that verify() starts from. Only
    a prefix of the chain is deleted: rows up to the first one that is not old enough (and never
    the newest row), so a row written late by a long transaction never leaves a hole. Returns how many rows were deleted;
    the caller commits. On PostgreSQL this needs the table owner's role (the app's may not DELETE)."""
    if days < MIN_AUDIT_RETENTION_DAYS:
        raise ValueError(f"audit rows must be kept at least {MIN_AUDIT_RETENTION_DAYS} days")
    cutoff = (now or utcnow()) - timedelta(days=days)
    session = db.session
    first_kept = session.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.at >= cutoff))
    # The newest row always stays, even when old: the next row (this prune's) must find the head to
    # chain to, or it would start a new chain at seq 1 after GENESIS_HASH.
    newest = session.scalar(select(func.max(AuditEvent.seq)))
    if first_kept is None and newest is not None:
        first_kept = newest
    last_old = select(func.max(AuditEvent.seq)).where(AuditEvent.at < cutoff)
    if first_kept is not None:
        last_old = last_old.where(AuditEvent.seq < first_kept)
    upto = session.scalar(last_old)
    if upto is None:
        audit(account_id, PRUNE_ACTION, None, f"nothing older than {days} days", records=0)
        return 0
    anchor = session.scalar(select(AuditEvent.row_hash).where(AuditEvent.seq == upto))
    deleted = session.execute(delete(AuditEvent).where(AuditEvent.seq <= upto)).rowcount
    audit(account_id, PRUNE_ACTION, f"audit_event:{upto}",
          f"older than {days} days; anchor seq={upto} hash={anchor}", records=deleted)
    return deleted


# --- PostgreSQL privileges --------------------------------------------------------------------------

def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def grant_statements(role: str, schema: str = "public") -> list[str]:
    """The privileges of the app's role: everything it needs on every table, and on audit_events
    only SELECT and INSERT (no UPDATE, DELETE, TRUNCATE), also for tables later migrations create
    (default privileges of the owner who runs them). The role must not own the tables: an owner
    keeps every privilege whatever is revoked."""
    r, s = _quote(role), _quote(schema)
    return [
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {r}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {s}.audit_events FROM {r}",
    ]
