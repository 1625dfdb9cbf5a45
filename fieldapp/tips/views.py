"""Tip pages: thin. The work is in tips/service.py, the rules in rules/tips.py.

Routes:
  /tips                       tasks (tips.work / tips.oversee) and the tips one sent (tips.submit)
  /tips/new                   the informant's form (tips.submit)
  /tips/<id>                  one tip, with its actions (tips.work / tips.oversee, village scope: 404)
  /tips/<id>/take|assign|verify|close   POST transitions
  /tips/<id>/photo            the tip's photo (same as /tips/<id>)
  /tips/rewards               verified-valid informant tips per informant and month (tips.oversee)
  /d/<token>/tip              the public tip form of a door (anyone; rate-limited; shows nothing of the house)
"""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from .. import scope
from ..audit import log_read
from ..extensions import db
from ..flags import detect as flag_detect
from ..forms import options
from ..models import Account
from ..photos import photo_path
from ..rules import tips as rules
from ..rules.address import format_address
from ..rules.permissions import can
from ..photos import PHOTO_MAX_BYTES, PhotoError
from . import service
from .service import MESSAGES
from .forms import KIND_LABELS, STATE_LABELS, ActionForm, AssignForm, InformantTipForm, PublicTipForm, VerifyForm

bp = Blueprint("tips", __name__)

# Public requests are small forms: anything bigger is junk, refused before it is parsed.
PUBLIC_MAX_BYTES = 16 * 1024


@bp.app_context_processor
def _labels():
    return {"TIP_KIND_LABELS": KIND_LABELS, "TIP_STATE_LABELS": STATE_LABELS}


def require_any(*permissions):
    """Signed in, and the role holds at least one of `permissions` (403 otherwise)."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not any(can(current_user.role, p) for p in permissions):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


# Lists -------------------------------------------------------------------------------------------

@bp.get("/tips")
@require_any("tips.submit", "tips.work", "tips.oversee")
def index():
    today = service.today()
    works = can(current_user.role, "tips.work") or can(current_user.role, "tips.oversee")
    tasks = service.task_list(current_user, today, include_verified=can(current_user.role, "tips.oversee"),
                              limit=service.TASK_LIST_LIMIT) if works else []
    sent = service.my_tips(current_user) if can(current_user.role, "tips.submit") else []
    overdue = sum(1 for t in tasks if rules.is_overdue(t.state, t.due_on, today))
    return render_template("tips/index.html", tasks=tasks, sent=sent, today=today, works=works, overdue=overdue,
                           truncated=len(tasks) >= service.TASK_LIST_LIMIT,
                           status={t.id: service.status(t, today) for t in tasks},
                           verdicts=service.verdicts(t.id for t in sent if t.state == "closed"))


@bp.get("/tips/rewards")
@scope.require("tips.oversee")
def rewards():
    return render_template("tips/rewards.html", rows=service.valid_tips_by_informant(current_user))


# Informant form ----------------------------------------------------------------------------------

@bp.route("/tips/new", methods=["GET", "POST"])
@scope.require("tips.submit")
def new():
    form = InformantTipForm()
    villages = scope.villages(current_user)
    form.village.choices = options(((v.id, v.name) for v in villages), blank=False)
    if request.method == "GET" and villages:
        form.village.data = villages[0].id
        form.door_code.data = request.args.get("door_code", "")[:20]  # from a door's page: the code on its label
    if form.validate_on_submit():
        tip = _submit(form, villages)
        if tip is not None:
            db.session.commit()
            flash(_l("Tip sent. The village's collectors will check it within 3 working days."), "success")
            return redirect(url_for(".index"), 303)
        db.session.rollback()
    status = 422 if request.method == "POST" else 200
    return render_template("tips/new.html", form=form), status


def _submit(form, villages):
    """Resolve the place, read the photo and submit; on a refusal mark the form and return None."""
    house, village_id, address_text = None, form.village.data, None
    if form.door_code.data:
        house = service.house_by_code(current_user, form.door_code.data)
        if house is None:
            form.door_code.errors = [MESSAGES["unknown_door"]]
            return None
        village_id = house.village_id
    else:
        village = next((v for v in villages if v.id == village_id), None)
        if village is None:
            form.village.errors = [MESSAGES["out_of_scope"]]
            return None
        house = service.house_by_address(village.id, form.group.data, form.number.data)
        parts = format_address({"group_name": form.group.data, "number": form.number.data}, village.name)
        address_text = " ".join(p for p in (parts, (form.address_text.data or "").strip()) if p)
    photo = None
    upload = form.photo.data
    if upload and getattr(upload, "filename", ""):
        photo = upload.read(PHOTO_MAX_BYTES + 1)
    try:
        return service.submit_informant_tip(
            current_user, kind=form.kind.data, village_id=village_id, house=house, address_text=address_text,
            happened_on=form.happened_on.data, details=form.details.data, photo=photo or None)
    except PhotoError as error:
        form.photo.errors = [error.message]
    except service.TipError as error:
        form.door_code.errors = [MESSAGES.get(error.code, MESSAGES["forbidden"])]
    return None


# One tip and its actions -------------------------------------------------------------------------

@bp.get("/tips/<int:tip_id>")
@require_any("tips.work", "tips.oversee")
def tip(tip_id):
    return _tip_page(service.tip_or_404(current_user, tip_id))


def _tip_page(tip, verify_form=None, assign_form=None, status=200):
    today = service.today()
    if assign_form is None and can(current_user.role, "tips.oversee"):
        assign_form = AssignForm()
    if assign_form is not None:
        assign_form.worker.choices = options(((a.id, f"{a.collection_id} {a.name}")
                                              for a in service.workers_of(tip.village_id, current_user.town_id)),
                                             blank=False)
    verdict = service.verdicts([tip.id]).get(tip.id)
    is_assignee = tip.assigned_to_id == current_user.id
    page = render_template("tips/tip.html", tip=tip, today=today, state=service.status(tip, today),
                           verify_form=verify_form or VerifyForm(), assign_form=assign_form,
                           action_form=ActionForm(), verdict=verdict,
                           informant=db.session.get(Account, tip.informant_id) if tip.informant_id else None,
                           is_assignee=is_assignee, proof=service.proof_visit(tip, current_user, tip.house_id))
    # A tip's text names people and places: every look at it is logged. The collector who calls the
    # resident back also sees the sender's full phone number (others see it masked), a read of its own kind.
    # Logged each time it is shown, a refused action's page too (it shows the tip again).
    contact = is_assignee and tip.informant_id is None and tip.contact_phone
    log_read(current_user.id, "view_tip_contact" if contact else "view_tip", f"tip:{tip.id}", 1)
    return page, status


def _refused(tip, error: service.TipError, **forms):
    if error.code == "out_of_scope":
        abort(404)
    if error.code == "forbidden":
        abort(403)
    if error.code == "wrong_state":
        db.session.rollback()
        abort(409)
    db.session.rollback()
    flash(MESSAGES.get(error.code, MESSAGES["forbidden"]), "error")
    return _tip_page(service.tip_or_404(current_user, tip.id), status=422, **forms)


def _done(tip, message):
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".tip", tip_id=tip.id), 303)


@bp.post("/tips/<int:tip_id>/take")
@scope.require("tips.work")
def take(tip_id):
    tip = service.tip_or_404(current_user, tip_id, lock=True)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        service.take(tip, current_user)
    except service.TipError as error:
        return _refused(tip, error)
    return _done(tip, _l("The tip is yours now. Visit the door within the deadline."))


@bp.post("/tips/<int:tip_id>/assign")
@scope.require("tips.oversee")
def assign(tip_id):
    tip = service.tip_or_404(current_user, tip_id, lock=True)
    form = AssignForm()
    if not form.validate_on_submit():
        abort(400)
    worker = db.session.get(Account, form.worker.data) if form.worker.data else None
    try:
        service.assign(tip, current_user, worker)
    except service.TipError as error:
        if error.code == "not_a_worker":
            form.worker.errors = [MESSAGES["not_a_worker"]]
        return _refused(tip, error, assign_form=form)
    return _done(tip, _l("Tip assigned."))


@bp.post("/tips/<int:tip_id>/verify")
@scope.require("tips.work")
def verify(tip_id):
    tip = service.tip_or_404(current_user, tip_id, lock=True)
    form = VerifyForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _tip_page(service.tip_or_404(current_user, tip_id), verify_form=form, status=422)
    if tip.assigned_to_id != current_user.id and tip.state == "assigned":
        abort(403)  # only the assignee verifies: the others' role allows it, this tip is not theirs
    house = None
    if form.door_code.data and tip.house_id is None:
        house = service.house_by_code(current_user, form.door_code.data)
        if house is None or house.village_id != tip.village_id:
            form.door_code.errors = [MESSAGES["unknown_door"]]
            db.session.rollback()
            return _tip_page(service.tip_or_404(current_user, tip_id), verify_form=form, status=422)
    try:
        service.verify(tip, current_user, form.outcome.data == "valid", form.note.data, house)
    except service.TipError as error:
        if error.code == "note_required":
            form.note.errors = [MESSAGES["note_required"]]
        return _refused(tip, error, verify_form=form)
    response = _done(tip, _l("Tip verified."))
    flag_detect.after_tip_verified(tip.id)  # after the commit; never fails the verification
    return response


@bp.post("/tips/<int:tip_id>/close")
@scope.require("tips.oversee")
def close(tip_id):
    tip = service.tip_or_404(current_user, tip_id, lock=True)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        service.close(tip, current_user)
    except service.TipError as error:
        return _refused(tip, error)
    return _done(tip, _l("Tip closed."))


@bp.get("/tips/<int:tip_id>/photo")
@require_any("tips.work", "tips.oversee")
def photo(tip_id):
    tip = service.tip_or_404(current_user, tip_id)
    path = photo_path(tip.photo_uid) if tip.photo_uid else None
    if path is None or not path.exists():
        abort(404)
    log_read(current_user.id, "view_tip_photo", f"tip:{tip.id}", 1)
    return send_file(path, mimetype="image/jpeg", max_age=0)


# Public ------------------------------------------------------------------------------------------

@bp.after_request
def _private_token_pages(response):
    # The door's token is the key to its pages: never cached, never indexed (as the door page).
    if request.endpoint == "tips.public_tip":
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.route("/d/<token>/tip", methods=["GET", "POST"])
def public_tip(token):
    """Anyone at the door. The page says nothing about the house (not even the address), so a QR
    photographed off a door reveals nothing; an unknown or retired token answers 404."""
    if request.content_length is not None and request.content_length > PUBLIC_MAX_BYTES:
        abort(413)
    house = service.house_by_token(token)
    if house is None:
        abort(404)
    form = PublicTipForm()
    if form.validate_on_submit():
        try:
            service.submit_public_tip(house, kind=form.kind.data, contact_phone=form.contact_phone.data,
                                      key=service.sender_key(request.remote_addr),
                                      happened_on=form.happened_on.data, details=form.details.data)
        except service.TipError as error:
            db.session.rollback()
            if error.code == "rate_limited":
                return render_template("tips/public_form.html", form=form, token=token,
                                       refused=MESSAGES["rate_limited"]), 429
            form.kind.errors = [MESSAGES.get(error.code, MESSAGES["bad_kind"])]
        else:
            db.session.commit()
            return redirect(url_for(".public_tip", token=token, sent=1), 303)
    if request.method == "GET" and request.args.get("sent"):
        return render_template("tips/public_thanks.html", token=token)
    status = 422 if request.method == "POST" else 200
    return render_template("tips/public_form.html", form=form, token=token), status


def public_tip_form() -> PublicTipForm:
    """A fresh public form, for the door page (fieldapp/doors) to include with tips/_public_form.html."""
    return PublicTipForm(formdata=None)


def init_app(app):
    app.register_blueprint(bp)
    app.jinja_env.globals["public_tip_form"] = public_tip_form
