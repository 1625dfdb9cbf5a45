"""Admin pages: issue collection IDs, hand out activation codes, revoke IDs."""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from . import accounts, scope
from .extensions import db
from .forms import options, wrap
from .models import Account
from .doors.qr import base_url
from .roster import letters, listing
from .rules.identifiers import validate_mobile

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLE_LABELS = {"admin": _l("Administrator"), "supervisor": _l("Supervisor (town / police station)"),
               "village_head": _l("Village head"), "reviewer": _l("Reviewer (entry clerk)"),
               "collector": _l("Collector"), "police": _l("Community police"), "informant": _l("Informant")}


class IssueForm(FlaskForm):
    name = StringField(_l("Holder's name"), validators=[DataRequired(_l("Enter the holder's name.")), Length(max=64)])
    role = SelectField(_l("Role"), choices=options(ROLE_LABELS.items(), blank=False))
    villages = SelectMultipleField(_l("Villages"), coerce=int,
                                   option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False))
    office = StringField(_l("Issuing office"), validators=[Optional(), Length(max=64)])
    valid_until = DateField(_l("Valid until"), validators=[Optional()])
    phone = StringField(_l("Mobile phone"), validators=[Optional(), wrap(validate_mobile)],
                        render_kw={"inputmode": "tel", "autocomplete": "off"})

    def validate_villages(self, field):
        if self.role.data not in ("admin", "supervisor") and not field.data:
            raise ValidationError(_l("Choose at least one village for this role."))


class RevokeForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Say why the ID is revoked.")), Length(max=128)])


def _account_or_404(account_id: int) -> Account:
    account = db.session.get(Account, scope.key_or_404(account_id))
    if account is None or account.town_id != current_user.town_id:
        abort(404)
    return account


@bp.app_context_processor
def _labels():
    return {"ROLE_LABELS": ROLE_LABELS}


STATUS_LABELS = {"active": _l("active"), "not_activated": _l("waiting for activation"), "revoked": _l("revoked")}


@bp.get("/accounts")
@scope.require("accounts.manage")
def accounts_page():
    """The town's IDs: search (name, ID, phone), filters (role, village, status), pages (roster.listing)."""
    villages = scope.villages(current_user)
    village_id = request.args.get("village", type=int)
    if village_id not in {v.id for v in villages}:
        village_id = None
    filters = {"q": request.args.get("q", "")[:64], "role": request.args.get("role", ""),
               "village": village_id, "status": request.args.get("status", "")}
    page = listing.search(current_user.town_id, filters["q"], filters["role"], village_id, filters["status"],
                          request.args.get("page", 1, type=int))
    return render_template("admin/accounts.html", page=page, filters=filters, villages=villages,
                           statuses=STATUS_LABELS, revoke_form=RevokeForm(), may_move=listing.may_move)


@bp.route("/accounts/new", methods=["GET", "POST"])
@scope.require("accounts.manage")
def issue():
    form = IssueForm()
    form.villages.choices = options(((v.id, v.name) for v in scope.villages(current_user)), blank=False)
    if form.validate_on_submit():
        account, code = accounts.issue(current_user.town_id, form.name.data, form.role.data, form.villages.data,
                                       current_user.id, form.valid_until.data,
                                       form.office.data or current_user.town.office)
        account.phone = form.phone.data or None
        letter = letters.letters_for([(account, code)], current_user.id)[0]
        db.session.commit()
        # The code is shown in this response only: never in a URL, a cookie or the database.
        return _activation_page(account, code, letter)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/issue.html", form=form), status


@bp.post("/accounts/<int:account_id>/activation")
@scope.require("accounts.manage")
def reissue_activation(account_id):
    account = _account_or_404(account_id)
    if account.revoked_at is not None:
        abort(409)  # a revoked ID stays revoked: issue a new one instead
    code = accounts.reset_activation(account)
    accounts.audit(current_user.id, "reissue_activation", f"account:{account.id}")
    letter = letters.letters_for([(account, code)], current_user.id)[0]
    db.session.commit()
    return _activation_page(account, code, letter)


def _activation_page(account: Account, code: str, letter: letters.Letter):
    """The code on screen and its A4 letter for the printer; never cached (it holds the code)."""
    letters.draw([letter])
    response = make_response(render_template("admin/activation.html", account=account, code=code, letter=letter,
                                             base=base_url()))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/accounts/<int:account_id>/revoke")
@scope.require("accounts.manage")
def revoke(account_id):
    account = _account_or_404(account_id)
    form = RevokeForm()
    if account.id == current_user.id:
        flash(_("You cannot revoke your own collection ID."), "error")
    elif not form.validate_on_submit():
        flash(_("Say why the ID is revoked."), "error")
    elif account.revoked_at is None:
        accounts.revoke(account, current_user.id, form.reason.data)
        db.session.commit()
        flash(_("Collection ID %(cid)s revoked. Its holder is signed out on their next request.",
                cid=account.collection_id), "success")
    return redirect(url_for(".accounts_page"), 303)


def init_app(app):
    app.register_blueprint(bp)
