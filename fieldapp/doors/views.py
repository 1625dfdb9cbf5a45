"""Door labels (thin views): the public page a scanned label opens, printable A4 label sheets,
reprinting and retiring codes, and importing a house register. Scoping comes from fieldapp.scope;
writes go through fieldapp.doors.codes / importer (and so through records)."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import scope
from ..audit import log_read
from ..extensions import db
from ..models import House, RetiredDoorCode, Town, Village
from ..registry.views import NATURAL_ORDER
from ..rules.address import ADDRESS_PARTS, format_address
from ..rules.doorcode import format_door_code, is_valid_door_code, normalise_door_code
from ..rules.permissions import can
from ..rules.register_import import too_large
from . import codes, importer, labels, qr
from .forms import REASON_LABELS, BlankLabelsForm, ImportForm, RetireForm

bp = Blueprint("doors", __name__)

LABELS_PER_A4 = 12  # 3 columns x 4 rows of 63 x 69 mm: a 40 mm QR and three lines of text per label
A4_PER_SHEET = 10  # one printed batch: 120 labels, so a village of thousands prints in batches
LABELS_PER_SHEET = LABELS_PER_A4 * A4_PER_SHEET


# --- the public door page -------------------------------------------------------------------

@bp.get("/d/<token>")
def door(token):
    """What a scanned label opens. Anyone may open it; it shows only what is printed on the door's
    label itself minus the address: the short code and the village, and the town's office. A
    signed-in user who may read that house gets a link to it. `?public=1` (the phone app sends it
    when it has no work package) shows the same page."""
    state, found = codes.lookup(token)
    blank = labels.unbound(token) if state == "unknown" else None
    if blank is not None:
        state = "blank"  # printed label stock not yet on a registered house: nothing to show
    context = {"state": state, "token": token, "town": None, "village": None, "code": None, "house_link": None}
    status = 200
    if state == "live":
        house: House = found
        village = db.session.get(Village, house.village_id)
        context.update(village=village, town=db.session.get(Town, village.town_id),
                       code=format_door_code(house.door_code))
        if current_user.is_authenticated and can(current_user.role, "registry.read") and db.session.scalar(
                scope.houses(current_user).where(House.id == house.id).with_only_columns(House.id)) is not None:
            context["house_link"] = url_for("registry.house", house_id=house.id)
    elif state == "retired":
        status = 410
        house = db.session.get(House, found.house_id)
        village = db.session.get(Village, house.village_id)
        context.update(village=village, town=db.session.get(Town, village.town_id))
    elif state == "blank":
        village = db.session.get(Village, blank.village_id)
        context.update(town=db.session.get(Town, village.town_id))
    else:
        status = 404
        context["town"] = db.session.scalar(select(Town).order_by(Town.id))
    response = Response(render_template("doors/public.html", **context), status=status)
    # The token is the key to this page: never cached, never indexed, never sent on as a referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- label sheets ------------------------------------------------------------------------

@bp.get("/doors")
@scope.require("doors.print")
def index():
    villages = scope.villages(current_user)
    counts = dict(db.session.execute(select(House.village_id, func.count()).where(
        House.village_id.in_([v.id for v in villages])).group_by(House.village_id)).all())
    return render_template("doors/index.html", villages=villages, counts=counts)


@bp.get("/doors/villages/<int:village_id>")
@scope.require("doors.print")
def village(village_id):
    village = scope.village_or_404(current_user, village_id)
    code = normalise_door_code(request.args.get("code", ""))
    if code:
        house = db.session.scalar(select(House).where(House.village_id == village.id, House.door_code == code))
        if house is not None:
            return redirect(url_for(".house", house_id=house.id))
        if is_valid_door_code(code):
            flash(_("No house in %(village)s has door code %(code)s.", village=village.name, code=code), "error")
        else:
            flash(_("That is not a door code: it has 8 characters, as printed under the QR code. Check it."), "error")
    groups = db.session.execute(
        select(House.group_name, House.road, func.count()).where(House.village_id == village.id)
        .group_by(House.group_name, House.road)
        .order_by(House.road, func.length(House.group_name), House.group_name)).all()
    total = sum(n for _g, _r, n in groups)
    groups = [(format_address({"group_name": g, "road": r}), g or "", r or "", n) for g, r, n in groups]
    return render_template("doors/village.html", village=village, groups=groups, total=total,
                           per_sheet=LABELS_PER_SHEET, sheets=_sheets)


def _sheets(count: int) -> int:
    return max(1, -(-count // LABELS_PER_SHEET))


def _group_filter(query):
    """`g` and `r` in the query string pick a building group: houses whose group / road equal them
    exactly (an empty value: houses without one). Absent: the whole village."""
    for arg, column in (("g", House.group_name), ("r", House.road)):
        if arg in request.args:
            value = request.args[arg][:64]
            query = query.where(column.is_(None) if value == "" else column == value)
    return query


@bp.get("/doors/villages/<int:village_id>/sheet")
@scope.require("doors.print")
def sheet(village_id):
    """Printable A4 label sheets (print stylesheet css/doors-print.css): one page of this view is
    LABELS_PER_SHEET labels; a group or a single house (`house`) narrows it."""
    village = scope.village_or_404(current_user, village_id)
    query = select(House).where(House.village_id == village.id)
    house_id = request.args.get("house", type=int)
    if house_id is not None:
        query = query.where(House.id == scope.key_or_404(house_id))
    query = _group_filter(query)
    page_no = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    page = db.paginate(query.order_by(*NATURAL_ORDER), page=page_no, per_page=LABELS_PER_SHEET, error_out=False)
    if house_id is not None and not page.items:
        abort(404)
    base = qr.base_url()
    labels = [_label(h, village, base) for h in page.items]
    a4_pages = [labels[i:i + LABELS_PER_A4] for i in range(0, len(labels), LABELS_PER_A4)]
    filters = {k: request.args[k] for k in ("g", "r", "house") if k in request.args}
    sheet_page = render_template("doors/sheet.html", village=village, page=page, a4_pages=a4_pages, filters=filters,
                                 group_title=_group_title(filters))
    # Each label carries its door's token (the key to the door's public page and the phone's
    # scan): printing them is logged with how many, like any read of the register.
    log_read(current_user.id, "door_labels", f"house:{house_id}" if house_id is not None else f"village:{village.id}",
             len(labels), f"sheet page {page.page}")
    return sheet_page


def _group_title(filters: dict) -> str:
    if "house" in filters:
        return ""
    return format_address({"group_name": filters.get("g"), "road": filters.get("r")})


def _label(house: House, village: Village, base: str) -> dict:
    code = format_door_code(house.door_code)
    return {"house_id": house.id, "village": village.name, "code": code,
            "address": format_address({n: getattr(house, n) for n in ADDRESS_PARTS}),
            "svg": qr.svg_element(qr.door_url(house.door_token, base), _("QR code for door %(code)s", code=code))}


# --- blank label stock (doors.labels): printed before the houses exist ----------------------

@bp.get("/doors/villages/<int:village_id>/blank")
@scope.require("doors.print")
def blank_labels(village_id):
    village = scope.village_or_404(current_user, village_id)
    return _blank_page(village, BlankLabelsForm(count=LABELS_PER_A4))


def _blank_page(village, form, status=200):
    return render_template("doors/blank.html", village=village, form=form, batches=labels.batches(village.id),
                           max_count=labels.MAX_PER_BATCH), status


@bp.post("/doors/villages/<int:village_id>/blank")
@scope.require("doors.print")
def blank_labels_print(village_id):
    village = scope.village_or_404(current_user, village_id)
    form = BlankLabelsForm()
    if not form.validate_on_submit():
        return _blank_page(village, form, 422)
    batch, _made = labels.issue(current_user.id, village.id, form.count.data)
    db.session.commit()
    return redirect(url_for(".blank_sheet", village_id=village.id, batch=batch), 303)


@bp.get("/doors/villages/<int:village_id>/blank/<batch>")
@scope.require("doors.print")
def blank_sheet(village_id, batch):
    """A batch of blank labels as A4 sheets (the door sheets' template and print CSS); opening it
    again reprints the batch. Labels bound since are printed too, marked as in use."""
    village = scope.village_or_404(current_user, village_id)
    found = labels.batch_labels(village.id, batch[:32])
    if not found:
        abort(404)
    page = render_blank_sheet(village, batch[:32], found, qr.base_url())
    # The labels carry working tokens: printing them is logged like printing house labels.
    log_read(current_user.id, "blank_labels", f"village:{village.id}", len(found), f"batch {batch[:32]}")
    return page


def render_blank_sheet(village: Village, batch: str, found: list, base: str, inline_css: str | None = None) -> str:
    """The printable page of a batch (also written by `flask doors blank-labels --out`)."""
    items = []
    for label in found:
        code = format_door_code(label.door_code)
        items.append({"house_id": None, "village": village.name, "code": code, "bound": label.bound_house_id is not None,
                      "address": _("In use") if label.bound_house_id is not None else _("Not yet bound"),
                      "svg": qr.svg_element(qr.door_url(label.door_token, base), _("QR code for door %(code)s", code=code))})
    a4_pages = [items[i:i + LABELS_PER_A4] for i in range(0, len(items), LABELS_PER_A4)]
    return render_template("doors/blank_sheet.html", village=village, batch=batch, a4_pages=a4_pages,
                           total=len(items), inline_css=inline_css)


# --- one door: reprint, download, retire --------------------------------------------------

def _house(house_id: int) -> House:
    return db.session.scalar(select(House).where(House.id == scope.key_or_404(house_id),
                                                 scope.village_filter(current_user, House.village_id))) or abort(404)


@bp.get("/doors/houses/<int:house_id>")
@scope.require("doors.print")
def house(house_id):
    house = _house(house_id)
    village = db.session.get(Village, house.village_id)
    form = RetireForm(code=house.door_code)
    return _house_page(house, village, form)


def _house_page(house, village, form, status=200):
    retired = list(db.session.scalars(select(RetiredDoorCode).where(RetiredDoorCode.house_id == house.id)
                                      .order_by(RetiredDoorCode.id.desc())))
    page = render_template("doors/house.html", house=house, village=village, form=form, retired=retired,
                           label=_label(house, village, qr.base_url()), REASON_LABELS=REASON_LABELS,
                           can_manage=can(current_user.role, "doors.manage"))
    log_read(current_user.id, "door_labels", f"house:{house.id}", 1, "label page")
    return page, status


def _image(house_id: int, kind: str):
    house = _house(house_id)
    url = qr.door_url(house.door_token)
    if kind == "png":
        body, mimetype = qr.png(url), "image/png"
    else:
        body, mimetype = qr.svg(url, format_door_code(house.door_code)), "image/svg+xml"
    log_read(current_user.id, "door_labels", f"house:{house.id}", 1, f"qr {kind}")
    response = Response(body, mimetype=mimetype)
    # The image carries the token: private to this user, never kept by a shared cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = f'attachment; filename="door-{house.door_code}.{kind}"'
    return response


@bp.get("/doors/houses/<int:house_id>/qr.png")
@scope.require("doors.print")
def qr_png(house_id):
    return _image(house_id, "png")


@bp.get("/doors/houses/<int:house_id>/qr.svg")
@scope.require("doors.print")
def qr_svg(house_id):
    return _image(house_id, "svg")


@bp.post("/doors/houses/<int:house_id>/retire")
@scope.require("doors.manage")
def retire(house_id):
    # FOR UPDATE: two people retiring the same label at once are served one after the other
    # (SQLite already serialises writing requests).
    house = db.session.scalar(select(House).where(House.id == scope.key_or_404(house_id),
                                                  scope.village_filter(current_user, House.village_id))
                              .with_for_update()) or abort(404)
    village = db.session.get(Village, house.village_id)
    form = RetireForm()
    if not form.validate_on_submit():
        return _house_page(house, village, form, 422)
    if normalise_door_code(form.code.data) != house.door_code:
        flash(_("This door's code was already replaced meanwhile; it is now %(code)s. Nothing else was changed.",
                code=format_door_code(house.door_code)), "error")
        return redirect(url_for(".house", house_id=house.id), 303)
    old = house.door_code
    codes.retire_and_replace(current_user.id, house, form.reason.data)
    db.session.commit()
    flash(_("Code %(old)s is retired and no longer opens this house. The new code is %(new)s: print its label "
            "and replace the old one.", old=format_door_code(old), new=format_door_code(house.door_code)), "success")
    return redirect(url_for(".house", house_id=house.id), 303)


# --- importing a house register -------------------------------------------------------------

@bp.route("/doors/import", methods=["GET", "POST"])
@scope.require("doors.manage")
def import_houses():
    limit = current_app.config["DOOR_IMPORT_MAX_BYTES"]
    if request.method == "POST":
        # Refuse a huge body before it is parsed (the multipart wrapping needs a little room).
        request.max_content_length = limit + 64 * 1024
    form = ImportForm()
    villages = scope.villages(current_user)
    if not form.validate_on_submit():
        return render_template("doors/import.html", form=form, plan=None, villages=villages,
                               importer=importer), 422 if request.method == "POST" else 200
    data = form.file.data.read(limit + 1)
    if len(data) > limit:
        plan = importer.Plan(file_problem=too_large(limit))
    else:
        if form.run.data:
            importer.lock_villages(villages)
        plan = importer.check(data, villages, current_app.config["DOOR_IMPORT_MAX_ROWS"])
    if plan.ok and form.run.data:
        try:
            houses = importer.import_rows(plan, current_user.id)
            db.session.commit()
        except IntegrityError:
            # Someone registered one of these addresses (or drew the same code) meanwhile.
            db.session.rollback()
            flash(_("The register changed while importing, so nothing was imported. Check the file again."), "error")
            return render_template("doors/import.html", form=form, plan=None, villages=villages,
                                   importer=importer), 409
        flash(_("%(n)s houses imported. Print their door labels from each village's page.", n=len(houses)), "success")
        return redirect(url_for(".index"), 303)
    status = 200 if plan.ok else 422
    return render_template("doors/import.html", form=form, plan=plan, villages=villages, importer=importer), status
