"""Importing an existing organisation register: check every row, then import all or nothing.

Each row is read (rules.register_rows), its house found (common.find_houses) and the organisation
checked by the web page's own form (registry.forms.OrganisationForm: name, kind, the credit code
validated by rules.identifiers.validate_uscc, phone, employee count). Then organisations are
deduplicated by credit code (one code names one organisation, as registry.checks.uscc_problem
rules for the web page):

- a code nobody has registered is a new organisation at the row's house;
- a code registered to an open organisation at this very house, in the importer's villages, is that
  organisation: empty fields are filled in and a different value becomes a conflict for the
  reviewer, never an overwrite;
- a code registered anywhere else, or to a closed organisation, is refused with the reason: an
  organisation has no move request, its page registers a move;
- without a code, an open organisation of the same name at the same house is that organisation;
- the same code (or, without one, the same name at the same address) twice in the file is an error.

New organisations are written through records.insert_new (same rows, Change rows with source
"import", counters); like imported people they do not make their house "visited".
"""
from __future__ import annotations

from sqlalchemy import select

from .. import records
from ..accounts import audit
from ..extensions import db
from ..models import Organisation, Village, new_uid
from ..push.forms import form_for
from ..registry.forms import OrganisationForm
from ..rules.register_import import FileProblem
from ..rules.register_rows import ORG_INDEX, ORG_REQUIRED, coded, parse_count
from . import common
from .common import Issue, Plan, Row

TEXT_COLUMNS = ("name", "uscc", "legal_rep", "phone")


def parse(line: int, cells: list, columns: dict[str, int]) -> Row | None:
    started = common.parse_start(line, cells, columns)
    if started is None:
        return None
    row, raw = started
    values = {n: raw.get(n, "") for n in TEXT_COLUMNS}
    kind = coded("kind", raw.get("kind", ""))
    if kind is None:
        row.issues.append(Issue("not_in_list", "kind", raw["kind"][:32]))
        kind = ""
    values["kind"] = kind
    count = parse_count(raw.get("employee_count", ""))
    if count is None:
        row.issues.append(Issue("bad_count", "employee_count", raw["employee_count"][:32]))
        count = ""
    values["employee_count"] = count
    row.values = values
    return row


def _validate(plan: Plan) -> None:
    for row in plan.rows:
        refused = {i.column for i in row.issues}
        form = form_for(OrganisationForm, {n: v for n, v in row.values.items() if v not in ("", None)})
        if form.validate():
            row.data = form.record_data()
            continue
        for name, messages in form.errors.items():
            if name in refused:
                continue
            for message in messages:
                row.issues.append(Issue("form", name, str(row.values.get(name) or "")[:32], text=str(message)))


def _decide(plan: Plan, village_ids: set[int]) -> None:
    first: dict[tuple, int] = {}
    for row in plan.rows:
        if row.data is None or row.house_key is None:
            continue
        key = ("uscc", row.data["uscc"]) if row.data["uscc"] else ("name", row.house_key, row.data["name"])
        if key in first:
            row.issues.append(Issue("duplicate_org", "uscc" if row.data["uscc"] else "name", row.data["uscc"],
                                    line_ref=first[key]))
        else:
            first[key] = row.line
    by_code: dict[str, tuple] = {}
    for chunk in common.chunks([key[1] for key in first if key[0] == "uscc"]):
        for org in db.session.execute(select(Organisation.id, Organisation.uscc, Organisation.house_id,
                                             Organisation.village_id, Organisation.status)
                                      .where(Organisation.uscc.in_(chunk))):
            by_code[org.uscc] = org
    house_ids = {house_id for house_id, _uid in plan.houses.values()}
    by_name: dict[tuple[int, str], int] = {}
    for chunk in common.chunks(house_ids):
        for org_id, house_id, name in db.session.execute(select(Organisation.id, Organisation.house_id, Organisation.name)
                                                         .where(Organisation.house_id.in_(chunk),
                                                                Organisation.status == "open")):
            by_name.setdefault((house_id, name), org_id)
    for row in plan.rows:
        if row.errors or row.data is None:
            continue
        house = plan.houses.get(row.house_key)
        if row.data["uscc"]:
            org = by_code.get(row.data["uscc"])
            if org is None:
                row.outcome = "new"
            elif (house is not None and org.house_id == house[0] and org.status == "open"
                  and org.village_id in village_ids):
                row.outcome, row.existing_id = "updated", org.id
                row.issues.append(Issue("org_will_update", "uscc", row.data["uscc"]))
            else:
                row.issues.append(Issue("org_elsewhere", "uscc", row.data["uscc"]))
        elif house is not None and (house[0], row.data["name"]) in by_name:
            row.outcome, row.existing_id = "updated", by_name[(house[0], row.data["name"])]
            row.issues.append(Issue("org_will_update", "name"))
        else:
            row.outcome = "new"


def check(data: bytes, villages: list[Village], max_rows: int, default_village: Village | None = None) -> Plan:
    """Read and check every row (module docstring). `villages`: the importer's."""
    plan = Plan(kind="organisations")
    try:
        common.read_rows(plan, data, max_rows, ORG_INDEX, ORG_REQUIRED,
                         lambda line, cells: parse(line, cells, plan.columns),
                         village_given=default_village is not None)
    except FileProblem as problem:
        plan.file_problem, plan.rows = problem, []
        return plan
    common.find_houses(plan, villages, default_village)
    _validate(plan)
    _decide(plan, {v.id for v in villages})
    return plan


def _fill(actor: records.Actor, org: Organisation, data: dict, account_id: int | None) -> None:
    """Fill the fields the record lacks; keep the differing ones as conflicts for the reviewer (as
    records.fill_known_person does for people)."""
    apply, conflicts = {}, {}
    for name in records.ORG_FIELDS:
        value = data.get(name)
        if value in (None, ""):
            continue
        now = getattr(org, name)
        if now in (None, ""):
            apply[name] = value
        elif records.json_value(now) != records.json_value(value):
            conflicts[name] = {"base": records.json_value(now), "current": records.json_value(now),
                               "submitted": records.json_value(value)}
    if apply:
        records.update_organisation(actor, org, apply, base_version=None)
    records.keep_conflicts("organisation", org, conflicts, account_id)


def import_rows(plan: Plan, account_id: int | None) -> dict[str, int]:
    """Write a plan without errors in the caller's transaction. Returns the counts written."""
    if not plan.ok:
        raise ValueError("only a plan without rejected rows is imported")
    actor = records.Actor(account_id, "import")
    houses = common.create_houses(plan, actor)
    new = [row for row in plan.rows if row.outcome == "new"]
    for batch in common.chunks(new, 2000):
        house_ids = {houses[row.house_key][1]: houses[row.house_key][0] for row in batch}
        records.insert_new([records.NewRecord(entity="organisation", actor=actor, uid=new_uid(),
                                              village_id=row.house_key[0], data=row.data,
                                              house_uid=houses[row.house_key][1]) for row in batch], house_ids)
    for row in plan.rows:
        if row.outcome == "updated":
            _fill(actor, db.session.get(Organisation, row.existing_id), row.data, account_id)
    counts = {"new": len(new), "updated": plan.count("updated"), "houses": len(plan.new_houses)}
    audit(account_id, "organisations_imported", None,
          f"{counts['new']} new, {counts['updated']} updated, {counts['houses']} new houses")
    return counts
