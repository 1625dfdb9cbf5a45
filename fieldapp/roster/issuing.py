"""Issuing collection IDs in bulk from a list (CSV or .xlsx): check every row, then issue all or none.

check() reads the rows (rules.account_import) and resolves them against the town: each village must
be one of the importer's villages, by name or code (any other is "unknown": the report reveals
nothing outside the importer's scope); each sub-area must be in one of the row's villages, by code or
name (``village/code`` when the code is in several of them); a phone number already on a live
(not revoked) collection ID is refused, since the person already holds one. issue_all() issues a
plan without a single rejected row through accounts.issue (one activation code each, shown once, in
the letters), all in the caller's transaction: nothing is half-issued. The IDs of one file share a
random batch key (Account.issue_batch) so the batch's letters can be printed again.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .. import accounts
from ..audit import audit
from ..doors.importer import FILE_MESSAGES
from ..extensions import db
from ..models import Account, SubArea, Village
from ..rules.account_import import (COLUMNS, AccountRow, RowIssue, check_row, map_header, mark_duplicates,
                                    row_from_cells, sub_area_reference)
from ..rules.register_import import (FileProblem, ImportPlan, fill_plan, cell_text, problem_message, row_issue_message,
                                     village_finder)

# An upload on the web page. Each ID's activation code gets a slow hash (about 0.1-0.5 s of one
# core, bench/README.md "Collection IDs in bulk"), and the request must finish well inside the
# server's 60 s timeout even on a busy 2-core server: 200 rows took 85 s at load 10 (bench/README.md),
# 100 rows are about 15 s of CPU, 7.5 s on two idle cores. The CLI takes longer lists (no request
# timeout there).
WEB_MAX_ROWS = 100

# FILE_MESSAGES: the house import's (the same file problems, read by the same rules).
ROW_MESSAGES = {
    "missing_name": _l("No name given."),
    "too_long": _l("Too long: at most 64 characters."),
    "control_characters": _l("Contains invisible control characters."),
    "missing_role": _l("No role given. Use one of the roles in the template's list."),
    "unknown_role": _l("Not a role. Use one of the roles in the template's list (e.g. 采集员, 信息员)."),
    "town_wide_role": _l("This role covers the whole town: leave the villages empty."),
    "missing_village": _l("This role needs at least one village."),
    "unknown_village": _l("No village of yours has this name or code."),
    "no_sub_areas_for_role": _l("Only collectors, community police and informants are assigned to sub-areas."),
    "unknown_sub_area": _l("None of this row's villages has a sub-area with this code or name."),
    "ambiguous_sub_area": _l("Several of this row's villages have this sub-area: write it as village/code."),
    "bad_phone": _l("Not a mainland mobile number (11 digits starting 13-19)."),
    "duplicate_in_file": _l("The same phone number is in row %(line)s of this file."),
    "phone_taken": _l("A live collection ID already has this phone number: revoke that one first, or leave it."),
}
COLUMN_LABELS = {"name": _l("Name"), "role": _l("Role"), "villages": _l("Villages"),
                 "sub_areas": _l("Sub-areas"), "phone": _l("Mobile phone"), None: ""}


@dataclass
class Plan(ImportPlan):
    """What issuing would do: the rows (each with its issues), resolved to villages and sub-areas."""
    rows: list[AccountRow] = field(default_factory=list)
    village_ids: dict[int, list[int]] = field(default_factory=dict)  # row line -> village ids
    sub_area_ids: dict[int, list[int]] = field(default_factory=dict)  # row line -> sub-area ids


def file_message(problem: FileProblem) -> str:
    return problem_message(problem, FILE_MESSAGES, lambda column: str(COLUMN_LABELS[column]))


def issue_message(issue: RowIssue) -> str:
    return row_issue_message(issue, ROW_MESSAGES)


def row_report(row: AccountRow) -> str:
    """All of a row's issues in one line, for the downloadable report and the CLI."""
    return " ".join(f"{COLUMN_LABELS[i.column]}: {issue_message(i)}" if i.column else issue_message(i)
                    for i in row.issues)


def read_file(data: bytes, max_rows: int) -> Plan:
    """The rows of an uploaded list (not yet checked against the town)."""
    plan = Plan()
    try:
        fill_plan(plan, data, max_rows, map_header, row_from_cells)
    except FileProblem as problem:
        return Plan(file_problem=problem)
    return plan


def from_texts(rows: list[dict]) -> Plan:
    """A plan from rows sent back by the check page (the clerk's corrections): {line, COLUMNS...}."""
    plan = Plan()
    for number, texts in enumerate(rows, start=2):
        cells = {column: cell_text(texts.get(column, ""))[:512] for column in COLUMNS}
        if any(cells.values()):
            plan.rows.append(AccountRow(line=texts.get("line") or number, cells=cells))
    if not plan.rows:
        plan.file_problem = FileProblem("empty")
    return plan


def check(plan: Plan, town_id: int, villages: list[Village]) -> Plan:
    """Apply the row rules and resolve every row against the town (module docstring)."""
    if plan.file_problem is not None:
        return plan
    for row in plan.rows:
        check_row(row)
    mark_duplicates(plan.rows)
    find_village = village_finder(villages)
    village_ids = [v.id for v in villages]
    sub_areas = list(db.session.scalars(select(SubArea).where(SubArea.village_id.in_(village_ids)))) \
        if village_ids else []
    phones = {row.phone for row in plan.rows if row.phone}
    taken = set(db.session.scalars(select(Account.phone).where(
        Account.phone.in_(phones), Account.revoked_at.is_(None)))) if phones else set()
    for row in plan.rows:
        found: list[Village] = []
        for token in row.villages:
            village = find_village(token)
            if village is None:
                row.issues.append(RowIssue("unknown_village", "villages", token[:64]))
            elif village not in found:
                found.append(village)
        plan.village_ids[row.line] = [v.id for v in found]
        plan.sub_area_ids[row.line] = _resolve_sub_areas(row, found, sub_areas)
        if row.phone and row.phone in taken:
            row.issues.append(RowIssue("phone_taken", "phone"))
    return plan


def _resolve_sub_areas(row: AccountRow, villages: list[Village], sub_areas: list[SubArea]) -> list[int]:
    mine = [s for s in sub_areas if s.village_id in {v.id for v in villages}]
    chosen: list[int] = []
    for token in row.sub_areas:
        village_text, code = sub_area_reference(token)
        candidates = mine
        if village_text is not None:
            named = [v.id for v in villages if v.name == village_text or v.code.upper() == village_text.upper()]
            candidates = [s for s in mine if s.village_id in named]
        matches = [s for s in candidates if s.code.upper() == code.upper()] or \
                  [s for s in candidates if s.name == code]
        if not matches:
            row.issues.append(RowIssue("unknown_sub_area", "sub_areas", token[:64]))
        elif len(matches) > 1:
            row.issues.append(RowIssue("ambiguous_sub_area", "sub_areas", token[:64]))
        elif matches[0].id not in chosen:
            chosen.append(matches[0].id)
    return chosen


def new_batch_key() -> str:
    return secrets.token_hex(16)


def prepare_codes(plan: Plan) -> list[tuple[str, str]]:
    """The plan's activation codes and their slow hashes, made with no transaction open: the caller
    commits (or rolls back) first, because on SQLite a write transaction holds the database's one
    write lock, and phones syncing must not wait seconds for hashes. Check the plan again after."""
    from ..extensions import db as _db
    if _db.session().in_transaction():
        raise RuntimeError("end the transaction before hashing: it would hold the write lock")
    return accounts.new_activations(len(plan.rows))


def issue_all(plan: Plan, town_id: int, office: str | None, issued_by: int | None,
              valid_until: date | None = None,
              prepared: list[tuple[str, str]] | None = None) -> tuple[str, list[tuple[Account, str]]]:
    """Issue an ID for every row of a plan without rejected rows, in the caller's transaction (the
    caller commits, or rolls back on any error). Returns the batch key and (account, code) pairs in
    the file's order; the codes exist only in this return value. `prepared`: prepare_codes(plan)."""
    if not plan.ok:
        raise ValueError("only a plan without rejected rows is issued")
    batch = new_batch_key()
    issued = []
    if prepared is None or len(prepared) != len(plan.rows):
        prepared = accounts.new_activations(len(plan.rows))
    # Serials follow the highest taken one, read once (not once per row); a race with another
    # issuer ends in the unique constraint, and the caller rolls back.
    prefix = current_app.config["COLLECTION_ID_PREFIX"]
    first = int(accounts.next_collection_id(prefix).rsplit("-", 1)[1])
    for offset, (row, activation) in enumerate(zip(plan.rows, prepared)):
        account, code = accounts.issue(town_id, row.name, row.role, plan.village_ids[row.line], issued_by,
                                       valid_until, office, collection_id=f"{prefix}-{first + offset:04d}",
                                       prepared=activation)
        account.phone = row.phone
        account.issue_batch = batch
        if plan.sub_area_ids[row.line]:
            account.sub_areas = list(db.session.scalars(select(SubArea).where(
                SubArea.id.in_(plan.sub_area_ids[row.line]))))
        issued.append((account, code))
    db.session.flush()
    audit(issued_by, "issue_ids_bulk", f"batch:{batch}", f"{len(issued)} IDs", records=len(issued))
    return batch, issued
