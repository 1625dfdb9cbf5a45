"""Flags as people see and handle them: /flags (a village's open flags, filtered and paged) and
POST /flags/<id>/clear (a reviewer clears one with a note and comes back to the page it was on).
The macro templates/flags/_list.html shows a list of flags anywhere (house page, review queue)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from .. import scope
from ..audit import log_read
from ..extensions import db
from ..models import Account
from ..rules.redirects import safe_next
from . import service, words

bp = Blueprint("flags", __name__)


class ClearForm(FlaskForm):
    note = StringField(_l("Why the flag can be cleared (note)"), validators=[DataRequired(message=_l("Write why the flag can be cleared.")), Length(max=service.NOTE_MAX)])
    next = HiddenField()


# Template globals, not a context processor: the macro templates/flags/_list.html is imported
# without the page's context ({% from ... import flag_list %}) and still needs them.
@bp.app_template_global()
def flag_words(flag) -> str:
    return words.describe(flag)


@bp.app_template_global()
def flag_worker(flag) -> str:
    """Whose work the flag is on: the account's collection ID (no name)."""
    if flag.account_id is None:
        return "—"
    account = db.session.get(Account, flag.account_id)  # the identity map keeps repeats cheap
    return account.collection_id if account else "—"


@bp.app_template_global()
def may_clear_flag(flag) -> bool:
    return current_user.is_authenticated and service.may_clear(current_user, flag)


@bp.app_template_global()
def request_endpoint() -> str | None:
    return request.endpoint


@bp.app_template_global()
def flag_back() -> str:
    """The page the clear form comes back to: this one (path and query)."""
    return request.full_path.rstrip("?")


def _back(form: ClearForm, flag) -> str:
    default = (url_for("registry.house", house_id=flag.house_id) if flag.house_id
               else url_for("flags.index", village=flag.village_id))
    return safe_next(form.next.data) or default


@bp.route("/flags/<int:flag_id>/clear", methods=["POST"])
@scope.require("entries.review")
def clear(flag_id):
    try:
        flag = service.clearable_or_404(current_user, flag_id)
    except service.NotClearable:
        abort(404)
    if flag.account_id == current_user.id:
        abort(403)  # nobody clears a flag on their own work
    form = ClearForm()
    back = _back(form, flag)
    if not form.validate_on_submit() or not form.note.data.strip():
        if not form.note.errors:
            form.note.errors = [_("Write why the flag can be cleared.")]
        return render_template("flags/clear.html", flag=flag, form=form, back=back), 422
    try:
        service.clear(current_user, flag, form.note.data)
    except service.AlreadyCleared:
        db.session.rollback()
        return render_template("flags/clear.html", flag=flag, form=None, back=back, taken=True), 409
    db.session.commit()
    flash(_("Flag cleared. Your note is kept with it."), "success")
    return redirect(back, 303)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and 0 < int(value) <= scope.MAX_ID else None


@bp.route("/flags")
@scope.require("flags.view")
def index():
    villages = scope.villages(current_user)
    village_id = _int_arg("village") or (villages[0].id if villages else None)
    if village_id is None:
        abort(404)
    village = scope.village_or_404(current_user, village_id)
    kind = request.args.get("kind") if request.args.get("kind") in words.KINDS else None
    worker_id, page = _int_arg("collector"), _int_arg("page") or 1
    flags, total = service.for_village(current_user, village.id, kind, worker_id, page)
    workers = service.workers_in(current_user, village.id)
    pages = max(1, -(-total // service.PAGE))
    kinds = [(k, words.kind_name(k)) for k in words.KINDS]
    html = render_template("flags/index.html", villages=villages, village=village, flags=flags, total=total,
                           kind=kind, kinds=kinds, worker_id=worker_id, workers=workers, page=page, pages=pages)
    # Flags point at houses and people's records (no names on this page): one row per page shown.
    log_read(current_user.id, "view_flags", f"village:{village.id}", len(flags))
    return html


def init_app(app) -> None:
    app.register_blueprint(bp)
