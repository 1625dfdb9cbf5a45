"""Tips as plain functions: submitting (informant or public), moving a tip through its life cycle,
the collectors' task list and the facts rewards are paid on. No HTTP here: the views in
tips/views.py and the phone sync (fieldapp/sync.py, op tip.new) call these. Callers commit.

The rules themselves (kinds, deadline, states, who may do what) are in rules/tips.py. Here:
- every write bumps the tip's version, writes an AuditEvent (`tip_<action>`, target `tip:<id>`,
  never personal data) and notes the village in the live feed (changefeed.note_village_changed(v, "tip"));
- a tip row is locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers) before it
  moves, so two collectors taking the same tip at once get one success and one wrong_state;
- public tips are rate-limited by counting rows in the database (every worker process sees them):
  PUBLIC_PER_SENDER_PER_HOUR per sender (Tip.sender_key = HMAC-SHA256 of the sender's IP address
  with the app's secret key: the address itself is never stored) and PUBLIC_PER_DOOR_PER_DAY per
  door (house), both over a sliding window ending now.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, text

from .. import scope
from ..accounts import audit
from ..extensions import db
from ..changefeed import note_village_changed
from ..photos import keep_photo, process_photo
from ..models import Account, House, Photo, Tip, Village, Visit, account_villages, new_uid, utcnow
from ..rules import days
from ..rules import tips as rules
from ..rules.address import format_address
from ..rules.doorcode import is_valid_door_code, normalise_door_code
from ..rules.permissions import can, is_town_wide


# The user's message for each TipError code (the pages and the phone show the same words).
MESSAGES = {
    "forbidden": _l("Your collection ID may not do this with tips."),
    "out_of_scope": _l("This place is not in your villages."),
    "wrong_state": _l("Someone else moved this tip on meanwhile. Look at how it stands now."),
    "not_assignee": _l("Only the collector this tip is assigned to can verify it."),
    "no_visit": _l("Visit the door first: open the house on your phone by scanning its door code, then verify the tip."),
    "note_required": _l("Say what you found at the door."),
    "not_a_worker": _l("Choose a collector of this tip's village."),
    "too_long": _l("This text is too long. Shorten it."),
    "no_place": _l("Enter the door code, or the door number, or describe the place."),
    "unknown_door": _l("No door in your villages has this code. Check it, or give the address instead."),
    "rate_limited": _l("Too many tips were sent from here or about this door. Try again later, or call the village office."),
    "future": _l("This date is in the future. Enter the date it happened."),
    "bad_kind": _l("Choose what changed."),
    "bad_verdict": _l("Choose what you found."),
    "no_phone": _l("Enter a phone number we can call back."),
    "bad_date": _l("Enter the date as year-month-day, e.g. 2026-03-01."),
    "exists": _l("This tip was sent already."),
}


class TipError(Exception):
    """A refused tip operation; `code` picks the user's message (MESSAGES), `field` names the
    input at fault when there is one (for the phone's per-field errors)."""

    def __init__(self, code: str, field: str | None = None):
        super().__init__(code)
        self.code = code
        self.field = field


def today() -> date:
    """Today in China (the deadline is counted in local days)."""
    return days.today()


# Houses ------------------------------------------------------------------------------------------

def house_by_code(account: Account, text_code: str | None) -> House | None:
    """The house with this door code among the account's villages, else None. Informants have no
    registry read: the answer only tells whether the code names a door in their own villages."""
    code = normalise_door_code(text_code)
    if not is_valid_door_code(code):
        return None
    return db.session.scalar(select(House).where(House.door_code == code,
                                                 scope.village_filter(account, House.village_id)))


def house_by_address(village_id: int, group: str | None, number: str | None) -> House | None:
    """The one house of `village_id` at exactly this group and door number, else None (no number, no
    match, or several houses there, e.g. rooms of a group rental). Nothing about the house is shown
    to the sender either way: the tip just gets the house attached (else keeps the address text)."""
    group, number = (group or "").strip().removesuffix("组"), (number or "").strip().removesuffix("号")
    if not number:
        return None
    query = select(House.id).where(House.village_id == village_id, House.number == number)
    query = query.where(House.group_name == group) if group else query.where(House.group_name.is_(None))
    ids = list(db.session.scalars(query.limit(2)))
    return db.session.get(House, ids[0]) if len(ids) == 1 else None


def house_by_token(token: str) -> House | None:
    """The house whose (current) door QR token this is; retired and unknown tokens name no house
    (the doors blueprint's lookup decides, so both pages agree)."""
    from ..doors.codes import lookup

    state, found = lookup(token)
    return found if state == "live" else None


# Submitting --------------------------------------------------------------------------------------

def _new_tip(**fields) -> Tip:
    now = utcnow()
    tip = Tip(received_at=now, due_on=rules.due_on(now), state="new", version=1,
              **{"submitted_at": now, **fields})
    db.session.add(tip)
    db.session.flush()
    note_village_changed(tip.village_id, "tip")
    return tip


def _clean_details(details: str | None) -> str | None:
    details = (details or "").strip()
    if len(details) > rules.DETAILS_MAX:
        raise TipError("too_long")
    return details or None


def submit_informant_tip(account: Account, *, kind: str, village_id: int, house: House | None = None,
                         address_text: str | None = None, happened_on: date | None = None,
                         details: str | None = None, photo: bytes | None = None, uid: str | None = None,
                         submitted_at: datetime | None = None) -> Tip:
    """A tip from a signed-in holder of tips.submit about a door of their own villages: a known house,
    or an address kept as text. An optional photo is checked and re-encoded (photos.process_photo)."""
    if not can(account.role, "tips.submit"):
        raise TipError("forbidden")
    if kind not in rules.KINDS:
        raise TipError("bad_kind")
    if village_id not in {v.id for v in scope.villages(account)}:
        raise TipError("out_of_scope")
    if house is not None and house.village_id != village_id:
        raise TipError("out_of_scope")
    if house is None and not (address_text or "").strip():
        raise TipError("no_place")
    if happened_on is not None and happened_on > today():
        raise TipError("future")
    tip = _new_tip(source="informant", informant_id=account.id, village_id=village_id,
                   house_id=house.id if house else None,
                   address_text=(address_text or "").strip()[:128] or None, kind=kind,
                   happened_on=happened_on, details=_clean_details(details),
                   **({"uid": uid} if uid else {}), **({"submitted_at": submitted_at} if submitted_at else {}))
    if photo:
        tip.photo_uid = store_photo(photo, account.id, tip.uid)
    audit(account.id, "tip_new", f"tip:{tip.id}")
    return tip


def submit_from_phone(account: Account, entity_uid: str, data: dict, submitted_at: datetime | None = None) -> Tip:
    """A tip pushed from the phone app (sync op ``tip.new``; idempotency is the sync receipt's job).
    `entity_uid` becomes the tip's uid. `data` names the door in one of these ways, first match wins:

    * ``door_token``: the token of the door's QR code the informant scanned (the phone has no house
      list: informants have no registry read);
    * ``door_code``: the 8-character code typed off the label;
    * ``house_uid``: a house from the work package (collectors, police);
    * ``village_id`` with ``group`` / ``number`` (exact match, else kept as text) and/or
      ``address_text``;

    and carries ``kind``, optional ``happened_on`` (YYYY-MM-DD), ``details`` and ``photo_uid`` (a photo
    this account uploaded: kept only if it exists and is theirs; without one, a photo this account
    already uploaded as "tip:<entity_uid>" is attached). The door must be in the account's
    villages. Raises TipError(code, field): forbidden, exists, bad_kind, unknown_door, out_of_scope,
    no_place, future, too_long, bad_date."""
    if not can(account.role, "tips.submit"):
        raise TipError("forbidden")
    if db.session.scalar(select(Tip.id).where(Tip.uid == entity_uid)) is not None:
        raise TipError("exists")
    text = lambda name: data.get(name) if isinstance(data.get(name), str) else None  # noqa: E731
    villages = {v.id: v for v in scope.villages(account)}
    house, village_id, address_text = None, None, None
    if text("door_token"):
        from ..doors.codes import lookup

        state, found = lookup(text("door_token"))
        house = found if state == "live" else None
        if house is None:
            raise TipError("unknown_door", "door_token")
    elif text("door_code"):
        house = house_by_code(account, text("door_code"))
        if house is None:
            raise TipError("unknown_door", "door_code")
    elif text("house_uid"):
        house = db.session.scalar(select(House).where(House.uid == text("house_uid")))
        if house is None:
            raise TipError("unknown_door", "house_uid")
    else:
        raw = data.get("village_id")
        village_id = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        if village_id not in villages:
            raise TipError("out_of_scope", "village_id")
        if not (text("number") or text("group") or (text("address_text") or "").strip()):
            raise TipError("no_place", "address_text")
        house = house_by_address(village_id, text("group"), text("number"))
        parts = format_address({"group_name": text("group"), "number": text("number")}, villages[village_id].name)
        address_text = " ".join(p for p in (parts, (text("address_text") or "").strip()) if p)
    if house is not None:
        if house.village_id not in villages:
            raise TipError("out_of_scope", "door_code")
        village_id = house.village_id
    happened_on = None
    if data.get("happened_on"):
        try:
            happened_on = date.fromisoformat(str(data["happened_on"]))
        except ValueError:
            raise TipError("bad_date", "happened_on") from None
    kind = text("kind")
    if kind not in rules.KINDS:
        raise TipError("bad_kind", "kind")
    try:
        tip = submit_informant_tip(account, kind=kind, village_id=village_id, house=house,
                                   address_text=address_text, happened_on=happened_on,
                                   details=text("details"), uid=entity_uid, submitted_at=submitted_at)
    except TipError as error:
        error.field = error.field or {"too_long": "details", "future": "happened_on", "no_place": "address_text"}.get(error.code)
        raise
    photo_uid = text("photo_uid")
    if photo_uid and db.session.scalar(select(Photo.id).where(Photo.uid == photo_uid,
                                                              Photo.account_id == account.id)) is not None:
        tip.photo_uid = photo_uid
    else:
        # A photo of "tip:<uid>" whose upload finished before the tip itself arrived.
        tip.photo_uid = db.session.scalar(select(Photo.uid).where(
            Photo.of_entity == "tip", Photo.of_uid == entity_uid, Photo.account_id == account.id)
            .order_by(Photo.id.desc()).limit(1))
    return tip


def may_attach_photo(account: Account, tip_uid: str) -> bool:
    """Whether `account` may upload a photo for tip `tip_uid` (the phone's photo upload, of
    "tip:<uid>"): the tip is theirs (they sent it), or it does not exist yet (its tip.new may still be
    on the way) and the account sends tips at all."""
    if not can(account.role, "tips.submit"):
        return False
    informant = db.session.execute(select(Tip.informant_id).where(Tip.uid == tip_uid)).first()
    return informant is None or informant[0] == account.id


def attach_photo(account: Account, tip_uid: str, photo_uid: str) -> bool:
    """Attach an uploaded, re-encoded photo (a Photo row of this account) to the account's own tip
    `tip_uid`; True when attached. For the phone's upload of "tip:<uid>" photos, which arrive after
    the tip. A tip that already has a photo keeps it; the tip's version bumps, the village is noted."""
    tip = db.session.scalar(select(Tip).where(Tip.uid == tip_uid, Tip.informant_id == account.id))
    owned = db.session.scalar(select(Photo.id).where(Photo.uid == photo_uid, Photo.account_id == account.id))
    if tip is None or owned is None or tip.photo_uid is not None:
        return False
    tip.photo_uid = photo_uid
    tip.version += 1
    note_village_changed(tip.village_id, "tip")
    return True


def sender_key(remote_addr: str | None) -> str:
    """A keyed hash of the sender's IP address: enough to count a sender's tips, useless for finding
    out who sent them without the app's secret key."""
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(key, f"tip-sender:{remote_addr or '-'}".encode(), hashlib.sha256).hexdigest()


def _serialise_public(house: House, key: str) -> None:
    # PostgreSQL runs concurrent transactions side by side: lock the door's row and the sender's key so
    # two tips sent at the same moment are counted one after the other. SQLite writers already queue
    # (BEGIN IMMEDIATE, fieldapp/database.py).
    if db.session.get_bind().dialect.name != "postgresql":
        return
    db.session.execute(select(House.id).where(House.id == house.id).with_for_update())
    db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int(key[:15], 16)})


def public_limit_reached(house: House, key: str, now: datetime | None = None) -> bool:
    """True if this sender sent PUBLIC_PER_SENDER_PER_HOUR public tips in the last hour, or this door
    received PUBLIC_PER_DOOR_PER_DAY public tips in the last 24 hours."""
    now = now or utcnow()
    by_sender = db.session.scalar(select(func.count(Tip.id)).where(
        Tip.source == "public", Tip.sender_key == key, Tip.received_at > now - timedelta(hours=1)))
    if by_sender >= rules.PUBLIC_PER_SENDER_PER_HOUR:
        return True
    by_door = db.session.scalar(select(func.count(Tip.id)).where(
        Tip.source == "public", Tip.house_id == house.id, Tip.received_at > now - timedelta(days=1)))
    return by_door >= rules.PUBLIC_PER_DOOR_PER_DAY


def submit_public_tip(house: House, *, kind: str, contact_phone: str, key: str,
                      happened_on: date | None = None, details: str | None = None) -> Tip:
    """A tip from anyone at the door's public page, with a contact phone; TipError('rate_limited')
    over the limits (module docstring). The phone is stored for the collector who calls back."""
    if kind not in rules.KINDS:
        raise TipError("bad_kind")
    if not contact_phone:
        raise TipError("no_phone")
    if happened_on is not None and happened_on > today():
        raise TipError("future")
    details = _clean_details(details)
    _serialise_public(house, key)
    if public_limit_reached(house, key):
        raise TipError("rate_limited")
    tip = _new_tip(source="public", village_id=house.village_id, house_id=house.id, kind=kind,
                   happened_on=happened_on, details=details, contact_phone=contact_phone[:16], sender_key=key)
    audit(None, "tip_new", f"tip:{tip.id}", "public")
    return tip


def store_photo(data: bytes, account_id: int | None, of_uid: str, of_entity: str = "tip") -> str:
    """Check and re-encode an uploaded image with the phone sync's pipeline (photos.process_photo: JPEG,
    long edge capped, no metadata) and keep it as a Photo; returns its uid. Raises photos.PhotoError."""

    jpeg, width, height = process_photo(data)
    return keep_photo(new_uid(), jpeg, width, height, of_entity=of_entity, of_uid=of_uid, account_id=account_id,
                      original_bytes=len(data)).uid


# Tasks -------------------------------------------------------------------------------------------

def visible_tips(account: Account):
    """Tips of the account's villages (town-wide roles: every village of their town)."""
    return select(Tip).where(scope.village_filter(account, Tip.village_id))


def tip_or_404(account: Account, tip_id: int, lock: bool = False) -> Tip:
    from flask import abort

    query = visible_tips(account).where(Tip.id == scope.key_or_404(tip_id))
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query) or abort(404)


TASK_LIST_LIMIT = 200  # a town's supervisor sees every village: the list stops here, overdue ones first


def task_list(account: Account, on: date, include_verified: bool = False, limit: int = TASK_LIST_LIMIT,
              own_only: bool = False) -> list[Tip]:
    """Open tips (new, assigned) of the account's villages, overdue first, then by due day and arrival.
    `include_verified` adds the verified ones waiting to be closed (for village heads, supervisors);
    `own_only` keeps what the account itself may act on: new tips and those assigned to it."""
    states = set(rules.OPEN_STATES) | (set(rules.VERIFIED_STATES) if include_verified else set())
    overdue_first = case((Tip.state.in_(rules.OPEN_STATES) & (Tip.due_on < on), 0), else_=1)
    query = visible_tips(account).where(Tip.state.in_(states))
    if own_only:
        query = query.where((Tip.state == "new") | (Tip.assigned_to_id == account.id))
    return list(db.session.scalars(query.order_by(overdue_first, Tip.due_on, Tip.received_at, Tip.id).limit(limit)))


def my_tips(account: Account, limit: int = 50) -> list[Tip]:
    """Tips the account sent (as informant), newest first."""
    return list(db.session.scalars(select(Tip).where(Tip.informant_id == account.id)
                                   .order_by(Tip.received_at.desc(), Tip.id.desc()).limit(limit)))


def workers_of(village_id: int, town_id: int) -> list[Account]:
    """Accounts a tip of `village_id` may be assigned to: tips.work roles holding that village, not revoked."""
    roles = [r for r in ("collector", "police", "reviewer") if can(r, "tips.work")]
    return list(db.session.scalars(
        select(Account).join(account_villages, account_villages.c.account_id == Account.id)
        .where(account_villages.c.village_id == village_id, Account.town_id == town_id,
               Account.role.in_(roles), Account.revoked_at.is_(None))
        .order_by(Account.collection_id)))


@dataclass(frozen=True)
class Status:
    """How a tip stands today, for lists and pages."""
    overdue: bool
    days_left: int


def status(tip: Tip, on: date) -> Status:
    return Status(rules.is_overdue(tip.state, tip.due_on, on), rules.working_days_left(tip.due_on, on))


def verdicts(tip_ids) -> dict[int, str]:
    """tip id -> 'valid' | 'invalid' for verified tips, closed ones included (a closed tip's state no
    longer says how it was verified; Tip.verdict does)."""
    ids = list(tip_ids)
    found = {}
    for chunk in range(0, len(ids), 500):
        found.update(db.session.execute(select(Tip.id, Tip.verdict).where(
            Tip.id.in_(ids[chunk:chunk + 500]), Tip.verdict.is_not(None))).all())
    return found


# Transitions -------------------------------------------------------------------------------------

def _in_scope(account: Account, tip: Tip) -> bool:
    if is_town_wide(account.role):
        return db.session.scalar(select(Village.town_id).where(Village.id == tip.village_id)) == account.town_id
    return tip.village_id in account.village_ids


def _move(tip: Tip, actor: Account, action: str, **conditions) -> None:
    try:
        tip.state = rules.decide(rules.Attempt(action=action, state=tip.state, role=actor.role,
                                               in_scope=_in_scope(actor, tip), **conditions))
    except rules.TipRuleError as error:
        raise TipError(error.code) from None
    tip.version += 1
    audit(actor.id, f"tip_{action}", f"tip:{tip.id}")
    note_village_changed(tip.village_id, "tip")


def take(tip: Tip, actor: Account) -> None:
    """A collector takes a new tip of their village for themselves."""
    _move(tip, actor, "take")
    tip.assigned_to_id, tip.assigned_at = actor.id, utcnow()


def assign(tip: Tip, actor: Account, worker: Account | None) -> None:
    """A village head or supervisor hands a tip (new, or assigned to someone else) to a collector of
    the tip's village."""
    in_village = worker is not None and worker.revoked_at is None and worker.town_id == actor.town_id \
        and tip.village_id in worker.village_ids
    _move(tip, actor, "assign", target_role=worker.role if worker else None, target_in_village=in_village)
    tip.assigned_to_id, tip.assigned_at = worker.id, utcnow()


def proof_visit(tip: Tip, actor: Account, house_id: int | None) -> Visit | None:
    """The earliest visit by `actor` to the house at or after the tip arrived, if any."""
    if house_id is None:
        return None
    return db.session.scalar(select(Visit).where(Visit.house_id == house_id, Visit.account_id == actor.id,
                                                 Visit.at >= tip.received_at).order_by(Visit.at, Visit.id).limit(1))


def verify(tip: Tip, actor: Account, valid: bool, note: str | None = None, house: House | None = None,
           at: datetime | None = None) -> None:
    """The assignee records what they found at the door: valid or invalid (with a note). A tip that
    named no known house gets the house the collector visited (`house`, of the tip's village). `at`
    is when it was decided (a phone's verdict arrives later); now by default."""
    note = (note or "").strip()
    if len(note) > rules.NOTE_MAX:
        raise TipError("too_long")
    if tip.house_id is None and house is not None:
        if house.village_id != tip.village_id:
            raise TipError("out_of_scope")
        house_id = house.id
    else:
        house_id = tip.house_id
    visit = proof_visit(tip, actor, house_id)
    _move(tip, actor, "valid" if valid else "invalid", is_assignee=tip.assigned_to_id == actor.id,
          has_visit=visit is not None, note=note)
    tip.house_id = house_id
    tip.verified_at, tip.verified_by_id = at or utcnow(), actor.id
    tip.verify_visit_id, tip.verify_note = visit.id, note or None
    tip.verdict = "valid" if valid else "invalid"


def close(tip: Tip, actor: Account) -> None:
    """A village head or supervisor closes a verified tip."""
    _move(tip, actor, "close")
    tip.closed_at, tip.closed_by_id = utcnow(), actor.id


# Rewards facts -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RewardRow:
    informant_id: int
    collection_id: str
    name: str
    month: str  # YYYY-MM, local time, of the day the tip was verified valid
    valid_tips: int


def valid_tips_by_informant(account: Account | None = None, informant_id: int | None = None) -> list[RewardRow]:
    """Verified-valid informant tips (closed ones included) counted per informant and month of
    verification: the facts the informant rewards (2 yuan per valid tip, seeds/000) are computed from.
    Limited to `account`'s villages when given. Public tips have no informant and never count."""
    query = (select(Tip.informant_id, Tip.verified_at, Account.collection_id, Account.name)
             .join(Account, Account.id == Tip.informant_id)
             .where(Tip.source == "informant", Tip.verified_at.is_not(None), Tip.verdict == "valid"))
    if account is not None:
        query = query.where(scope.village_filter(account, Tip.village_id))
    if informant_id is not None:
        query = query.where(Tip.informant_id == informant_id)
    counts: dict[tuple, int] = {}
    for informant, verified_at, cid, name in db.session.execute(query):
        key = (informant, cid, name, rules.month_key(verified_at))
        counts[key] = counts.get(key, 0) + 1
    return [RewardRow(i, c, n, m, k) for (i, c, n, m), k in
            sorted(counts.items(), key=lambda item: (item[0][3], item[0][1]), reverse=False)]
