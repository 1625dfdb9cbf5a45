"""Door proof on a house's page: the visits made to this door and the records collected here, each
marked with whether it was collected under a scanned visit (issue #4: records collected without a
scanned visit are marked as having no door proof; supervisors see visits and proofs)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select

from ..extensions import db
from ..models import Account, Change, House, Visit
from ..rules.permissions import can


@dataclass(frozen=True)
class DoorRecord:
    visits: list  # (Visit, collection ID) newest first
    changes: list  # (Change, collection ID or None) newest first
    with_proof: int  # of `changes`
    without_proof: int


def door_record(account: Account, house: House, person_ids, org_ids, limit: int = 20) -> DoorRecord:
    """The newest `limit` visits to `house` and the newest `limit` changes to the house, the people
    (`person_ids`, already scoped for `account`) and organisations (`org_ids`) at it. Changes the
    account may not see (police-only ones, for everyone but police) are left out, like everywhere."""
    visits = db.session.execute(
        select(Visit, Account.collection_id).join(Account, Account.id == Visit.account_id)
        .where(Visit.house_id == house.id).order_by(Visit.at.desc()).limit(limit)).all()
    targets = [and_(Change.entity == "house", Change.entity_id == house.id)]
    if person_ids:
        targets.append(and_(Change.entity == "person", Change.entity_id.in_(list(person_ids))))
    if org_ids:
        targets.append(and_(Change.entity == "organisation", Change.entity_id.in_(list(org_ids))))
    query = (select(Change, Account.collection_id).outerjoin(Account, Account.id == Change.collected_by_id)
             .where(or_(*targets)).order_by(Change.collected_at.desc(), Change.id.desc()).limit(limit))
    if not can(account.role, "registry.police_only"):
        query = query.where(Change.police_only.is_(False))
    changes = db.session.execute(query).all()
    with_proof = sum(1 for change, _cid in changes if change.door_proof)
    return DoorRecord(visits, changes, with_proof, len(changes) - with_proof)
