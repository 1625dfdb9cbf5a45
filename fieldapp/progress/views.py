"""The live supervisor dashboard: the town (or the viewer's villages) against quotas and phase targets,
per-collector figures, the daily chart, a village page with its houses not yet visited, the JSON
figures the page refetches, and the event stream that tells it when to (fieldapp/live.py).

Every route is scoped on the server: village heads, reviewers and police see their own villages
only; a village outside the scope answers 404.
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_login import current_user

from .. import live, scope
from ..rules.days import today as local_today
from ..extensions import db
from ..rules.permissions import can, is_town_wide
from . import chart as charts
from . import data

bp = Blueprint("progress", __name__)


def _as_of() -> tuple[date, bool]:
    """The day the dashboard is judged on (?as_of=YYYY-MM-DD, default today); (today, False) when
    the value given is not a date, so the page can say so and keep working."""
    raw = request.args.get("as_of", "").strip()
    if not raw:
        return local_today(), True
    try:
        return date.fromisoformat(raw), True
    except ValueError:
        return local_today(), False


def _since() -> date | None:
    """The first collection day of the 及时率's period (?since=YYYY-MM-DD); None (the default
    period, data.default_since) when absent or not a date."""
    try:
        return date.fromisoformat(request.args.get("since", "").strip())
    except ValueError:
        return None


def _sort() -> tuple[str, bool]:
    key = request.args.get("sort", "order")
    return (key if key in data.SORT_KEYS else "order"), request.args.get("dir") == "desc"


def _chart(village_ids, quota, overview):
    if overview.campaign is None:
        return None, None
    series = data.daily_series(village_ids, quota, overview.campaign, overview.as_of)
    return series, charts.build(series)


@bp.get("/progress")
@scope.require("dashboard.view")
def overview():
    as_of, valid = _as_of()
    sort, descending = _sort()
    villages = scope.villages(current_user)
    town_wide = is_town_wide(current_user.role)
    figures = data.overview(current_user.town, villages, as_of, with_total=town_wide, sort=sort,
                            descending=descending, since=_since())
    ids = [v.id for v in villages]
    quota = current_user.town.people_quota if town_wide else sum(v.people_quota or 0 for v in villages)
    series, chart = _chart(ids, quota, figures)
    return render_template("progress/overview.html", data=figures, sort=sort, descending=descending,
                           as_of_valid=valid, as_of_raw=request.args.get("as_of", ""),
                           collectors=data.collectors(current_user.town_id, ids, as_of, figures.since),
                           series=series, chart=chart, cursor=live.latest_event_id(),
                           chart_title=figures.total.name if figures.total else None, today=local_today())


@bp.get("/progress/villages/<int:village_id>")
@scope.require("dashboard.view")
def village(village_id: int):
    place = scope.village_or_404(current_user, village_id)
    as_of, valid = _as_of()
    figures = data.overview(current_user.town, [place], as_of, with_total=False, since=_since())
    series, chart = _chart([place.id], place.people_quota, figures)
    page = None
    if can(current_user.role, "registry.read"):  # addresses are registry data (admins do not read it)
        from ..registry.views import NATURAL_ORDER
        page = db.paginate(data.not_visited(place.id).order_by(*NATURAL_ORDER),
                           page=request.args.get("page", 1, type=int),
                           per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template("progress/village.html", village=place, data=figures, row=figures.rows[0],
                           as_of_valid=valid, as_of_raw=request.args.get("as_of", ""),
                           collectors=data.collectors(current_user.town_id, [place.id], as_of, figures.since),
                           series=series, chart=chart, page=page, cursor=live.latest_event_id(),
                           chart_title=place.name, today=local_today())


@bp.get("/progress/panels")
@scope.require("dashboard.view")
def panels():
    """The chart and the collectors' table as an HTML fragment, for a live page to swap in:
    for one village (?village=<id>, scoped: 404 outside) or for everything the viewer sees."""
    as_of, _valid = _as_of()
    village_id = request.args.get("village", type=int)
    if village_id is not None:
        place = scope.village_or_404(current_user, village_id)
        villages, quota, title = [place], place.people_quota, place.name
    else:
        villages = scope.villages(current_user)
        town_wide = is_town_wide(current_user.role)
        quota = current_user.town.people_quota if town_wide else sum(v.people_quota or 0 for v in villages)
        title = current_user.town.name if town_wide else None
    figures = data.overview(current_user.town, villages, as_of, with_total=False, since=_since())
    ids = [v.id for v in villages]
    series, chart = _chart(ids, quota, figures)
    return render_template("progress/_panels.html", series=series, chart=chart, chart_title=title,
                           collectors=data.collectors(current_user.town_id, ids, as_of, figures.since))


@bp.get("/progress/figures")
@scope.require("dashboard.view")
def figures():
    """JSON figures for the villages named in ?villages=1,2 (default: all in scope) and, for
    town-wide viewers, the town total. Villages outside the scope are silently left out."""
    as_of, _valid = _as_of()
    wanted = request.args.get("villages")
    try:
        asked = {int(v) for v in wanted.split(",") if v} if wanted else None
    except ValueError:
        abort(400)
    # The total is always over the whole scope (a few dozen counter rows), the rows only those asked.
    result = data.overview(current_user.town, scope.villages(current_user), as_of,
                           with_total=is_town_wide(current_user.role), since=_since())
    rows = [r for r in result.rows if asked is None or r.village_id in asked]
    return jsonify({"as_of": as_of.isoformat(), "rows": [r.as_json() for r in rows],
                    "total": result.total.as_json() if result.total else None})


@bp.get("/progress/events")
@scope.require("dashboard.view")
def events():
    """Server-Sent Events: which villages in the viewer's scope changed (live.stream). The cursor is
    the Last-Event-ID header on a reconnect, else ?after= (the id the page was rendered at)."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("after") or ""
    try:
        cursor = max(0, int(raw)) if raw else live.latest_event_id()
    except ValueError:
        cursor = live.latest_event_id()
    villages = frozenset(v.id for v in scope.villages(current_user))
    session_id, app = current_user.get_id(), current_app._get_current_object()
    db.session.remove()  # hold no connection for the stream's lifetime

    def still_allowed() -> bool:
        # A revoked ID, a changed PIN (new session version) or a narrowed scope ends the stream.
        from ..accounts import load_session_account
        from ..models import Village
        from ..rules.permissions import is_town_wide as wide
        with app.app_context():
            try:
                account = load_session_account(session_id)
                if account is None or not can(account.role, "dashboard.view"):
                    return False
                if wide(account.role):
                    now = set(db.session.scalars(db.select(Village.id).where(Village.town_id == account.town_id)))
                else:
                    now = set(account.village_ids)
                return villages <= now
            finally:
                db.session.remove()

    response = Response(live.stream(app, cursor, villages, still_allowed),
                        mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events through as they come
    return response
