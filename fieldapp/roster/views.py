"""Admin pages for collection IDs in bulk: issue from a file, the template, activation letters for a
batch, moving a holder between villages. Thin: the rules are in issuing.py, letters.py, listing.py."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import DateField, HiddenField, SelectMultipleField, SubmitField
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from .. import accounts, scope
from ..doors import qr
from ..extensions import db
from ..forms import options
from ..models import Account, SubArea
from ..rules.account_import import COLUMNS
from ..rules.register_import import too_large
from . import issuing, letters, listing, spreadsheets

bp = Blueprint("roster", __name__, url_prefix="/admin/accounts")

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MOVE_MESSAGES = {
    "town_wide": _l("This ID covers the whole town: it has no villages to change."),
    "revoked": _l("This ID is revoked: issue a new one instead."),
    "no_village": _l("Choose at least one village."),
    "sub_area_outside": _l("A chosen sub-area is not in the chosen villages. Untick it or tick its village."),
}


class BulkForm(FlaskForm):
    file = FileField(_l("List of people (.xlsx or .csv)"),
                     description=_l("One person per row: name, role, villages, sub-areas, mobile phone."))
    valid_until = DateField(_l("Valid until"), validators=[Optional()])
    check_only = SubmitField(_l("Check the list"))
    run = SubmitField(_l("Check and issue the IDs"))
    report = SubmitField(_l("Download the error report"))


class MoveForm(FlaskForm):
    villages = SelectMultipleField(_l("Villages"), coerce=int, option_widget=CheckboxInput(),
                                   widget=ListWidget(prefix_label=False))
    sub_areas = SelectMultipleField(_l("Sub-areas"), coerce=int, option_widget=CheckboxInput(),
                                    widget=ListWidget(prefix_label=False))
    confirm = HiddenField()


class EmptyForm(FlaskForm):
    """Only the CSRF token."""


def _account_or_404(account_id: int) -> Account:
    account = db.session.get(Account, scope.key_or_404(account_id))
    if account is None or account.town_id != current_user.town_id:
        abort(404)
    return account


def _posted_rows() -> list[dict]:
    """The rows the check page sent back (r-<i>-<column>), in order: the clerk's input, kept."""
    count = min(request.form.get("rows", type=int) or 0, issuing.WEB_MAX_ROWS)
    rows = []
    for i in range(count):
        texts = {c: request.form.get(f"r-{i}-{c}", "") for c in COLUMNS}
        texts["line"] = request.form.get(f"r-{i}-line", type=int)
        rows.append(texts)
    return rows


@bp.route("/bulk", methods=["GET", "POST"])
@scope.require("accounts.manage")
def bulk():
    if request.method == "POST":
        request.max_content_length = MAX_UPLOAD_BYTES + 256 * 1024
    form = BulkForm()
    villages = scope.villages(current_user)
    if not form.validate_on_submit():
        return render_template("roster/bulk.html", form=form, plan=None, villages=villages,
                               issuing=issuing), 422 if request.method == "POST" else 200
    upload = form.file.data
    if upload and getattr(upload, "filename", ""):
        data = upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            plan = issuing.Plan(file_problem=too_large(MAX_UPLOAD_BYTES))
        else:
            plan = issuing.read_file(data, issuing.WEB_MAX_ROWS)
    else:
        plan = issuing.from_texts(_posted_rows())
    issuing.check(plan, current_user.town_id, villages)
    if form.report.data and plan.rows:
        return Response(spreadsheets.report_csv(plan), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": "attachment; filename=account-list-report.csv",
                                 "Cache-Control": "no-store"})
    if plan.ok and form.run.data:
        town_id, office, me = current_user.town_id, current_user.town.office, current_user.id
        db.session.commit()  # it only read: the slow hashes must not hold the write lock (prepare_codes)
        prepared = issuing.prepare_codes(plan)
        villages = scope.villages(current_user)
        issuing.check(plan, town_id, villages)  # again: an ID may have been issued meanwhile
    if plan.ok and form.run.data:
        try:
            batch, issued = issuing.issue_all(plan, town_id, office, me, form.valid_until.data, prepared)
            made = letters.letters_for(issued, current_user.id)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # another admin issued IDs at the same moment: serials collided
            flash(_("Another list was issued at the same moment, so nothing was issued. Issue this list again."),
                  "error")
            return render_template("roster/bulk.html", form=form, plan=plan, villages=villages,
                                   issuing=issuing), 409
        return _letters_page(made, _("%(n)s collection IDs issued.", n=len(made)))
    status = 200 if plan.ok else 422
    return render_template("roster/bulk.html", form=form, plan=plan, villages=villages, issuing=issuing), status


def _letters_page(made: list[letters.Letter], heading: str):
    letters.draw(made)  # after the commit, before the page reads anything from the database again
    response = Response(render_template("roster/letters.html", letters=made, heading=heading, base=qr.base_url()))
    response.headers["Cache-Control"] = "no-store"  # the codes must not stay in a cache
    return response


@bp.get("/bulk/template.xlsx")
@scope.require("accounts.manage")
def template():
    villages = scope.villages(current_user)
    sub_areas = list(db.session.scalars(select(SubArea).where(SubArea.village_id.in_([v.id for v in villages]))
                                        .order_by(SubArea.village_id, SubArea.sort_order, SubArea.code)))
    return Response(spreadsheets.template_xlsx(villages, sub_areas),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename=collection-ids-template.xlsx"})


@bp.post("/batches/<batch>/letters")
@scope.require("accounts.manage")
def batch_letters(batch):
    """New codes and letters for the IDs of a batch that are neither activated nor revoked."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    members = list(db.session.scalars(select(Account).where(
        Account.issue_batch == batch[:32], Account.town_id == current_user.town_id).order_by(Account.collection_id)))
    if not members:
        abort(404)
    waiting = [a.id for a in members if a.revoked_at is None and a.password_hash is None]
    if waiting:
        db.session.commit()  # it only read: the slow hashes must not hold the write lock
        prepared = accounts.new_activations(len(waiting))
        # Again, in the write transaction: one may have been activated or revoked meanwhile.
        waiting = list(db.session.scalars(select(Account).where(
            Account.id.in_(waiting), Account.revoked_at.is_(None), Account.password_hash.is_(None))
            .order_by(Account.collection_id)))
    if not waiting:
        flash(_("Every ID of this batch is activated or revoked: there is no letter to print."), "info")
        return redirect(url_for("admin.accounts_page"), 303)
    issued = [(account, accounts.reset_activation(account, pair)) for account, pair in zip(waiting, prepared)]
    for account, _code in issued:
        accounts.audit(current_user.id, "reissue_activation", f"account:{account.id}")
    made = letters.letters_for(issued, current_user.id)
    db.session.commit()
    return _letters_page(made, _("New activation codes for %(n)s IDs: the earlier codes no longer work.", n=len(made)))


@bp.route("/<int:account_id>/move", methods=["GET", "POST"])
@scope.require("accounts.manage")
def move(account_id):
    account = _account_or_404(account_id)
    why = listing.may_move(account)
    if why:
        flash(str(MOVE_MESSAGES[why]), "error")
        return redirect(url_for("admin.accounts_page"), 303)
    villages = scope.villages(current_user)
    sub_areas = list(db.session.scalars(select(SubArea).where(SubArea.village_id.in_([v.id for v in villages]))
                                        .order_by(SubArea.village_id, SubArea.sort_order, SubArea.code)))
    names = {v.id: v.name for v in villages}
    form = MoveForm()
    form.villages.choices = options(((v.id, v.name) for v in villages), blank=False)
    form.sub_areas.choices = options(((s.id, f"{names[s.village_id]} · {s.name} ({s.code})") for s in sub_areas),
                                     blank=False)
    if request.method == "GET":
        form.villages.data = [v.id for v in account.villages]
        form.sub_areas.data = [s.id for s in account.sub_areas]
        return render_template("roster/move.html", form=form, account=account, confirm=None)
    if not form.validate_on_submit():
        return render_template("roster/move.html", form=form, account=account, confirm=None), 422
    chosen = [v for v in villages if v.id in set(form.villages.data)]
    chosen_areas = [s for s in sub_areas if s.id in set(form.sub_areas.data or [])]
    try:
        listing.plan_move(account, chosen, chosen_areas)
    except listing.MoveRefused as refused:
        form.villages.errors = [str(MOVE_MESSAGES[refused.code])]
        return render_template("roster/move.html", form=form, account=account, confirm=None), 422
    if form.confirm.data != "yes":
        # First the consequences, then the change: the holder is signed out everywhere.
        return render_template("roster/move.html", form=form, account=account,
                               confirm={"villages": chosen, "sub_areas": chosen_areas,
                                        "names": names})
    phones = listing.move(account, chosen, chosen_areas, current_user.id)
    db.session.commit()
    flash(_("%(cid)s now works in %(villages)s. Its holder was signed out (%(n)s phones) and signs in again to "
            "download the new villages.", cid=account.collection_id,
            villages="、".join(v.name for v in chosen), n=phones), "success")
    return redirect(url_for("admin.accounts_page"), 303)


def init_app(app):
    app.register_blueprint(bp)
