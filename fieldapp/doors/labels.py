"""Blank door labels (models/labels.py): printing label stock for a village, and binding a scanned
label to a new house when the phone's house.new reaches the server.

Rules (docs/sync-protocol.md, "Blank labels"):
- A label's code is drawn like a house's (rules.doorcode) and is never a house's, a retired code or
  another label's; its token has the same format as a house's, so the printed QR looks the same.
- A label binds to the house created with it only when it is unbound and issued to the house's
  village. The house then takes the label's code and token (no fresh code is drawn for it), and the
  scan is the new house's door proof.
- Binding is one `UPDATE ... WHERE bound_house_id IS NULL`: of two phones binding one label at the
  same moment exactly one wins (PostgreSQL re-checks the condition after the first commits; SQLite
  serialises writers). The loser's house keeps the fresh code it was created with.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from ..accounts import audit
from ..extensions import db
from ..models import BlankLabel, House, RetiredDoorCode, utcnow
from ..rules.doorcode import new_door_code, new_door_token
from .codes import TOKEN_SHAPE

MAX_PER_BATCH = 240  # 20 A4 pages of 12: one office printer run; more means another batch

BIND_STATUSES = ("bound", "unknown", "taken", "other_village")
BIND_MESSAGES = {
    "bound": _l("The scanned door label is now this house's label: the visit counts as a door scan."),
    "unknown": _l("The scanned QR code is not one of the office's blank door labels. The house got a new "
                  "code: print its label from the door labels page."),
    "taken": _l("The scanned door label already belongs to another house. The house got a new code: "
                "print its label from the door labels page."),
    "other_village": _l("The scanned door label was issued to another village. The house got a new code: "
                        "print its label from the door labels page, or use a label of this village."),
}


def _unused_codes(count: int) -> list[str]:
    """`count` distinct codes that no house, retired code or label has."""
    codes: set[str] = set()
    while len(codes) < count:
        draw = {new_door_code() for _ in range(count - len(codes))} - codes
        chunk = sorted(draw)
        taken = set(db.session.scalars(select(House.door_code).where(House.door_code.in_(chunk))))
        taken |= set(db.session.scalars(select(RetiredDoorCode.door_code).where(RetiredDoorCode.door_code.in_(chunk))))
        taken |= set(db.session.scalars(select(BlankLabel.door_code).where(BlankLabel.door_code.in_(chunk))))
        codes |= draw - taken
    return sorted(codes)


def new_batch_key(now: datetime | None = None) -> str:
    """A batch's name: when it was printed and a random tail (two offices printing at once differ)."""
    now = now or utcnow()
    return f"{now:%Y%m%d-%H%M}-{secrets.token_hex(3)}"


def issue(account_id: int | None, village_id: int, count: int, source: str = "web") -> tuple[str, list[BlankLabel]]:
    """Create `count` (1..MAX_PER_BATCH) unbound labels for a village in one new batch, in the caller's
    transaction, and audit it (the labels carry working tokens)."""
    if not 1 <= count <= MAX_PER_BATCH:
        raise ValueError(f"count must be 1..{MAX_PER_BATCH}")
    batch = new_batch_key()
    labels = [BlankLabel(door_code=code, door_token=new_door_token(), village_id=village_id, batch=batch,
                         created_by_id=account_id) for code in _unused_codes(count)]
    db.session.add_all(labels)
    db.session.flush()
    audit(account_id, "blank_labels_printed", f"village:{village_id}", f"{source}: batch {batch}, {count} labels")
    return batch, labels


def batches(village_id: int) -> list[tuple[str, int, int, datetime]]:
    """The village's batches, newest first: (batch, labels, of which bound, created_at)."""
    rows = db.session.execute(
        select(BlankLabel.batch, func.count(), func.count(BlankLabel.bound_house_id), func.min(BlankLabel.created_at))
        .where(BlankLabel.village_id == village_id).group_by(BlankLabel.batch)
        .order_by(func.min(BlankLabel.created_at).desc(), BlankLabel.batch.desc())).all()
    return [tuple(r) for r in rows]


def batch_labels(village_id: int, batch: str) -> list[BlankLabel]:
    return list(db.session.scalars(select(BlankLabel).where(BlankLabel.village_id == village_id,
                                                            BlankLabel.batch == batch).order_by(BlankLabel.id)))


def _token_shaped(token) -> bool:
    """Only what a label's token can look like is looked up (a pasted NUL byte or a long text is
    simply unknown, never a database error)."""
    return isinstance(token, str) and TOKEN_SHAPE.fullmatch(token) is not None


def unbound(token: str) -> BlankLabel | None:
    """The unbound label with this token, if any (the public door page and the phone's lookups)."""
    if not _token_shaped(token):
        return None
    return db.session.scalar(select(BlankLabel).where(BlankLabel.door_token == token,
                                                      BlankLabel.bound_house_id.is_(None)))


def claim(account_id: int, village_id: int, token) -> tuple[str, BlankLabel | None]:
    """Claim the label with `token` for a house about to be created in `village_id`, in the caller's
    transaction: ("bound", label) when it was unbound and of that village (the caller then creates
    the house with the label's code and token and calls attach()), otherwise (reason, None) with a
    reason from BIND_STATUSES and nothing changed. The claim is the one conditional UPDATE that
    decides a race (module rules)."""
    label = db.session.scalar(select(BlankLabel).where(BlankLabel.door_token == token)) \
        if _token_shaped(token) else None
    if label is None:
        return "unknown", None
    if label.bound_house_id is not None or label.bound_at is not None:
        return "taken", None
    if label.village_id != village_id:
        return "other_village", None
    won = db.session.execute(update(BlankLabel).where(BlankLabel.id == label.id, BlankLabel.bound_house_id.is_(None),
                                                      BlankLabel.bound_at.is_(None))
                             .values(bound_at=utcnow(), bound_by_id=account_id)
                             .execution_options(synchronize_session=False)).rowcount
    db.session.expire(label)  # the UPDATE bypassed the session: read the row afresh when asked
    if won != 1:
        return "taken", None
    return "bound", label


def attach(label: BlankLabel, house: House) -> None:
    """Record which house a claimed label now belongs to (same transaction as claim())."""
    db.session.execute(update(BlankLabel).where(BlankLabel.id == label.id).values(bound_house_id=house.id)
                       .execution_options(synchronize_session=False))
    db.session.expire(label)


def bind_result(status: str) -> dict:
    """What a house.new's result says about its label (the phone shows `reason` unless bound)."""
    return {"status": status, "reason": str(BIND_MESSAGES[status])}
