"""Printed forms (thin views): A4 pages to print from the browser or save as PDF. The work is in
prints/service.py; scoping comes from fieldapp.scope (a record outside the reader's scope: 404).

Routes:
  /prints                              what can be printed: villages, sub-areas, informants
  /prints/houses/<id>                  one house's 信息采集表 (prints.registry); POST: with full numbers
  /prints/villages/<id>                every house of a village, a page break per house (prints.registry)
  /prints/sub-areas/<id>               every house of a sub-area (片区/楼组) (prints.registry)
  /prints/informants/<id>?from=&to=    an informant's 信息提供情况登记表 for a period (prints.tips)
"""
from __future__ import annotations

from datetime import date
from functools import wraps

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from .. import scope
from ..extensions import db
from ..models import House, SubArea, Town, Village
from ..registry.forms import AWAY_LABELS, REASON_LABELS
from ..rules import days
from ..rules.permissions import can
from . import service

bp = Blueprint("prints", __name__)

PAGE_SIZE = 500  # houses in one printed batch (one browser document); the CLI's PDF takes a whole village


@bp.app_context_processor
def _labels():
    return {"REASON_LABELS": REASON_LABELS, "AWAY_LABELS": AWAY_LABELS}


def _may_print_something(view):
    """Signed in, and the role may print something (prints.registry or prints.tips); 403 otherwise."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not (can(current_user.role, "prints.registry") or can(current_user.role, "prints.tips")):
            abort(403)
        return view(*args, **kwargs)
    return wrapped


@bp.get("/prints")
@_may_print_something
def index():
    villages = scope.villages(current_user) if can(current_user.role, "prints.registry") else []
    ids = [v.id for v in villages]
    counts = dict(db.session.execute(select(House.village_id, func.count()).where(House.village_id.in_(ids))
                                     .group_by(House.village_id)).all()) if ids else {}
    sub_counts = dict(db.session.execute(select(House.sub_area_id, func.count()).where(
        House.village_id.in_(ids), House.sub_area_id.is_not(None)).group_by(House.sub_area_id)).all()) if ids else {}
    informants = service.informants(current_user) if can(current_user.role, "prints.tips") else []
    return render_template("prints/index.html", villages=villages, counts=counts, sub_counts=sub_counts,
                           informants=informants, period=service.Period.quarter_of(days.today()),
                           page_size=PAGE_SIZE)


def _town() -> Town:
    return db.session.get(Town, current_user.town_id)


def _full_numbers() -> bool:
    """A POST (with its CSRF token, checked by Flask-WTF) prints full numbers: only for roles that may
    reveal identifiers (403 otherwise), and logged as such. A GET prints them masked."""
    if request.method != "POST":
        return False
    if not can(current_user.role, "identifier.reveal"):
        abort(403)
    return True


@bp.route("/prints/houses/<int:house_id>", methods=["GET", "POST"])
@scope.require("prints.registry")
def house(house_id):
    house = scope.house_or_404(current_user, house_id)
    full = _full_numbers()
    printed = service.sheets(service.Reach.for_account(current_user), [house])
    page = render_template("prints/houses.html", sheets=printed, town=_town(), title_place=printed[0].village.name,
                           back=url_for("registry.house", house_id=house.id), pager=None, printed_on=days.today(),
                           full=full)
    service.log_printed(current_user.id, printed, "print one house", full)
    return page


def _batch(village: Village, sub_area: SubArea | None, endpoint: str, **route_args):
    full = _full_numbers()
    reach = service.Reach.for_account(current_user)
    page_no = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    houses, total = service.batch_houses(reach, village, sub_area, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    printed = service.sheets(reach, houses)
    pager = {"page": page_no, "pages": pages, "total": total, "endpoint": endpoint, "args": route_args,
             "first": (page_no - 1) * PAGE_SIZE + 1 if houses else 0, "last": (page_no - 1) * PAGE_SIZE + len(houses)}
    place = village.name + (f" · {sub_area.name}" if sub_area else "")
    page = render_template("prints/houses.html", sheets=printed, town=_town(), title_place=place,
                           back=url_for(".index"), pager=pager, printed_on=days.today(), full=full)
    where = f"sub_area:{sub_area.id}" if sub_area else f"village:{village.id}"
    service.log_printed(current_user.id, printed, f"batch {where} page {page_no}", full)
    return page


@bp.route("/prints/villages/<int:village_id>", methods=["GET", "POST"])
@scope.require("prints.registry")
def village(village_id):
    village = scope.village_or_404(current_user, village_id)
    return _batch(village, None, ".village", village_id=village.id)


@bp.route("/prints/sub-areas/<int:sub_area_id>", methods=["GET", "POST"])
@scope.require("prints.registry")
def sub_area(sub_area_id):
    sub_area = db.session.get(SubArea, scope.key_or_404(sub_area_id)) or abort(404)
    village = scope.village_or_404(current_user, sub_area.village_id)
    return _batch(village, sub_area, ".sub_area", sub_area_id=sub_area.id)


def _date_arg(name: str, default: date) -> date:
    text = (request.args.get(name) or "").strip()
    if not text:
        return default
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return default


@bp.get("/prints/informants/<int:account_id>")
@scope.require("prints.tips")
def informant(account_id):
    informant = service.informant_or_none(current_user, scope.key_or_404(account_id)) or abort(404)
    quarter = service.Period.quarter_of(days.today())
    first, last = _date_arg("from", quarter.first), _date_arg("to", quarter.last)
    if last < first:
        first, last = last, first
    period = service.Period(first, last)
    sheet = service.informant_sheet(current_user, informant, period)
    page = render_template("prints/informant.html", sheet=sheet, town=_town(), printed_on=days.today(),
                           reward_yuan=service.TIP_REWARD_YUAN, back=url_for(".index"))
    service.log_informant_printed(current_user.id, sheet)
    return page
