"""Registering a document that is already registered, without letting anyone who knows an ID
number take a person over. No HTTP here: the web form, the phone's push and the review pages call
these; callers commit.

Rules:
- A new document is a new person (records.add_person).
- A document registered to a person the submitter may see (their villages; people from abroad for
  police only) is that person: the registration fills what the record lacks, a differing value (a
  name) becomes a conflict for the reviewer, never an overwrite, and a person living at another
  house in scope moves here with their history kept (records.add_person).
- A document registered to anyone else (another village or town, or a person from abroad for a
  non-police submitter) becomes a move request (迁入待核实) that holds only what was typed. The
  submitter learns nothing about the existing record: every such case gets the same answer, which
  names neither the village nor the category.
- A request waits for a reviewer of the receiving village (police, if the person or the submission
  is from abroad, then or since) who is not its submitter. That reviewer confirms it at once if
  they also see the person where they are registered now; otherwise only after the village the
  person is registered in now has been told: its reviewer acknowledged the request in their queue
  (an acknowledgement from a village the person has left since does not count). Either side may
  refuse it, with a note. The submitter's own view names no village.
- Confirming moves the person under the requester's visit (records.move_person: history kept),
  fills what the record lacks and keeps differing values as conflicts, exactly as in scope; other
  pending requests for the same person are refused as superseded. A phone's items waiting for the
  requested record then find it. Refusing writes nothing to the person, and refuses the phone's
  items waiting for the record it asked for.
- Every request, acknowledgement and decision is in the audit log.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select, update

from . import records, scope
from .accounts import audit
from .extensions import db
from .models import Account, Change, MoveRequest, Person, SyncReceipt, utcnow
from .rules.permissions import POLICE_ONLY_CATEGORIES, can

REQUESTED_CODE = "move_requested"
REQUESTED_MESSAGE = _l("This document number is already registered elsewhere. Your registration has been "
                       "sent for checking; the person moves here once a reviewer confirms it.")
REFUSED_CODE = "move_refused"
REFUSED_MESSAGE = _l("The move of this person was not confirmed, so this change cannot be applied.")
SUPERSEDED = "superseded"
DATE_FIELDS = ("birth_date", "move_in_date")


class NotAllowed(Exception):
    """The account may not take this decision on this request (now)."""


class AlreadyDecided(Exception):
    """Someone decided this request first."""


@dataclass
class Registered:
    """What a registration did: outcome 'new' | 'updated' | 'moved' (person set; conflicts kept for
    the reviewer) or 'requested' (request set; nobody moved)."""
    outcome: str
    person: Person | None = None
    conflicts: dict = field(default_factory=dict)
    request: MoveRequest | None = None


def _sees(account: Account, person: Person) -> bool:
    """The person is in the account's scope (their villages, and from abroad only for police)."""
    return db.session.scalar(scope.people(account).where(Person.id == person.id).with_only_columns(Person.id)) is not None


def _police_only(person: Person, data: dict) -> bool:
    return person.category in POLICE_ONLY_CATEGORIES or data.get("category") in POLICE_ONLY_CATEGORIES


def register(account: Account, actor: records.Actor, house, data: dict, relation: str | None = None,
             room: str | None = None, uid: str | None = None, item_uid: str | None = None) -> Registered:
    """Register the person in `data` at `house` for `account` (see the module's rules)."""
    known = records.find_person(data["id_type"], data["id_number"])
    if known is not None and not _sees(account, known):
        request = request_move(account.id, actor, known, house, data, relation, room, uid=uid, item_uid=item_uid)
        return Registered("requested", request=request)
    person, outcome, conflicts = records.add_person(actor, house, data, relation, room, uid=uid)
    return Registered(outcome, person, conflicts)


def request_move(account_id: int | None, actor: records.Actor, known: Person, house, data: dict,
                 relation: str | None = None, room: str | None = None, uid: str | None = None,
                 item_uid: str | None = None) -> MoveRequest:
    """Ask for `known` (a registered person) to be moved to `house` with what was typed (`data`):
    nobody moves until a reviewer confirms (see the module's rules). `account_id` None: a register
    import run from the command line."""
    request = MoveRequest(
        **({"uid": uid} if uid else {}), person_id=known.id, from_village_id=known.village_id, to_house_id=house.id,
        to_village_id=house.village_id, data={n: records.json_value(v) for n, v in data.items()},
        relation=relation, room=room, police_only=_police_only(known, data), source=actor.source,
        item_uid=item_uid, requested_by_id=account_id, known_on=actor.known_on,
        collected_at=actor.collected_at or utcnow(), visit_uid=actor.visit_uid, door_proof=actor.door_proof)
    db.session.add(request)
    db.session.flush()
    audit(account_id, "move.request", f"move_request:{request.id}")
    return request


# The review side ----------------------------------------------------------------------------------

def village_ids(account: Account) -> set[int]:
    return {v.id for v in scope.villages(account)}


def _police_only_now():
    """A request is police-only if it was when asked or the person is now from abroad (the police
    may learn it while the request waits)."""
    return or_(MoveRequest.police_only,
               MoveRequest.person_id.in_(select(Person.id).where(Person.category.in_(POLICE_ONLY_CATEGORIES))))


def _visible(account: Account, pending_only: bool):
    """The requests `account` reviews: for the receiving village, or for the person where they are
    registered now (and, once decided, where they were), police-only ones for police alone; and the
    account's own requests (shown without anything of the registered record). None for roles that
    do not review moves."""
    if not can(account.role, "moves.review"):
        return select(MoveRequest).where(False)
    own = MoveRequest.requested_by_id == account.id
    sides = [scope.village_filter(account, MoveRequest.to_village_id),
             MoveRequest.person_id.in_(scope.people(account).with_only_columns(Person.id))]
    if not pending_only:
        sides.append(scope.village_filter(account, MoveRequest.from_village_id))
    query = select(MoveRequest).where(or_(own, *sides))
    if pending_only:
        query = query.where(MoveRequest.status == "pending")
    if not can(account.role, "registry.police_only"):
        query = query.where(or_(own, ~_police_only_now()))
    return query


def reviewable(account: Account):
    """The pending requests `account` reviews (see _visible)."""
    return _visible(account, pending_only=True)


def pending(account: Account, limit: int = 200) -> list[MoveRequest]:
    """Oldest first."""
    return list(db.session.scalars(reviewable(account).order_by(MoveRequest.requested_at, MoveRequest.id).limit(limit)))


def pending_count(account: Account) -> int:
    return db.session.scalar(select(func.count()).select_from(reviewable(account).subquery())) or 0


def request_or_none(account: Account, request_id: int) -> MoveRequest | None:
    """A request `account` reviews (pending or decided), else None (the view answers 404)."""
    return db.session.scalar(_visible(account, pending_only=False).where(MoveRequest.id == scope.key_or_404(request_id)))


@dataclass
class Powers:
    """What `account` may do with one request now, and what it may be shown."""
    receiving: bool  # reviews the receiving village (and may see the request's category)
    sending: bool  # sees the person where they are registered now
    own: bool  # submitted it
    told: bool  # the village the person is registered in now has acknowledged the request

    @property
    def confirm(self) -> bool:
        return self.receiving and not self.own

    @property
    def may_confirm(self) -> bool:
        return self.confirm and (self.sending or self.told)

    @property
    def may_acknowledge(self) -> bool:
        return self.sending and not self.own and not self.told

    @property
    def refuse(self) -> bool:
        return (self.receiving or self.sending) and not self.own

    @property
    def sees_sending_village(self) -> bool:
        """Which village the person is registered in is shown to the reviewers deciding, never to
        the one who asked (the answer to a registration names no village)."""
        return not self.own and (self.receiving or self.sending)


def powers(account: Account, request: MoveRequest, villages: set[int] | None = None) -> Powers:
    """`villages`: the account's village ids (village_ids()), given by a caller asking about many
    requests so that they are read once."""
    person = request.person
    police_only = request.police_only or person.category in POLICE_ONLY_CATEGORIES
    reviews = can(account.role, "moves.review")
    receiving = reviews and request.to_village_id in (villages if villages is not None else village_ids(account)) and (
        not police_only or can(account.role, "registry.police_only"))
    sending = reviews and _sees(account, person)
    # An acknowledgement counts for the village that gave it: a person moved elsewhere meanwhile
    # must be seen by their new village first.
    told = request.acknowledged_at is not None and request.from_village_id == person.village_id
    return Powers(receiving=receiving, sending=sending, own=request.requested_by_id == account.id, told=told)


def _claim(request: MoveRequest, account: Account, status: str, note: str | None) -> None:
    """Decide the request once: a concurrent decision makes this UPDATE match no row."""
    claimed = db.session.execute(
        update(MoveRequest).where(MoveRequest.id == request.id, MoveRequest.status == "pending")
        .values(status=status, decided_at=utcnow(), decided_by_id=account.id, note=note)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise AlreadyDecided()
    db.session.expire(request)


def acknowledge(account: Account, request: MoveRequest) -> None:
    """The sending village is told: its reviewer has seen the request."""
    if request.status != "pending":
        raise AlreadyDecided()
    if not powers(account, request).may_acknowledge:
        raise NotAllowed()
    db.session.execute(update(MoveRequest).where(MoveRequest.id == request.id)
                       .values(acknowledged_at=utcnow(), acknowledged_by_id=account.id,
                               from_village_id=request.person.village_id)
                       .execution_options(synchronize_session=False))
    db.session.expire(request)
    audit(account.id, "move.acknowledge", f"move_request:{request.id}")


def confirm(account: Account, request: MoveRequest) -> dict:
    """Move the person (see the module's rules). Returns the conflicts kept for the reviewer.
    Raises NotAllowed, AlreadyDecided or records.DateOrder (the caller rolls back)."""
    if request.status != "pending":
        raise AlreadyDecided()
    # The person's row first (PostgreSQL): two confirms for one person, or a confirm and another
    # move, take their turns instead of deadlocking on the requests and residences.
    db.session.execute(select(Person.id).where(Person.id == request.person_id).with_for_update())
    db.session.refresh(request.person)
    if not powers(account, request).may_confirm:
        raise NotAllowed()
    _claim(request, account, "confirmed", None)
    person, house = request.person, request.to_house
    actor = records.Actor(account_id=request.requested_by_id, source=request.source, known_on=request.known_on,
                          collected_at=request.collected_at, visit_uid=request.visit_uid,
                          door_proof=request.door_proof, reviewed_by=account.id)
    data = {n: date.fromisoformat(v) if n in DATE_FIELDS and v else v for n, v in request.data.items()}
    before = db.session.scalar(select(func.max(Change.id))) or 0
    moving = not (person.house_id == house.id and person.status == "living")
    conflicts = records.fill_known_person(actor, person, data, moving)
    if moving:
        records.move_person(actor, person, house, data.get("move_in_date"), request.relation, request.room)
    records.keep_conflicts("person", person, conflicts, request.requested_by_id, request.item_uid)
    # The Change rows of this move were reviewed by the one who confirmed it.
    db.session.execute(update(Change).where(Change.entity == "person", Change.entity_id == person.id,
                                            Change.id > before)
                       .values(reviewed_at=utcnow(), reviewed_by_id=account.id).execution_options(synchronize_session=False))
    # The phone named the person by its own uid: from now on that uid finds the person, and its
    # items held for it are released by the next push's sweep.
    if request.item_uid:
        db.session.execute(update(SyncReceipt).where(SyncReceipt.item_uid == request.item_uid)
                           .values(status="accepted", record_uid=person.uid)
                           .execution_options(synchronize_session=False))
    for other in db.session.scalars(select(MoveRequest).where(MoveRequest.person_id == person.id,
                                                              MoveRequest.status == "pending",
                                                              MoveRequest.id != request.id)):
        _claim(other, account, "refused", SUPERSEDED)
        _refuse_waiting(other)
    audit(account.id, "move.confirm", f"move_request:{request.id}", f"person:{person.id}")
    return conflicts


def refuse(account: Account, request: MoveRequest, note: str) -> None:
    """Refuse the request: nothing is written to the person."""
    if request.status != "pending":
        raise AlreadyDecided()
    if not powers(account, request).refuse:
        raise NotAllowed()
    _claim(request, account, "refused", (note or "").strip()[:255] or None)
    _refuse_waiting(request)
    audit(account.id, "move.refuse", f"move_request:{request.id}")


def _refuse_waiting(request: MoveRequest) -> None:
    """A phone's items held for the record it asked for will never find it."""
    if not request.uid:
        return
    for receipt in db.session.scalars(select(SyncReceipt).where(SyncReceipt.status == "held",
                                                                SyncReceipt.waits_for == request.uid)):
        receipt.status, receipt.payload, receipt.waits_for, receipt.applied_at = "rejected", None, None, utcnow()
        receipt.result = {"uid": receipt.item_uid, "status": "rejected", "code": REFUSED_CODE,
                          "reason": str(REFUSED_MESSAGE), "errors": {}}


def arriving(account: Account, house_id: int) -> list[MoveRequest]:
    """Pending requests to move someone into this house, as the house page lists them: what was
    typed. Hidden only when what was typed is police-only and the viewer is not police; never
    because of the registered record, whose category the page must not betray."""
    police = can(account.role, "registry.police_only")
    return [r for r in db.session.scalars(select(MoveRequest).where(
                and_(MoveRequest.to_house_id == house_id, MoveRequest.status == "pending")).order_by(MoveRequest.id))
            if police or r.data.get("category") not in POLICE_ONLY_CATEGORIES]
