"""The 及时率's pages (rules/timeliness.py): the late and overdue changes, and each reviewer's
entry throughput per day or month with CSV and .xlsx downloads (issue 10 pays the entry allowance
from it). Permission progress.view; scoped: village heads and reviewers see their own villages,
a village outside the scope answers 404. The late list names staff and record kinds only, no
resident's identifiers, and its read is logged all the same (it lists registry activity).
"""
from __future__ import annotations

from dataclasses import dataclass

from datetime import date

from flask import Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from openpyxl import Workbook

from .. import scope
from ..audit import log_read
from ..extensions import db
from ..models import Account
from ..rules import timeliness
from ..rules.days import local_day, today as local_today
from ..rules.excel_files import csv_bytes, workbook_bytes
from . import data
from .views import bp

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _day(name: str, default: date) -> tuple[date, bool]:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default, True
    try:
        return date.fromisoformat(raw), True
    except ValueError:
        return default, False


def _period() -> tuple[date, date, bool]:
    """?since= and ?until= (collection days for the late list, decision days for throughput):
    default the current month to today; (defaults, False) when a value is not a date."""
    today = local_today()
    since, ok1 = _day("since", today.replace(day=1))
    until, ok2 = _day("until", today)
    return since, until, ok1 and ok2


def _villages():
    """The villages asked for (?village=<id>, 404 outside the scope) or the whole scope."""
    village_id = request.args.get("village", type=int)
    scoped = scope.villages(current_user)
    if village_id:
        return [scope.village_or_404(current_user, village_id)], scoped
    return scoped, scoped


# Deep offsets cost as much as a count; nobody pages through a thousand pages of late changes:
# the filters (village, collector, period) narrow the list instead.
MAX_PAGE = 1000


@dataclass
class LatePage:
    page: int
    items: list
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1


@bp.get("/progress/late")
@scope.require("progress.view")
def late():
    since, until, valid = _period()
    villages, scoped = _villages()
    ids = [v.id for v in villages]
    collector_id = request.args.get("collector", type=int)
    today = local_today()
    # No total: counting every late change of a period scans all of its changes (3.7 s at 200,000 on
    # SQLite, bench/timeliness_scale.py); a page needs only its rows and whether one more exists.
    per_page = current_app.config["PAGE_SIZE"]
    number = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    rows = db.session.scalars(data.late_changes(ids, since, until, today, collector_id)
                              .limit(per_page + 1).offset((number - 1) * per_page)).all()
    page = LatePage(number, rows[:per_page], len(rows) > per_page)
    staff_ids = {c.collected_by_id for c in page.items} | {c.reviewed_by_id for c in page.items}
    staff = {a.id: a for a in db.session.scalars(db.select(Account).where(Account.id.in_(staff_ids - {None})))}
    names = {v.id: v.name for v in scoped}
    items = [{"change": c, "kind": timeliness.classify(c.review_state, c.review_due_on, c.collected_late,
                                                      c.reviewed_late, today),
              "collected_on": local_day(c.collected_at),
              "reviewed_on": local_day(c.reviewed_at) if c.reviewed_at else None,
              "collector": staff.get(c.collected_by_id), "reviewer": staff.get(c.reviewed_by_id),
              "village": names.get(c.village_id, "")} for c in page.items]
    collectors = data.collectors(current_user.town_id, ids, until, since).rows
    html = render_template("progress/late.html", page=page, items=items, since=since, until=until, valid=valid,
                           villages=scoped, village_id=request.args.get("village", type=int),
                           collector_id=collector_id, collectors=collectors)
    log_read(current_user.id, "progress.late", None, len(items),
             f"{since.isoformat()}..{until.isoformat()}")
    return html


def _throughput_rows():
    since, until, valid = _period()
    villages, scoped = _villages()
    by_month = request.args.get("by") == "month"
    return data.throughput([v.id for v in villages], since, until, by_month), since, until, valid, by_month, scoped


@bp.get("/progress/throughput")
@scope.require("progress.view")
def throughput():
    rows, since, until, valid, by_month, scoped = _throughput_rows()
    return render_template("progress/throughput.html", rows=rows, since=since, until=until, valid=valid,
                           by_month=by_month, villages=scoped, village_id=request.args.get("village", type=int))


def _safe(text: str) -> str:
    """A text cell Excel will not run as a formula."""
    return "'" + text if text and text[0] in "=+-@" else text


@bp.get("/progress/throughput.<any(csv, xlsx):fmt>")
@scope.require("progress.view")
def throughput_file(fmt: str):
    """The throughput table as a file for the allowance (rules/excel_files.py: opens cleanly in Excel)."""
    rows, since, until, _valid, by_month, _scoped = _throughput_rows()
    header = [_("Month") if by_month else _("Day"), _("Collector ID"), _("Name"), _("Approved"), _("Returned"),
              _("Decisions"), _("Late decisions")]
    table = [header] + [[r.period, _safe(r.collection_id), _safe(r.name), r.approved, r.returned, r.decided, r.late] for r in rows]
    name = f"throughput-{since.isoformat()}-{until.isoformat()}.{fmt}"
    if fmt == "csv":
        body, mimetype = csv_bytes(table), "text/csv; charset=utf-8"
    else:
        book = Workbook()
        sheet = book.active
        sheet.title = _("Throughput")
        for values in table:
            sheet.append(values)
        body, mimetype = workbook_bytes(book), XLSX
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={name}"})
