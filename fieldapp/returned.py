"""Changes returned to their collector (the entry desk's 退回修改, fieldapp/review/desk.py), as the
collector's phone gets them on the last page of its work package (`returned`, fieldapp/sync.py).

Rules:
- The list holds the account's own changes in state 'returned' (not yet corrected: its next change
  to the record corrects it, records._correct_returned), oldest return first, RETURNED_MAX at most.
- Only records the account may still see (fieldapp.scope: its villages; people from abroad, and
  every change marked police_only, for police alone). A record that left its scope drops out.
- Each item names the change, the record (entity and uid), the kind, the reasons per field and for
  the record as a whole ('_'), when it was returned, and the reviewer by collection ID (never by
  name). The phone replaces its list with each one it gets, like tip tasks.
"""
from __future__ import annotations

from sqlalchemy import select

from . import scope
from .extensions import db
from .models import Account, Change, House, Organisation, Person
from .rules import review as review_rules
from .rules.permissions import can

RETURNED_MAX = 200  # a phone's list; nobody has hundreds of returns waiting
WHOLE = "_"  # return_reasons' key for the record as a whole


def returned_for(account: Account) -> list[dict] | None:
    """The account's returned, uncorrected changes it may still see; None for roles that do not
    collect (no registry.write)."""
    if not can(account.role, "registry.write"):
        return None
    query = select(Change).where(Change.collected_by_id == account.id,
                                 Change.review_state == review_rules.RETURNED)
    if not can(account.role, "registry.police_only"):
        query = query.where(Change.police_only.is_(False))
    changes = list(db.session.scalars(query.order_by(Change.reviewed_at, Change.id).limit(RETURNED_MAX)))
    if not changes:
        return []
    uids: dict[tuple[str, int], str] = {}
    for entity, model, visible in (("house", House, scope.houses), ("person", Person, scope.people),
                                   ("organisation", Organisation, scope.organisations)):
        ids = {c.entity_id for c in changes if c.entity == entity}
        if ids:
            rows = db.session.execute(visible(account).where(model.id.in_(ids)).with_only_columns(model.id, model.uid))
            uids.update({(entity, rid): uid for rid, uid in rows})
    reviewer_ids = {c.reviewed_by_id for c in changes if c.reviewed_by_id is not None}
    reviewers = dict(db.session.execute(select(Account.id, Account.collection_id)
                                        .where(Account.id.in_(reviewer_ids))).all()) if reviewer_ids else {}
    out = []
    for change in changes:
        record_uid = uids.get((change.entity, change.entity_id))
        if record_uid is None:
            continue  # out of the account's scope now
        out.append(returned_json(change, record_uid, reviewers.get(change.reviewed_by_id)))
    return out


def returned_json(change: Change, record_uid: str, reviewer: str | None) -> dict:
    """One returned change as the phone keeps it (sealed there: a reason may name a person)."""
    reasons = dict(change.return_reasons or {})
    whole = reasons.pop(WHOLE, None)
    return {"uid": change.uid, "entity": change.entity, "record_uid": record_uid, "kind": change.kind,
            "reasons": reasons, "whole": whole,
            "returned_at": change.reviewed_at.replace(microsecond=0).isoformat() + "Z" if change.reviewed_at else None,
            "reviewer": reviewer}
