"""Setting up a town: read a set-up workbook or quota table, check it against the database, apply it.

Shared by the web pages and `flask --app fieldapp town import`. The file rules are
rules.town_workbook; this module adds what needs the database: village codes are unique across
the whole database (a code another town uses is refused), villages named in the sub-area and quota
sheets may be existing ones, and applying is idempotent (matched by code: a second import of the
same workbook changes nothing). Nothing is ever deleted by an import: villages and sub-areas that
the workbook leaves out are kept, since houses and accounts refer to them.
"""
from __future__ import annotations

import io
import zipfile

from sqlalchemy import select

from .. import changefeed, records
from ..audit import audit
from ..doors.importer import FileProblem
from ..extensions import db
from ..models import SubArea, Town, Village
from ..rules import town_workbook as rules
from ..rules.excel_files import workbook_bytes
from ..rules.register_import import cell_text, read_cells

MAX_ROWS = 20_000  # per sheet: a town has some hundred villages and a few thousand sub-areas

TEMPLATE_HEADERS = {
    "镇 town": ["名称 name", "镇代码 code", "县级区划代码 county_code", "发证机关 office", "单位任务数 orgs_quota",
               "按片区下发 package_by_sub_area"],
    "村居 villages": ["代码 code", "名称 name", "类型 kind", "顺序 order"],
    "片区 sub_areas": ["村居 village", "代码 code", "名称 name", "类型 kind"],
    "任务数 quotas": ["village", "people", "houses", "organisations"],
}


def read_sheets(data: bytes) -> dict[str, list[list]]:
    """{sheet title: rows} of an .xlsx workbook. Raises FileProblem (rules.register_import codes)."""
    from openpyxl import load_workbook

    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem("old_excel")
    if not data.startswith(b"PK\x03\x04"):
        raise FileProblem("unreadable")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise FileProblem("unreadable") from None
    try:
        sheets = {}
        for sheet in book.worksheets:
            rows = []
            for values in sheet.iter_rows(values_only=True):
                rows.append(list(values))
                if len(rows) > MAX_ROWS + 1:
                    raise FileProblem("too_many_rows", limit=MAX_ROWS)
            while rows and not any(cell_text(c) for c in rows[-1]):
                rows.pop()
            sheets[_sheet_title(sheet.title)] = rows
        return sheets
    finally:
        book.close()


def _sheet_title(title: str) -> str:
    """'镇 town' (the template's bilingual titles) -> whichever word names a known sheet."""
    for word in [title, *title.split()]:
        if rules.sheet_kind(word):
            return word
    return title


def find_town(book: rules.Workbook) -> Town | None:
    """The town a command-line import applies to: by the town sheet's code, else the only town."""
    if book.town is not None and book.town.code:
        return db.session.scalar(select(Town).where(Town.code == book.town.code))
    towns = list(db.session.scalars(select(Town).limit(2)))
    return towns[0] if len(towns) == 1 else None


def check(book: rules.Workbook, town: Town | None) -> rules.Workbook:
    """Add the database checks to a read workbook. `town` is the town it applies to (None: it will
    be created, so the town sheet must give a name and a code)."""
    if town is None and (book.town is None or not book.town.name or not book.town.code):
        if not any(i.sheet == "town" for i in book.errors):
            book.errors.append(rules.Issue("town", None, "code", "town_needed"))
    existing = {}
    if town is not None:
        existing = dict(db.session.execute(select(Village.code, Village.name).where(Village.town_id == town.id)).all())
    if book.town is not None and book.town.code and town is not None and book.town.code != town.code:
        if db.session.scalar(select(Town.id).where(Town.code == book.town.code, Town.id != town.id)):
            book.errors.append(rules.Issue("town", 2, "code", "code_taken", book.town.code))
    if book.villages:
        codes = [v.code for v in book.villages]
        taken = dict(db.session.execute(select(Village.code, Village.town_id).where(Village.code.in_(codes))).all())
        for village in book.villages:
            if village.code in taken and (town is None or taken[village.code] != town.id):
                book.errors.append(rules.Issue("villages", village.line, "code", "code_taken", village.code))
        existing_names = {name: code for code, name in existing.items()}
        for village in book.villages:
            other = existing_names.get(village.name)
            if other is not None and other != village.code:
                book.errors.append(rules.Issue("villages", village.line, "name", "name_taken", village.name))
    rules.resolve_villages(book, existing)
    return book


def apply(book: rules.Workbook, town: Town | None, actor_id: int | None) -> tuple[Town, dict]:
    """Write a checked workbook without errors (in the caller's transaction). Returns the town and
    counts {'villages': (new, updated), 'sub_areas': (new, updated), 'quotas': updated}."""
    if not book.ok:
        raise ValueError("only a workbook without errors is applied")
    counts = {"villages": [0, 0], "sub_areas": [0, 0], "quotas": 0}
    if town is None:
        town = Town(code=book.town.code, name=book.town.name, office=book.town.office or book.town.name)
        db.session.add(town)
    if book.town is not None:
        _apply_town(town, book.town)
    if book.total is not None and book.total.orgs is not None and (book.town is None or book.town.orgs_quota is None):
        town.orgs_quota = book.total.orgs  # the totals row's organisations (when villages have none)
    db.session.flush()
    villages = {v.code: v for v in db.session.scalars(select(Village).where(Village.town_id == town.id))}
    next_order = max((v.sort_order for v in villages.values()), default=0) + 1
    for draft in book.villages:
        village = villages.get(draft.code)
        if village is None:
            village = Village(town_id=town.id, code=draft.code, name=draft.name, kind=draft.kind,
                              sort_order=draft.order if draft.order is not None else next_order)
            next_order = max(next_order, village.sort_order) + 1
            db.session.add(village)
            villages[draft.code] = village
            counts["villages"][0] += 1
        elif (village.name, village.kind) != (draft.name, draft.kind) or (
                draft.order is not None and draft.order != village.sort_order):
            village.name, village.kind = draft.name, draft.kind
            if draft.order is not None:
                village.sort_order = draft.order
            counts["villages"][1] += 1
    db.session.flush()
    records.ensure_counters([v.id for v in villages.values()])
    # One read of the town's sub-areas, not one per row (a town has thousands of 楼组).
    existing = {(a.village_id, a.code): a for a in db.session.scalars(
        select(SubArea).where(SubArea.village_id.in_([v.id for v in villages.values()])))}
    last_order: dict[int, int] = {}
    for area in existing.values():
        last_order[area.village_id] = max(last_order.get(area.village_id, 0), area.sort_order)
    for draft in book.sub_areas:
        village = villages[draft.village]
        sub_area = existing.get((village.id, draft.code))
        if sub_area is None:
            last_order[village.id] = last_order.get(village.id, 0) + 1
            sub_area = SubArea(village_id=village.id, code=draft.code, name=draft.name, kind=draft.kind,
                               sort_order=last_order[village.id])
            db.session.add(sub_area)
            existing[(village.id, draft.code)] = sub_area
            counts["sub_areas"][0] += 1
        elif (sub_area.name, sub_area.kind) != (draft.name, draft.kind):
            sub_area.name, sub_area.kind = draft.name, draft.kind
            counts["sub_areas"][1] += 1
    for draft in book.quotas:
        village = villages[draft.village]
        new = (draft.people, draft.houses, draft.orgs)
        if (village.people_quota, village.houses_quota, village.orgs_quota) != new:
            village.people_quota, village.houses_quota, village.orgs_quota = new
            counts["quotas"] += 1
            changefeed.note_village_changed(village.id, "quota")
    update_totals(town)
    db.session.flush()
    audit(actor_id, "town.import", f"towns:{town.id}",
          f"villages +{counts['villages'][0]} ~{counts['villages'][1]}, sub-areas +{counts['sub_areas'][0]} "
          f"~{counts['sub_areas'][1]}, quotas ~{counts['quotas']}")
    return town, counts


def _apply_town(town: Town, draft: rules.TownDraft) -> None:
    if draft.name:
        town.name = draft.name
    if draft.code:
        town.code = draft.code
    if draft.county_code is not None:
        town.county_code = draft.county_code
    if draft.office:
        town.office = draft.office
    if draft.orgs_quota is not None:
        town.orgs_quota = draft.orgs_quota
    if draft.package_by_sub_area is not None:
        town.package_by_sub_area = draft.package_by_sub_area


def update_totals(town: Town) -> None:
    """The town's quotas follow its villages (rules.town_workbook.town_totals)."""
    rows = db.session.execute(select(Village.people_quota, Village.houses_quota, Village.orgs_quota)
                              .where(Village.town_id == town.id)).all()
    town.people_quota, town.houses_quota, town.orgs_quota = rules.town_totals([tuple(r) for r in rows],
                                                                             town.orgs_quota)


def read_quota_table(data: bytes) -> rules.Workbook:
    """The web page's quota upload: a CSV or .xlsx shaped like the seed's table (first sheet)."""
    book = rules.Workbook()
    try:
        rows = read_cells(data, MAX_ROWS)
    except FileProblem as problem:
        book.errors.append(rules.Issue("quotas", None, None, "file_" + problem.code))
        return book
    while rows and not any(cell_text(c) for c in rows[-1]):
        rows.pop()
    if len(rows) < 2:
        book.errors.append(rules.Issue("quotas", None, None, "file_empty"))
        return book
    rules.read_quotas(rows, book)
    return book


def read_workbook(data: bytes) -> rules.Workbook:
    try:
        return rules.read_workbook(read_sheets(data))
    except FileProblem as problem:
        book = rules.Workbook()
        book.errors.append(rules.Issue("town", None, None, "file_" + problem.code))
        return book


def template_workbook(example: bool = False) -> bytes:
    """The blank set-up workbook (headers only, with the four sheets); `example` adds a sample row
    per sheet so a clerk sees the shape of each column."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    samples = {
        "镇 town": ["余坪镇", "431226100", "431226", "余坪镇人民政府", 400, "否"],
        "村居 villages": ["YP01", "余坪村", "村", 1],
        "片区 sub_areas": ["YP01", "A1", "一片区", "片区"],
        "任务数 quotas": ["余坪村", 2537, 637, None],
    }
    for title, headers in TEMPLATE_HEADERS.items():
        sheet = book.create_sheet(title)
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for index, header in enumerate(headers):
            sheet.column_dimensions[chr(ord("A") + index)].width = max(14, len(header) + 6)
        if example:
            sheet.append(samples[title])
    return workbook_bytes(book)
