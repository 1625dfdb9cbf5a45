"""Importing an existing people register: check every row, then import all or nothing.

Each row is read (rules.register_rows), its house found (common.find_houses), and the person
checked by the very form the web page and the phone use (registry.forms.PersonForm, through
push.forms.form_for), so a row is refused exactly when typing it in would be. Then the document
number decides, by the rules of issue 7 (fieldapp/moves.py; nothing moves silently):

- a document nobody has registered is a new person at the row's house;
- a document registered to a person living at this very house, whom the importer may see, is that
  person: empty fields are filled in, a different value becomes a conflict for the reviewer
  (records.add_person, "updated"), never an overwrite;
- a document registered anywhere else (another house, another village or town, someone who has
  left, or a person the importer may not see) becomes a move request (moves.request_move) with
  what the row says; the person moves only when a reviewer confirms it. Every such row gets the
  same answer, which names neither the village nor the category. A request already waiting for the
  same person and house is not asked twice;
- the same document twice in the file is an error on the second row.

New people are written in batches through records.insert_new (the bulk twin of add_person: same
rows, Change rows with source "import", counters, dashboard), after the new houses the file asks
for. Imported people do not make their house "visited" (collected): only a door visit does, as
for imported houses. Everything happens in the caller's one transaction.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from wtforms import SelectField
from wtforms.validators import ValidationError

from .. import moves, records
from ..accounts import audit
from ..extensions import db
from ..forms import options
from ..models import Account, House, MoveRequest, Organisation, Person, Village, new_uid
from ..push.forms import form_for
from ..registry.forms import RESIDENT_ID, PersonForm
from ..rules.permissions import POLICE_ONLY_CATEGORIES
from ..rules.register_import import FileProblem
from ..rules.register_rows import PEOPLE_INDEX, PEOPLE_REQUIRED, coded, parse_date
from . import common
from .common import Issue, Plan, Row

TEXT_COLUMNS = ("name", "id_number", "nationality", "phone", "hukou_division", "hukou_address")
CODED_COLUMNS = ("id_type", "sex", "ethnicity", "hukou_type", "relation", "category", "move_in_reason", "away_duration")
DATE_COLUMNS = ("birth_date", "move_in_date")
# The form's field -> the file's column, where they differ.
FORM_COLUMNS = {"room": "residence_room", "employer_id": "employer_uscc"}
BATCH = 2000


def parse(line: int, cells: list, columns: dict[str, int], police: bool) -> Row | None:
    started = common.parse_start(line, cells, columns)
    if started is None:
        return None
    row, raw = started
    values = {n: raw.get(n, "") for n in TEXT_COLUMNS}
    for column in CODED_COLUMNS:
        value = coded(column, raw.get(column, ""))
        if value is None:
            row.issues.append(Issue("not_in_list", column, raw[column][:32]))
            value = ""
        values[column] = value
    for column in DATE_COLUMNS:
        value = parse_date(cells[columns[column]]) if column in columns and columns[column] < len(cells) else ""
        if value is None:
            row.issues.append(Issue("bad_date", column, raw[column][:32]))
            value = ""
        values[column] = value
    values["id_type"] = values["id_type"] or RESIDENT_ID
    if not values["category"] and "category" not in [i.column for i in row.issues]:
        row.issues.append(Issue("missing_category", "category"))
    if not police and values["category"] in POLICE_ONLY_CATEGORIES:
        row.issues.append(Issue("police_only_category", "category", raw.get("category")))
    if not police and values["id_type"] != RESIDENT_ID:
        row.issues.append(Issue("police_only_document", "id_type", raw.get("id_type")))
    values["room"] = raw.get("residence_room", "")
    row.employer_uscc = raw.get("employer_uscc", "").upper() or None
    row.values = values
    return row


def _employers(plan: Plan, village_ids: set[int]) -> dict[str, tuple[int, str]]:
    """Open organisations in the importer's villages named by the rows: credit code -> (id, name)."""
    wanted = {row.employer_uscc for row in plan.rows if row.employer_uscc}
    found = {}
    for chunk in common.chunks(wanted):
        for org_id, uscc, name in db.session.execute(select(Organisation.id, Organisation.uscc, Organisation.name).where(
                Organisation.uscc.in_(chunk), Organisation.status == "open", Organisation.village_id.in_(village_ids))):
            found[uscc] = (org_id, name)
    return found


class RowForm:
    """The web page's PersonForm, made once per import and filled again for each row: the same
    fields, validators and messages, without building the form and its code lists 100,000 times.
    Its select fields check membership in a set of their choices' values, which is what WTForms'
    own check (a scan of every choice) decides."""

    def __init__(self, lang: str, police: bool):
        self.form = form_for(PersonForm, {})
        self.form.setup(lang, police, [])
        for field in self.form:
            if isinstance(field, SelectField) and field.name != "employer_id":
                _fast_choice_check(field)

    def check(self, values: dict, employer: tuple[int, str] | None):
        form = self.form
        form.employer_id.choices = options([employer] if employer else [])
        _fast_choice_check(form.employer_id)
        formdata = MultiDict()
        for name, value in values.items():
            if value not in ("", None):
                formdata[name] = value.isoformat() if isinstance(value, date) else str(value)
        form.process(formdata)
        return form


def _fast_choice_check(field) -> None:
    allowed = {field.coerce(choice.value) for choice in field.choices}

    def pre_validate(form):
        if field.process_errors or not field.validate_choice:
            return
        if field.data not in allowed:
            raise ValidationError(field.invalid_choice_message or field.gettext("Not a valid choice."))

    field.pre_validate = pre_validate


def _validate(plan: Plan, employers: dict, lang: str, police: bool) -> None:
    checker = RowForm(lang, police)
    for row in plan.rows:
        values = row.values
        employer = None
        if row.employer_uscc:
            employer = employers.get(row.employer_uscc)
            if employer is None:
                row.issues.append(Issue("unknown_employer", "employer_uscc", row.employer_uscc[:32]))
            else:
                values = {**values, "employer_id": employer[0]}
        form = checker.check(values, employer)
        if form.validate():
            row.data = form.record_data()
            row.relation = form.relation.data or None
            row.room = form.room.data or None
            row.values = None  # checked: only the record's fields are kept
            continue
        # What the row's own reading refused is reported once, not again by the form.
        refused = {i.column for i in row.issues}
        for name, messages in form.errors.items():
            column = FORM_COLUMNS.get(name, name)
            if column in refused:
                continue
            for message in messages:
                row.issues.append(Issue("form", column, str(values.get(name) or "")[:32], text=str(message)))


def _decide(plan: Plan, account: Account | None, village_ids: set[int], police: bool) -> None:
    """New, updated or a move request, by the document (module docstring); duplicates in the file."""
    first: dict[tuple[str, str], int] = {}
    for row in plan.rows:
        if row.data is None:
            continue
        key = (row.data["id_type"], row.data["id_number"])
        if key in first:
            row.issues.append(Issue("duplicate_person", "id_number", row.data["id_number"], line_ref=first[key]))
        else:
            first[key] = row.line
    known: dict[tuple[str, str], tuple] = {}
    by_number: dict[str, list[str]] = {}
    for id_type, id_number in first:
        by_number.setdefault(id_number, []).append(id_type)
    for chunk in common.chunks(by_number):
        for person in db.session.execute(select(Person.id, Person.id_type, Person.id_number, Person.house_id,
                                                Person.village_id, Person.status, Person.category)
                                         .where(Person.id_number.in_(chunk))):
            known[(person.id_type, person.id_number)] = person
    waiting: set[tuple[int, int]] = set()
    for chunk in common.chunks({p.id for p in known.values()}):
        waiting |= set(db.session.execute(select(MoveRequest.person_id, MoveRequest.to_house_id).where(
            MoveRequest.person_id.in_(chunk), MoveRequest.status == "pending")).all())
    for row in plan.rows:
        if row.errors or row.data is None:
            continue
        person = known.get((row.data["id_type"], row.data["id_number"]))
        if person is None:
            row.outcome = "new"
            continue
        row.existing_id = person.id
        house = plan.houses.get(row.house_key)
        sees = account is None or (person.village_id in village_ids
                                   and (police or person.category not in POLICE_ONLY_CATEGORIES))
        if house is not None and person.house_id == house[0] and person.status == "living" and sees:
            row.outcome = "updated"
            row.issues.append(Issue("will_update", "id_number", row.data["id_number"]))
        elif house is not None and (person.id, house[0]) in waiting:
            row.outcome = "waiting"
            row.issues.append(Issue("move_waiting", "id_number", row.data["id_number"]))
        else:
            row.outcome = "move"
            row.issues.append(Issue("will_request_move", "id_number", row.data["id_number"]))


def check(data: bytes, villages: list[Village], max_rows: int, account: Account | None, police: bool,
          lang: str = "zh", default_village: Village | None = None) -> Plan:
    """Read and check every row (module docstring). `villages`: the importer's; `account` None for the
    command line (the whole town, people from abroad included: `police`)."""
    plan = Plan(kind="people")
    try:
        common.read_rows(plan, data, max_rows, PEOPLE_INDEX, PEOPLE_REQUIRED,
                         lambda line, cells: parse(line, cells, plan.columns, police),
                         village_given=default_village is not None)
    except FileProblem as problem:
        plan.file_problem, plan.rows = problem, []
        return plan
    village_ids = {v.id for v in villages}
    common.find_houses(plan, villages, default_village)
    _validate(plan, _employers(plan, village_ids), lang, police)
    _decide(plan, account, village_ids, police)
    return plan


def import_rows(plan: Plan, account_id: int | None) -> dict[str, int]:
    """Write a plan without errors in the caller's transaction (the caller commits, or rolls back on
    any error: nothing is half-imported). Returns how many people were new, updated, asked to move."""
    if not plan.ok:
        raise ValueError("only a plan without rejected rows is imported")
    actor = records.Actor(account_id, "import")
    houses = common.create_houses(plan, actor)
    new = [row for row in plan.rows if row.outcome == "new"]
    for batch in common.chunks(new, BATCH):
        records_ = []
        house_ids = {}
        for row in batch:
            house_id, house_uid = houses[row.house_key]
            house_ids[house_uid] = house_id
            records_.append(records.NewRecord(entity="person", actor=actor, uid=new_uid(),
                                              village_id=row.house_key[0], data=row.data, house_uid=house_uid,
                                              relation=row.relation, room=row.room))
        records.insert_new(records_, house_ids)
    for row in plan.rows:
        if row.outcome not in ("updated", "move"):
            continue
        house = db.session.get(House, houses[row.house_key][0])
        if row.outcome == "updated":
            person, outcome, conflicts = records.add_person(actor, house, row.data, row.relation, row.room)
            assert outcome == "updated", outcome
            records.keep_conflicts("person", person, conflicts, account_id)
        else:
            person = db.session.get(Person, row.existing_id)
            moves.request_move(account_id, actor, person, house, row.data, row.relation, row.room)
    counts = {"new": len(new), "updated": plan.count("updated"), "move": plan.count("move"),
              "waiting": plan.count("waiting"), "houses": len(plan.new_houses)}
    audit(account_id, "people_imported", None,
          f"{counts['new']} new, {counts['updated']} updated, {counts['move']} move requests, "
          f"{counts['houses']} new houses")
    return counts
