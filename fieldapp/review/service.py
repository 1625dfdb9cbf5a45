"""Conflicts for the reviewer: a field two editors changed to different values while one of them
was offline (fieldapp/push keeps such fields as Conflict rows and applies neither value).

Rules:
- A reviewer sees the unresolved conflicts on records their role and villages let them see (people
  from abroad: police only), oldest first.
- Resolving decides the field once: "kept" leaves the record as it is now, "submitted" writes the
  editor's value as a new change, validated by the same rules as any edit of that field. Only the
  record's own edit fields can take a submitted value; a whole-record conflict (a person marked as
  left, an organisation closed meanwhile) can only be kept.
- The decision is made on what the reviewer saw: if the record changed after the page was shown,
  nothing is written and the conflict is shown again with the record as it is now.
- Two reviewers deciding the same conflict at once: the first decision stands, the second is told so.
- The decision is kept on the conflict (who, when, which) and in the audit log.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select, update

from .. import records, scope
from ..accounts import audit
from ..extensions import db
from ..models import Account, Conflict, utcnow
from ..push.context import MODELS
from ..push.errors import Rejected
from ..push.operations import apply_reviewed_value

EDIT_FIELDS = {"house": records.HOUSE_FIELDS, "person": records.PERSON_FIELDS, "organisation": records.ORG_FIELDS}
CHOICES = ("kept", "submitted")
LIST_LIMIT = 200


class AlreadyResolved(Exception):
    """Someone decided this conflict first."""


class RecordChanged(Exception):
    """The record changed after the reviewer saw it: nothing was written."""


class Refused(Exception):
    """The submitted value does not pass the field's rules today; `errors` are the form's messages."""

    def __init__(self, errors: dict):
        super().__init__(sorted(errors))
        self.errors = errors


@dataclass
class Item:
    conflict: Conflict
    record: object

    @property
    def takeable(self) -> bool:
        """Whether the submitted value may be taken: the field is one of the record's edit fields."""
        return self.conflict.field in EDIT_FIELDS[self.conflict.entity]

    @property
    def now(self):
        """The field's value on the record now (it may differ from `conflict.current`)."""
        value = getattr(self.record, self.conflict.field, None)
        return records.json_value(value)


def _scoped(account: Account) -> dict:
    return {"house": scope.houses(account), "person": scope.people(account),
            "organisation": scope.organisations(account)}


def _waiting(account: Account):
    """Per entity: the records `account` may see, joined to their unresolved conflicts."""
    for entity, query in _scoped(account).items():
        model = MODELS[entity]
        yield (query.join(Conflict, and_(Conflict.entity == entity, Conflict.entity_id == model.id))
               .where(Conflict.resolved_at.is_(None)))


def pending(account: Account, limit: int = LIST_LIMIT) -> tuple[list[Item], bool]:
    """The unresolved conflicts `account` may see, oldest first, at most `limit`; and whether more
    are waiting."""
    rows = []
    for query in _waiting(account):
        rows += db.session.execute(query.add_columns(Conflict).order_by(Conflict.created_at, Conflict.id)
                                   .limit(limit + 1)).all()
    rows.sort(key=lambda row: (row[1].created_at, row[1].id))
    items = [Item(conflict, record) for record, conflict in rows]
    return items[:limit], len(items) > limit


def item_or_none(account: Account, conflict_id: int) -> Item | None:
    """The conflict with its record, if `account` may see that record (resolved or not)."""
    conflict = db.session.get(Conflict, scope.key_or_404(conflict_id))
    if conflict is None or conflict.entity not in MODELS:
        return None
    model = MODELS[conflict.entity]
    record = db.session.scalar(_scoped(account)[conflict.entity].where(model.id == conflict.entity_id))
    if record is None:
        return None
    return Item(conflict, record)


def resolve(account: Account, item: Item, choice: str, seen_version: int | None) -> None:
    """Decide `item` (see the module's rules). The caller commits; on an exception it rolls back.
    Raises RecordChanged, AlreadyResolved or Refused."""
    conflict, record = item.conflict, item.record
    if choice not in CHOICES or (choice == "submitted" and not item.takeable):
        raise ValueError(choice)
    if seen_version != record.version:
        raise RecordChanged()
    # Claim the conflict first: a concurrent decision makes this UPDATE match no row.
    claimed = db.session.execute(
        update(Conflict).where(Conflict.id == conflict.id, Conflict.resolved_at.is_(None))
        .values(resolved_at=utcnow(), resolved_by_id=account.id, resolution=choice)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise AlreadyResolved()
    if choice == "submitted":
        try:
            apply_reviewed_value(account, conflict.entity, record, conflict.field, conflict.submitted)
        except Rejected as rejected:
            raise Refused({k: [str(m) for m in v] for k, v in rejected.errors.items()}
                          or {conflict.field: [str(rejected.result(None)["reason"])]}) from None
    audit(account.id, "conflict.resolve", f"conflict:{conflict.id}", choice)
    db.session.expire(conflict)


def open_count(account: Account) -> int:
    """How many unresolved conflicts `account` may see (for the navigation's badge)."""
    return sum(db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
               for query in _waiting(account))
