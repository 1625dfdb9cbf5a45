"""The entry desk on the web: the review queue (/review/queue), one item in full
(/review/entries/<id>), and the decisions (approve, return with reasons, bulk approve).

The rules are review/desk.py's and review/queue.py's; these views only read the request, call them
and say what happened. Two reviewers deciding one item at once: the second is told it was decided.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.exc import SQLAlchemyError

from .. import scope
from ..audit import log_read
from ..extensions import db
from ..i18n import ui_lang
from ..models import Change
from ..rules import review as rules
from ..rules.address import ADDRESS_PARTS, format_address
from ..rules.days import local_day
from ..rules.days import today as local_today
from . import desk, queue
from .display import Shown
from .views import bp

KIND_LABELS = {"new": _l("New"), "update": _l("Update"), "cancel": _l("Cancellation")}
STATE_LABELS = {"pending": _l("Waiting for review"), "returned": _l("Returned to the collector"),
                "corrected": _l("Corrected"), "approved": _l("Approved"), "exempt": _l("No review needed")}
ALREADY_DECIDED = _l("This item was already decided by someone else. Nothing was changed.")


class DeskForm(FlaskForm):
    """CSRF only: the decisions' values are read from the buttons and reason fields."""


@bp.app_context_processor
def _nav():
    def review_waiting() -> int | None:
        """The navigation's count of changes waiting for this reviewer (None when it cannot be counted)."""
        try:
            return queue.waiting_count(current_user)
        except SQLAlchemyError:
            return None
    return {"review_waiting": review_waiting}


def _filters() -> queue.Filters:
    args = request.args
    return queue.Filters(village_id=args.get("village", type=int), collector_id=args.get("collector", type=int),
                         flagged=args.get("flagged") == "1", overdue=args.get("overdue") == "1")


def _changed(shown: Shown, change: Change, houses: dict) -> list[dict]:
    """What changed, field by field, as the UI shows it."""
    out = []
    for name, pair in (change.fields or {}).items():
        old, new = (list(pair) + [None, None])[:2] if isinstance(pair, (list, tuple)) else (None, pair)
        if name == "house_id":
            def where(v):
                house = houses.get(v)
                return format_house(house) if house is not None else "—"
            old_text, new_text = (where(old) if old else "—"), (where(new) if new else "—")
        else:
            old_text, new_text = shown.value(change.entity, name, old), shown.value(change.entity, name, new)
        out.append({"name": name, "label": shown.label(name), "old": old_text, "new": new_text})
    return out


def format_house(house) -> str:
    return format_address({n: getattr(house, n) for n in ADDRESS_PARTS})


def _chips(change: Change, flagged: bool, today) -> list[tuple[str, str]]:
    chips = []
    if change.review_state == rules.PENDING and change.review_due_on is not None:
        if change.review_due_on < today:
            chips.append(("behind", _("Overdue")))
        elif change.review_due_on == today:
            chips.append(("pending", _("Due today")))
    if flagged:
        chips.append(("behind", _("Flagged")))
    if not change.door_proof:
        chips.append(("", _("No door scan")))
    if change.corrects_id:
        chips.append(("on_track", _("Correction")))
    if change.collected_late:
        chips.append(("", _("Collected late")))
    return chips


def _rows(changes) -> list[dict]:
    shown = Shown(current_user, ui_lang())
    found = queue.records_of(current_user, changes)
    houses = queue.houses_named(current_user, changes)
    flagged = queue.flagged_ids([c.id for c in changes])
    names = queue.account_names(c.collected_by_id for c in changes)
    villages = queue.village_names(c.village_id for c in changes)
    today = local_today()
    return [{"change": c, "record": found.get((c.entity, c.entity_id)), "changed": _changed(shown, c, houses),
             "collector": names.get(c.collected_by_id, "—"), "village": villages.get(c.village_id, "—"),
             "collected_on": local_day(c.collected_at), "flagged": c.id in flagged,
             "chips": _chips(c, c.id in flagged, today)} for c in changes]


@bp.get("/review/queue")
@scope.require("entries.review")
def review_queue():
    filters = _filters()
    listed = queue.page(current_user, filters, request.args.get("page", 1, type=int))
    rows = _rows(listed.items)
    page = render_template("review/queue.html", rows=rows, listed=listed, filters=filters,
                           counts=queue.counts(current_user), villages=scope.villages(current_user),
                           collectors=queue.collectors(current_user), form=DeskForm(formdata=None),
                           KIND_LABELS=KIND_LABELS)
    if rows:
        # Each row names a record (names, masked numbers) and what was collected about it.
        log_read(current_user.id, "view_review_queue", None, len(rows))
    return page


def _entry_page(change: Change, reasons: dict | None = None, error: str | None = None, status: int = 200):
    shown = Shown(current_user, ui_lang())
    found = queue.records_of(current_user, [change])
    record = found.get((change.entity, change.entity_id))
    story = queue.history(change)
    houses = queue.houses_named(current_user, story)
    person = record if change.entity == "person" else None
    visit = queue.visit_of(change)
    names = queue.account_names({c.collected_by_id for c in story} | {c.reviewed_by_id for c in story})
    page = render_template(
        "review/entry.html", change=change, record=record, shown=shown, changed=_changed(shown, change, houses),
        story=[{"change": c, "changed": _changed(shown, c, houses), "collected_on": local_day(c.collected_at)}
               for c in story],
        names=names, visit=visit, flags=queue.open_flags(change),
        residences=queue.residences(person) if person is not None else [],
        identity=queue.identity(person) if person is not None else {},
        duplicates=queue.duplicates(current_user, person) if person is not None else [],
        decidable=queue.is_open(current_user, change), own=change.collected_by_id == current_user.id,
        chips=_chips(change, bool(queue.flagged_ids([change.id])), local_today()),
        collected_on=local_day(change.collected_at), reasons=reasons or {}, error=error,
        form=DeskForm(formdata=None), KIND_LABELS=KIND_LABELS, STATE_LABELS=STATE_LABELS)
    log_read(current_user.id, "view_review_entry", f"change:{change.id}", 1 + len(story))
    return page, status


def _change_or_404(change_id: int) -> Change:
    return queue.change_or_none(current_user, change_id) or abort(404)


@bp.get("/review/entries/<int:change_id>")
@scope.require("entries.review")
def review_entry(change_id):
    return _entry_page(_change_or_404(change_id))


def _not_decided(change: Change):
    """The answer when a decision found nothing to decide: decided meanwhile, or the reviewer's own."""
    db.session.rollback()
    db.session.expire_all()
    if change.collected_by_id == current_user.id:
        flash(_("Nobody reviews their own collection: another reviewer decides this item."), "error")
    else:
        flash(ALREADY_DECIDED, "info")
    return redirect(url_for(".review_entry", change_id=change.id), 303)


@bp.post("/review/entries/<int:change_id>/approve")
@scope.require("entries.review")
def approve_entry(change_id):
    change = _change_or_404(change_id)
    if not DeskForm().validate():
        abort(400)
    if desk.approve(current_user, [change.id]) != 1:
        return _not_decided(change)
    db.session.commit()
    flash(_("Approved: the change is entered."), "success")
    return redirect(url_for(".review_queue"), 303)


@bp.post("/review/entries/<int:change_id>/return")
@scope.require("entries.review")
def return_entry(change_id):
    change = _change_or_404(change_id)
    if not DeskForm().validate():
        abort(400)
    reasons = {key[len("reason-"):]: value for key, value in request.form.items() if key.startswith("reason-")}
    try:
        desk.return_change(current_user, change.id, reasons)
    except ValueError:
        db.session.rollback()
        return _entry_page(change, reasons=reasons, status=422, error=_(
            "Write a reason beside at least one changed field (or for the whole record), then return it."))
    except desk.NotReviewable:
        return _not_decided(change)
    db.session.commit()
    flash(_("Returned to the collector with your reasons; their correction will come back to this queue."),
          "success")
    return redirect(url_for(".review_queue"), 303)


@bp.post("/review/queue/approve")
@scope.require("entries.review")
def approve_many():
    if not DeskForm().validate():
        abort(400)
    ids = [int(v) for v in request.form.getlist("change") if v.isascii() and v.isdigit() and len(v) < 10]
    back = redirect(url_for(".review_queue", **queue.Filters(
        village_id=request.form.get("village", type=int), collector_id=request.form.get("collector", type=int),
        flagged=request.form.get("flagged") == "1", overdue=request.form.get("overdue") == "1").args()), 303)
    if not ids:
        flash(_("Tick the items to approve first."), "error")
        return back
    done, flagged = desk.approve_unflagged(current_user, ids)
    db.session.commit()
    if done:
        flash(_("Approved %(n)s items.", n=done), "success")
    if flagged:
        flash(_("%(n)s items have open flags and were not approved: open each one, check it, then decide.",
                n=len(flagged)), "error")
    if len(ids) - len(flagged) - done > 0:
        flash(_("%(n)s items were already decided by someone else (or are yours to collect, not review).",
                n=len(ids) - len(flagged) - done), "info")
    return back
