"""The reviewer's conflict list (/review/conflicts): decide fields two editors changed differently."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .. import scope
from ..accounts import audit
from ..audit import log_read
from ..extensions import db
from ..i18n import ui_lang
from ..models import Account
from ..rules.permissions import can
from . import service
from .display import Shown
from .forms import ResolveForm

bp = Blueprint("review", __name__)

ALREADY_DECIDED = _l("This conflict was already decided by someone else. Nothing was changed.")


@bp.app_context_processor
def _nav():
    def open_conflicts() -> int | None:
        """The navigation's count of conflicts waiting (only asked when the link is shown). A
        badge must never break a page, the error pages included: None when it cannot be counted."""
        try:
            return service.open_count(current_user)
        except SQLAlchemyError:
            return None
    return {"open_conflicts": open_conflicts}


def _page(items=None, truncated=False, revealed: int | None = None, errors: dict | None = None,
          failed: int | None = None, status: int = 200):
    if items is None:
        items, truncated = service.pending(current_user)
    shown = Shown(current_user, ui_lang())
    forms = {}
    for item in items:
        form = ResolveForm(formdata=None)
        form.version.data = str(item.record.version)
        forms[item.conflict.id] = form
    submitters = dict(db.session.execute(select(Account.id, Account.collection_id).where(
        Account.id.in_({item.conflict.account_id for item in items}))).all())
    total = service.open_count(current_user) if truncated else len(items)
    page = render_template("review/conflicts.html", items=items, truncated=truncated, total=total, shown=shown,
                           forms=forms, submitters=submitters, revealed=revealed, errors=errors or {}, failed=failed,
                           may_reveal=can(current_user.role, "identifier.reveal"))
    # Each conflict shows a record's values side by side (names, masked numbers): one row per page.
    log_read(current_user.id, "view_conflicts", None, len(items))
    return page, status


def _item_or_404(conflict_id: int) -> service.Item:
    item = service.item_or_none(current_user, conflict_id)
    return item or abort(404)


@bp.get("/review/conflicts")
@scope.require("conflicts.resolve")
def conflicts():
    return _page()


@bp.post("/review/conflicts/<int:conflict_id>/reveal")
@scope.require("conflicts.resolve")
def reveal(conflict_id):
    """Show one conflict's numbers in full, once, and leave a trace of who looked."""
    item = _item_or_404(conflict_id)
    if not can(current_user.role, "identifier.reveal"):
        return _page()
    audit(current_user.id, "reveal_identifier", f"{item.conflict.entity}:{item.record.id}", "conflict")
    db.session.commit()
    return _page(revealed=item.conflict.id)


@bp.post("/review/conflicts/<int:conflict_id>")
@scope.require("conflicts.resolve")
def resolve(conflict_id):
    item = _item_or_404(conflict_id)
    if item.conflict.resolved_at is not None:
        flash(ALREADY_DECIDED, "info")
        return redirect(url_for(".conflicts"), 303)
    form = ResolveForm(request.form)
    if not form.validate() or (form.choice.data == "submitted" and not item.takeable):
        flash(_("Choose which value to keep."), "error")
        return _page(failed=item.conflict.id, status=422)
    text = form.version.data or ""
    seen = int(text) if text.isascii() and text.isdigit() else None  # missing or damaged: as if stale
    try:
        service.resolve(current_user, item, form.choice.data, seen)
    except service.RecordChanged:
        db.session.rollback()
        flash(_("The record changed while you were deciding. Nothing was saved; check the values again."), "error")
        return _page(failed=conflict_id, status=409)
    except service.AlreadyResolved:
        db.session.rollback()
        flash(ALREADY_DECIDED, "info")
        return redirect(url_for(".conflicts"), 303)
    except service.Refused as refused:
        db.session.rollback()
        flash(_("The submitted value cannot be taken: it breaks a rule today. Keep the current value, or correct "
                "the record on its edit page."), "error")
        return _page(errors={conflict_id: refused.errors}, failed=conflict_id, status=422)
    db.session.commit()
    flash(_("Decided. The record keeps the current value.") if form.choice.data == "kept"
          else _("Decided. The submitted value is saved on the record."), "success")
    return redirect(url_for(".conflicts"), 303)
