"""Collector badges (采集证): thin views.

  /badges                         collection IDs of the admin's town with their badge state (badges.manage)
  /badges/<account_id>            the printable badge: name, portrait, collection ID, role, villages,
                                  validity, issuing office and a QR to /b/<token> (print stylesheet:
                                  one ID-1 card, 85.6 x 54 mm, per page)
  /badges/<account_id>/issue      POST: make the badge's token, or replace it (re-issue: the old QR
                                  stops verifying, e.g. after a badge was lost)
  /badges/<account_id>/validity   POST: the validity dates printed on the card (valid_until also ends the ID)
  /badges/<account_id>/photo      POST: upload the holder's portrait (sync's photo pipeline); GET: the JPEG
  /b/<token>                      public: valid / expired / not yet valid / revoked, and the collection
                                  ID printed on the card, nothing else (rules/badges.py says why)

The token is made when the admin first issues the badge (a POST), never by opening a page: GETs
write nothing.
"""
from __future__ import annotations

import secrets

from flask import Blueprint, Response, abort, flash, redirect, render_template, send_file, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField
from wtforms.validators import Optional, ValidationError
from sqlalchemy import select

from .. import scope
from ..accounts import audit
from ..extensions import db
from ..models import Account, Photo, Town
from ..rules.badges import TOKEN_BYTES, badge_status
from ..photos import PHOTO_MAX_BYTES, PhotoError, photo_path
from ..rules.days import local_day, today as local_today

bp = Blueprint("badges", __name__)

STATUS_TEXT = {
    "valid": (_l("This badge is valid"), _l("The holder of this collection ID may collect registry information in the villages printed on the badge.")),
    "expired": (_l("This badge has expired"), _l("Do not give information to its holder. Ask the village office if in doubt.")),
    "not_yet_valid": (_l("This badge is not valid yet"), _l("Do not give information to its holder. Ask the village office if in doubt.")),
    "revoked": (_l("This badge was revoked"), _l("Do not give information to its holder. Ask the village office if in doubt.")),
}


STATUS_LABELS = {"valid": _l("Valid"), "expired": _l("Expired"), "not_yet_valid": _l("Not yet valid"),
                 "revoked": _l("Revoked")}


@bp.app_context_processor
def _labels():
    return {"BADGE_STATUS_LABELS": STATUS_LABELS}


class ActionForm(FlaskForm):
    """Issue / re-issue: a button, CSRF only."""


class PortraitForm(FlaskForm):
    photo = FileField(_l("Portrait photo"))


class ValidityForm(FlaskForm):
    """The dates printed on the badge. valid_until also ends the collection ID itself (sign-in and the
    phone stop working after it), so the card never outlives the ID."""
    valid_from = DateField(_l("Valid from"), validators=[Optional()],
                           description=_l("Leave empty: valid from the day the ID was issued."))
    valid_until = DateField(_l("Valid until"), validators=[Optional()],
                            description=_l("Leave empty: no end date."))

    def validate_valid_until(self, field):
        if field.data and self.valid_from.data and field.data < self.valid_from.data:
            raise ValidationError(_l("The end date must be on or after the start date."))


def _account_or_404(account_id: int) -> Account:
    account = db.session.get(Account, scope.key_or_404(account_id))
    if account is None or account.town_id != current_user.town_id:
        abort(404)
    return account


def status_of(account: Account, today=None) -> str:
    today = today or local_today()
    return badge_status(today, account.valid_from, account.valid_until, account.revoked_at,
                        local_day(account.issued_at) if account.issued_at else None)


def verify_url(token: str) -> str:
    from ..doors.qr import base_url  # PUBLIC_BASE_URL or the request's host, as the door labels use

    return f"{base_url()}/b/{token}"


@bp.get("/badges")
@scope.require("badges.manage")
def index():
    listed = list(db.session.scalars(select(Account).where(Account.town_id == current_user.town_id)
                                     .order_by(Account.collection_id)))
    today = local_today()
    return render_template("badges/index.html", accounts=listed, status={a.id: status_of(a, today) for a in listed})


@bp.get("/badges/<int:account_id>")
@scope.require("badges.manage")
def badge(account_id):
    return _badge_page(_account_or_404(account_id))


def _badge_page(account: Account, portrait_form: PortraitForm | None = None, status: int = 200,
                validity_form: ValidityForm | None = None):
    from ..doors.qr import svg_element

    town = db.session.get(Town, account.town_id)
    qr = svg_element(verify_url(account.badge_token), _l("QR code to check this badge"), "qr badge-qr") \
        if account.badge_token else None
    return render_template("badges/badge.html", account=account, office=account.office or town.office, qr=qr,
                           status=status_of(account), action_form=ActionForm(),
                           portrait_form=portrait_form or PortraitForm(),
                           validity_form=validity_form or ValidityForm(formdata=None, obj=account),
                           valid_from=account.valid_from or (local_day(account.issued_at) if account.issued_at else None)
                           ), status


@bp.post("/badges/<int:account_id>/issue")
@scope.require("badges.manage")
def issue(account_id):
    account = _account_or_404(account_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if account.revoked_at is not None:
        abort(409)  # a revoked ID gets no new badge: issue a new collection ID instead
    reissue = account.badge_token is not None
    account.badge_token = secrets.token_urlsafe(TOKEN_BYTES)
    audit(current_user.id, "badge_reissue" if reissue else "badge_issue", f"account:{account.id}")
    db.session.commit()
    flash(_l("New badge QR made: print the badge again. The old badge no longer verifies.") if reissue
          else _l("Badge QR made: print the badge."), "success")
    return redirect(url_for(".badge", account_id=account.id), 303)


@bp.post("/badges/<int:account_id>/validity")
@scope.require("badges.manage")
def validity(account_id):
    account = _account_or_404(account_id)
    form = ValidityForm()
    if not form.validate_on_submit():
        return _badge_page(account, status=422, validity_form=form)
    account.valid_from, account.valid_until = form.valid_from.data, form.valid_until.data
    audit(current_user.id, "badge_validity", f"account:{account.id}",
          f"{form.valid_from.data or '-'} .. {form.valid_until.data or '-'}")
    db.session.commit()
    flash(_l("Validity dates saved. Print the badge again."), "success")
    return redirect(url_for(".badge", account_id=account.id), 303)


@bp.post("/badges/<int:account_id>/photo")
@scope.require("badges.manage")
def upload_photo(account_id):
    from ..tips.service import store_photo

    account = _account_or_404(account_id)
    form = PortraitForm()
    upload = form.photo.data if form.validate_on_submit() else None
    if not upload or not getattr(upload, "filename", ""):
        form.photo.errors = [_l("Choose a photo file first.")]
        return _badge_page(account, form, 422)
    try:
        uid = store_photo(upload.read(PHOTO_MAX_BYTES + 1), current_user.id, str(account.id), of_entity="account")
    except PhotoError as error:
        db.session.rollback()
        form.photo.errors = [error.message]
        return _badge_page(_account_or_404(account_id), form, 422)
    old = account.photo_uid
    account.photo_uid = uid
    audit(current_user.id, "badge_photo", f"account:{account.id}")
    if old:
        # The previous portrait is personal data nobody needs any more: its row and file go.
        previous = db.session.scalar(select(Photo).where(Photo.uid == old))
        if previous is not None:
            db.session.delete(previous)
    db.session.commit()
    if old:
        photo_path(old).unlink(missing_ok=True)
    flash(_l("Portrait saved."), "success")
    return redirect(url_for(".badge", account_id=account.id), 303)


@bp.get("/badges/<int:account_id>/photo")
@scope.require("badges.manage")
def photo(account_id):

    account = _account_or_404(account_id)
    path = photo_path(account.photo_uid) if account.photo_uid else None
    if path is None or not path.exists():
        abort(404)
    return send_file(path, mimetype="image/jpeg", max_age=0)


@bp.get("/b/<token>")
def verify(token):
    """The public check a resident makes by scanning a badge. Unknown tokens (never issued, or
    replaced by a re-issue) answer 404 with a page that says so."""
    account = None
    if token and len(token) <= 64:
        account = db.session.scalar(select(Account).where(Account.badge_token == token))
    status = status_of(account) if account else "unknown"
    title, hint = STATUS_TEXT.get(status, (_l("This is not a valid badge"),
                                           _l("This QR code is not on any current badge. Do not give information to its holder. Ask the village office if in doubt.")))
    page = render_template("badges/verify.html", status=status, title=title, hint=hint,
                           collection_id=account.collection_id if account else None)
    response = Response(page, status=200 if account else 404)
    # The token is the key to this page: never cached, never indexed, never sent on as a referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def init_app(app):
    app.register_blueprint(bp)
