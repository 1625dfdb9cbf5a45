"""The bulk path of a push (the protocol's speed): runs of plain new records (house.new, person.new,
organisation.new) are checked one by one, in order, exactly as operations.apply would, then written
together with records.insert_new (one executemany per table, counters bumped once per village)
and their receipts in one more executemany.

Same answers as the item-by-item path, by construction:
- Checks run in the same order and raise the same Rejected; a record whose fate depends on
  something a run cannot see cheaply (a document or credit code already registered, an employer,
  a uid reused) ends the run: the run is written, and that item goes through the item-by-item path.
- Field rules: FastForms accepts only input it can prove the web form accepts, and produces the
  form's cleaned values; anything else (every refusal included) is validated by the web form
  itself, so every error message is the form's. tests/test_sync_bulk.py compares both on
  generated input.
- Held items are written as held; a record that a held item waits for ends its run, and the held
  items are released right after it, as the item-by-item path does.
- If writing a run fails on a unique index (another push of the same items at the same moment),
  the run is rolled back to its savepoint and its items go through the item-by-item path, which
  answers such races one by one.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import records
from ..extensions import db
from ..forms import LANDLINE
from ..models import Person, SyncReceipt, utcnow
from ..registry.forms import CONTROL_CHARACTERS, RESIDENT_ID, HouseForm, PersonForm
from ..rules import identifiers
from ..rules.permissions import POLICE_ONLY_CATEGORIES
from .context import NEW_OPS, chunks, is_uuid, op_of, payload_hash, phone_text, receipt_entity_uid
from .errors import Hold, Rejected, bad_item
from .forms import PERSON_FORM_FIELDS, check_position, form_for, house_data, known_on, organisation_form, person_form
from .operations import house_in_scope, new_house_village, record_item_basics

# The forms' own patterns (registry/forms.py), so that both paths accept exactly the same text.
NATIONALITY = re.compile(r"^[A-Za-z]{3}$")
DIVISION = re.compile(r"^\d{6}$")
WHITESPACE = re.compile(r"[\s]")
HOUSE_TEXT = {"group_name": 32, "road": 64, "lane": 32, "building": 32, "room": 32, "owner_name": 64,
              "tenant_name": 64, "rental_record_no": 32}


class FastForms:
    """The web forms' rules for the common case, without building a form per item. Each method
    returns the cleaned values the form would give, or None when it cannot be sure the form accepts
    the input (the caller then validates with the form). Choices are read from forms set up once,
    as the item-by-item path sets them up (language, role)."""

    def __init__(self, ctx):
        person = form_for(PersonForm, {})
        person.setup(ctx.lang, ctx.police, [])
        self.choice = {name: frozenset(c.value for c in getattr(person, name).choices)
                       for name in ("id_type", "sex", "ethnicity", "hukou_type", "relation", "category",
                                    "move_in_reason", "away_duration")}
        house = form_for(HouseForm, {})
        self.house_use = frozenset(c.value for c in house.use.choices if c.value)

    @staticmethod
    def _texts(data: dict, names) -> dict | None:
        """The values as the form would receive them; None for anything but plain, visible text
        (numbers, booleans, whitespace-only or control characters go to the form)."""
        out = {}
        for name in names:
            value = data.get(name)
            if value is None or value == "":
                continue
            if not isinstance(value, str) or not value.strip() or CONTROL_CHARACTERS.search(value):
                return None
            out[name] = value
        return out

    @staticmethod
    def _date(text: str | None):
        """DateField(format %Y-%m-%d) with Optional and not_future: (ok, value)."""
        if text is None:
            return True, None
        try:
            value = datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError:
            return False, None
        return value <= date.today(), value

    @staticmethod
    def _phone(text: str | None):
        """fieldapp.forms.phone: (ok, value)."""
        if text is None:
            return True, None
        compact = WHITESPACE.sub("", text)
        if LANDLINE.match(compact):
            return True, compact
        try:
            return True, identifiers.validate_mobile(text)
        except identifiers.IdentifierError:
            return False, None

    def person(self, data: dict):
        """PersonForm + record_data() for a resident ID number: (clean, relation, room) or None."""
        v = self._texts(data, PERSON_FORM_FIELDS)
        if v is None:
            return None
        get = v.get
        name, id_type, category = get("name"), get("id_type"), get("category")
        if name is None or len(name) > 64 or id_type != RESIDENT_ID or id_type not in self.choice["id_type"]:
            return None
        if category not in self.choice["category"] or category in POLICE_ONLY_CATEGORIES:
            return None
        try:
            id_number = identifiers.validate_resident_id(get("id_number")) if get("id_number") else None
        except identifiers.IdentifierError:
            return None
        if id_number is None:
            return None
        id_sex = str(identifiers.resident_id_sex(id_number))
        id_birth = identifiers._rid_birth_date(id_number)  # resident_id_birth_date without validating again
        sex = get("sex", "")
        if sex not in self.choice["sex"] or (sex and sex != id_sex):
            return None
        ok, birth = self._date(get("birth_date"))
        if not ok or (birth is not None and birth != id_birth):
            return None
        for field in ("ethnicity", "hukou_type", "relation", "move_in_reason", "away_duration"):
            if get(field, "") not in self.choice[field]:
                return None
        nationality = get("nationality")
        if nationality is not None and not NATIONALITY.match(nationality):
            return None
        ok, phone = self._phone(get("phone"))
        if not ok:
            return None
        division = get("hukou_division")
        if division is not None and not DIVISION.match(division):
            return None
        if len(get("hukou_address", "")) > 128 or len(get("room", "")) > 32:
            return None
        ok, move_in = self._date(get("move_in_date"))
        if not ok:
            return None
        if category in ("migrant", "separated", "abroad") and not get("move_in_reason"):
            return None
        if category in ("migrant", "separated") and not get("away_duration"):
            return None
        clean = {"name": name, "id_type": id_type, "id_number": id_number,
                 "sex": id_sex, "birth_date": id_birth, "ethnicity": get("ethnicity"),
                 "phone": phone, "hukou_division": division or id_number[:6], "hukou_address": get("hukou_address"),
                 "hukou_type": get("hukou_type"), "category": category, "move_in_date": move_in,
                 "move_in_reason": get("move_in_reason"), "away_duration": get("away_duration"),
                 "employer_id": None, "nationality": (nationality or "").upper() or None}
        return clean, get("relation"), get("room")

    def house(self, data: dict):
        """HouseForm for a new house (forms.house_data without the position): clean or None."""
        fields = [n for n in records.HOUSE_FIELDS if n not in ("lat", "lon")]
        v = self._texts(data, [n for n in fields if n != "rental_registered"])
        rental = data.get("rental_registered")
        if v is None or not (rental is None or isinstance(rental, bool)):
            return None
        number, use = v.get("number"), v.get("use")
        if number is None or len(number) > 32 or use not in self.house_use:
            return None
        if any(len(v.get(n, "")) > limit for n, limit in HOUSE_TEXT.items()):
            return None
        clean = {n: v.get(n) for n in fields}
        for name in ("owner_phone", "tenant_phone"):
            ok, clean[name] = self._phone(v.get(name))
            if not ok:
                return None
        clean["rental_registered"] = bool(rental)
        if rental and not v.get("rental_record_no"):
            return None
        return clean


class Prepared:
    """What a push works out before it touches the database, so that on SQLite none of it is done
    while the push holds the write lock (the other processes' pushes wait for that lock): each
    item's digest, and FastForms' verdict on the data of each new house and person. Kept across
    the push's attempts. The verdicts are pure functions of the data, the language and the role."""

    def __init__(self, lang: str, police: bool, items: list):
        self.fast = FastForms(SimpleNamespace(lang=lang, police=police))
        self.digests: dict[int, str] = {}
        self.verdicts: dict[int, object] = {}
        for item in items:
            if not isinstance(item, dict):
                continue
            self.digests[id(item)] = payload_hash(item)
            op, data = op_of(item), item.get("data")
            if op in ("house.new", "person.new") and isinstance(data, dict):
                self.verdicts[id(data)] = self.fast.house(data) if op == "house.new" else self.fast.person(data)

    def digest(self, item: dict) -> str:
        return self.digests.get(id(item)) or payload_hash(item)

    def house(self, data: dict):
        clean = self.verdicts[id(data)] if id(data) in self.verdicts else self.fast.house(data)
        return dict(clean) if clean is not None else None  # the caller adds the position to it

    def person(self, data: dict):
        if id(data) not in self.verdicts:
            return self.fast.person(data)
        verdict = self.verdicts[id(data)]
        return (dict(verdict[0]), *verdict[1:]) if verdict is not None else None


class Bulk:
    """One push's bulk path: take() settles an item or declines it; flush() writes the run."""

    def __init__(self, ctx, receipts: dict, results: list, *, prepared: Prepared, one_by_one, release_held):
        """`receipts` (item uid -> receipt) and `results` are the push's own, filled in as items
        settle. The protocol lends two of its steps: `one_by_one(item)` settles an item by the
        item-by-item path and returns its result; `release_held(uids)` applies the items held for
        records just created."""
        self.ctx, self.receipts, self.results = ctx, receipts, results
        self.one_by_one, self.release_held = one_by_one, release_held
        self.prepared = prepared
        self._known_on: dict = {}
        self.now = utcnow()
        self._documents_checked: set = set()
        self._registered_documents: set = set()
        self.documents: set = set()  # (id_type, id_number) registered by this push's runs
        self._reset()

    def _reset(self):
        self.new: list[records.NewRecord] = []
        self.rows: list[dict] = []
        self.items: list[tuple[int, dict]] = []  # (index in results, item) of this run
        self.house_ids: dict[str, int] = {}
        self.pending_houses: dict[str, int] = {}  # uid -> village_id of houses created in this run
        self.usccs: set = set()
        self.held: list[str] = []
        self.must_flush = False

    def prefetch_documents(self, items: list) -> None:
        """One query for the documents the batch's person.new items name (as sent and upper-cased,
        as validate_resident_id normalises them)."""
        numbers = set()
        for item in items:
            if isinstance(item, dict) and item.get("op") == "person.new" and isinstance(item.get("data"), dict):
                number = item["data"].get("id_number")
                if isinstance(number, str):
                    numbers |= {number, number.strip().upper()}
        for chunk in chunks(sorted(numbers)):
            self._registered_documents |= set(db.session.execute(
                select(Person.id_type, Person.id_number).where(Person.id_number.in_(chunk))).all())
        self._documents_checked = numbers

    def forget(self) -> None:
        """An item goes item by item: it may register or change a document, so what the prefetch
        said about documents no longer holds; ask the database from now on."""
        self._documents_checked = set()
        self._registered_documents = set()

    def _registered(self, id_type: str, id_number: str) -> bool:
        if (id_type, id_number) in self._registered_documents:
            return True
        if id_number in self._documents_checked:
            return False
        return records.find_person(id_type, id_number) is not None

    def take(self, item) -> dict | None:
        """The result for `item` when the bulk path settles it (written at the next flush), or None:
        the caller flushes the run and sends the item through the item-by-item path."""
        if not isinstance(item, dict):
            return None
        uid = item.get("uid")
        if op_of(item) not in NEW_OPS or not is_uuid(uid) or uid in self.receipts:
            return None
        digest = self.prepared.digest(item)
        index = len(self.results)
        try:
            plan = self._plan(item)
        except Rejected as rejected:
            return rejected.result(uid)
        except Hold as hold:
            result = {"uid": uid, "status": "held"}
            self._receipt(item, digest, "held", result, waits_for=hold.waits_for, payload=item)
            self.held.append(uid)
            if self.ctx.waited is not None:
                self.ctx.waited.add(hold.waits_for)
            self.items.append((index, item))
            return result
        if plan is None:
            return None
        self.new.append(plan)
        entity = item["op"].split(".")[0]
        if self.ctx.taken is not None:
            self.ctx.taken.add(plan.uid)
        if entity == "house":
            self.pending_houses[plan.uid] = plan.village_id
        elif entity == "person":
            self.documents.add((plan.data["id_type"], plan.data["id_number"]))
        elif plan.data.get("uscc"):
            self.usccs.add(plan.data["uscc"])
        result = {"uid": uid, "status": "accepted", "record": {"uid": plan.uid, "version": 1}}
        self._receipt(item, digest, "accepted", result, record_uid=plan.uid, applied_at=self.now)
        self.items.append((index, item))
        if self.ctx.waited is None or plan.uid in self.ctx.waited:
            self.must_flush = True  # release what waits for it before the next item, as _push_one does
        return result

    def _receipt(self, item, digest, status, result, record_uid=None, waits_for=None, payload=None, applied_at=None):
        ctx = self.ctx
        self.rows.append({"item_uid": item["uid"], "account_id": ctx.account.id,
                          "device_id": ctx.device.id if ctx.device is not None else None, "op": item["op"],
                          "entity_uid": receipt_entity_uid(item), "record_uid": record_uid, "payload_hash": digest,
                          "status": status, "waits_for": waits_for, "payload": payload, "result": result,
                          "collected_at": phone_text(item), "received_at": self.now, "applied_at": applied_at})
        self.receipts[item["uid"]] = SimpleNamespace(item_uid=item["uid"], payload_hash=digest, result=result)

    def _known_on_of(self, item):
        value = item.get("known_on")
        key = (type(value).__name__, value if isinstance(value, (str, int, float, bool, type(None))) else repr(value))
        if key not in self._known_on:
            try:
                self._known_on[key] = (known_on(item), None)
            except Rejected as rejected:
                self._known_on[key] = (None, rejected)
        day, rejected = self._known_on[key]
        if rejected is not None:
            raise Rejected(rejected.code, rejected.errors)
        return day

    def _plan(self, item: dict):
        """operations.apply for a *.new item, without writing: a records.NewRecord, None (decline), or
        Rejected / _Hold exactly where _apply raises them."""
        ctx = self.ctx
        op = item["op"]
        entity = op.split(".")[0]
        if not ctx.writer:
            raise Rejected("forbidden")
        entity_uid, data, actor = record_item_basics(ctx, item, self._known_on_of)
        if ctx.exists(entity, entity_uid):
            raise Rejected("exists")
        if op == "house.new":
            if item.get("label_token") is not None:
                return None  # a blank label to bind (doors.labels): the item-by-item path does it
            village_id = new_house_village(ctx, item)
            position = check_position(data)
            clean = self.prepared.house(data)
            if clean is None:
                clean = house_data(data)
            else:
                clean.update(position)
            return records.NewRecord("house", actor, entity_uid, village_id, clean)

        house_uid = item.get("house_uid")
        if not is_uuid(house_uid):
            raise bad_item("house_uid")
        house = None
        if house_uid in self.pending_houses:
            village_id = self.pending_houses[house_uid]
        else:
            house = house_in_scope(ctx, house_uid)
            village_id = house.village_id
            actor.door_proof = ctx.door_proof(actor.visit_uid, house.id)
        relation = room = None
        if entity == "person":
            if "employer_uid" in data:
                return None
            fast = self.prepared.person(data)
            if fast is not None:
                clean, relation, room = fast
            else:
                form = person_form(ctx, data, None)
                clean = form.record_data()
                relation, room = form.relation.data or None, form.room.data or None
            document = (clean["id_type"], clean["id_number"])
            if document in self.documents or self._registered(*document):
                return None  # registered already: moved or updated, by the item-by-item path
        else:
            clean = organisation_form(data, None)
            if clean.get("uscc") and clean["uscc"] in self.usccs:
                return None  # the item-by-item path refuses it once the first is written
        if house is not None:
            self.house_ids[house_uid] = house.id
            records.registered_at_door(actor, house)
        return records.NewRecord(entity, actor, entity_uid, village_id, clean, house_uid, relation, room)

    def flush(self) -> None:
        """Write the run, then release the items held for what it created (as _push_one does)."""
        if not self.rows:
            self._reset()
            return
        ctx = self.ctx
        db.session.flush()
        try:
            with db.session.begin_nested():
                records.insert_new(self.new, self.house_ids)
                db.session.execute(SyncReceipt.__table__.insert(), self.rows)
        except IntegrityError:
            self._redo_one_by_one()
            return
        created = [r.uid for r in self.new]
        for uid in self.pending_houses:
            ctx.houses.pop(uid, None)
            ctx.absent_houses.discard(uid)
        if self.held:
            # From now on a repeat of a held uid must see its receipt as _release_held leaves it.
            for chunk in chunks(self.held):
                for receipt in db.session.scalars(select(SyncReceipt).where(SyncReceipt.item_uid.in_(chunk))):
                    self.receipts[receipt.item_uid] = receipt
        waited = ctx.waited
        self._reset()
        made = {u for u in created if waited is None or u in waited}
        if made:
            self.release_held(made)
            self.forget()  # held items applied one by one may have registered documents

    def _redo_one_by_one(self) -> None:
        ctx = self.ctx
        for record in self.new:
            if ctx.taken is not None:
                ctx.taken.discard(record.uid)
        items = self.items
        for _index, item in items:
            self.receipts.pop(item["uid"], None)
        self._reset()
        self.forget()
        for index, item in items:
            self.results[index] = self.one_by_one(item)
