"""Town set-up pages (town.manage: admins) and sub-area assignments (town.assign: village heads for
their villages, admins for the town). Thin: file and value rules are rules.town_workbook, writes go
through townsetup.service; every save is audited and keeps the town's totals and counters in step."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import delete, insert, select
from wtforms import BooleanField, IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from .. import changefeed, records, scope
from ..audit import audit
from ..extensions import db
from ..forms import options
from ..models import Account, SubArea, Town, Village, account_sub_areas, account_villages
from ..rules import town_workbook as rules
from ..rules.permissions import is_town_wide
from ..rules.sub_areas import assignable_kinds
from . import messages, service

bp = Blueprint("townsetup", __name__)

CODE_MESSAGE = _l("A code is 1 to 12 letters, digits or hyphens.")
MAX_UPLOAD = 5 * 1024 * 1024
# Roles a village head assigns to sub-areas: the door-going ones and the informants (per 楼组).
ASSIGNABLE_ROLES = ("collector", "police", "informant")
ROLE_NAMES = {"collector": _l("Collector"), "police": _l("Community police"), "informant": _l("Informant")}


class TownForm(FlaskForm):
    name = StringField(_l("Town name"), validators=[DataRequired(_l("Enter the town's name.")), Length(max=64)])
    code = StringField(_l("Town code"), description=_l("GB/T 10114: 9 digits, or your own code of up to 12."),
                       validators=[DataRequired(_l("Enter the town's code.")), Regexp(rules.CODE.pattern, message=CODE_MESSAGE)])
    county_code = StringField(_l("County code (GB/T 2260)"), description=_l("Six digits, e.g. 431226."),
                              validators=[Optional(), Regexp(r"^\d{6}$", message=_l("A county code is six digits (GB/T 2260), e.g. 431226."))])
    office = StringField(_l("Issuing office"), description=_l("Printed on collection IDs, e.g. 余坪镇人民政府."),
                         validators=[DataRequired(_l("Enter the office that issues collection IDs.")), Length(max=64)])
    orgs_quota = IntegerField(_l("Organisations quota of the town"),
                              description=_l("Used when the villages have no organisations quota (the police station collects them)."),
                              validators=[Optional(), NumberRange(0, rules.MAX_QUOTA)])
    package_by_sub_area = BooleanField(_l("Collectors assigned to sub-areas get only those sub-areas' houses on their phone"))


class VillageForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the name.")), Length(max=64)])
    code = StringField(_l("Code"), description=_l("GB/T 10114: 12 digits, or your own code of up to 12."),
                       validators=[DataRequired(_l("Enter the code.")), Regexp(rules.CODE.pattern, message=CODE_MESSAGE)])
    kind = SelectField(_l("Kind"), choices=options([("village", _l("Village (村)")), ("community", _l("Community (居委)"))],
                                                   blank=False))


class SubAreaForm(FlaskForm):
    name = StringField(_l("Sub-area name"), validators=[DataRequired(_l("Enter the name.")), Length(max=64)])
    code = StringField(_l("Sub-area code"), validators=[DataRequired(_l("Enter the code.")),
                                                       Regexp(rules.CODE.pattern, message=CODE_MESSAGE)])
    kind = SelectField(_l("Kind"), choices=options([("area", _l("Area (片区)")), ("building_group", _l("Building group (楼组)"))],
                                                   blank=False))


class UploadForm(FlaskForm):
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose the file to upload."))])
    check_only = SubmitField(_l("Check the file"))
    run = SubmitField(_l("Check and import"))


class PlainForm(FlaskForm):
    """CSRF only: pages whose fields are built from the data (the quota table, assignments)."""


def _town() -> Town:
    return db.session.get(Town, current_user.town_id)


def _village_or_404(village_id: int) -> Village:
    village = db.session.get(Village, scope.key_or_404(village_id))
    if village is None or village.town_id != current_user.town_id:
        abort(404)
    return village


def _after_village_change(town: Town, village_ids) -> None:
    service.update_totals(town)
    for vid in village_ids:
        changefeed.note_village_changed(vid, "quota")


# Town ---------------------------------------------------------------------------------------------

@bp.route("/admin/town", methods=["GET", "POST"])
@scope.require("town.manage")
def index():
    town = _town()
    form = TownForm(obj=town)
    county_problem, division = rules.check_county_code((form.county_code.data or "").strip())
    if form.validate_on_submit():
        code = form.code.data.strip().upper()
        if db.session.scalar(select(Town.id).where(Town.code == code, Town.id != town.id)):
            form.code.errors = list(form.code.errors) + [messages.ISSUES["code_taken"]]
        else:
            town.name, town.code, town.office = form.name.data.strip(), code, form.office.data.strip()
            town.county_code = form.county_code.data or None
            town.package_by_sub_area = bool(form.package_by_sub_area.data)
            town.orgs_quota = form.orgs_quota.data
            service.update_totals(town)
            audit(current_user.id, "town.save", f"towns:{town.id}")
            db.session.commit()
            flash(_("Town saved."), "success")
            return redirect(url_for(".index"), 303)
    villages = list(db.session.scalars(select(Village).where(Village.town_id == town.id)
                                       .order_by(Village.sort_order, Village.id)))
    status = 422 if form.is_submitted() else 200
    return render_template("townsetup/index.html", form=form, town=town, villages=villages, division=division,
                           unknown_county=county_problem == "unknown_county"), status


# Villages -----------------------------------------------------------------------------------------

def _code_taken(code: str, village: Village | None) -> bool:
    query = select(Village.id).where(Village.code == code)
    if village is not None:
        query = query.where(Village.id != village.id)
    return db.session.scalar(query) is not None


def _name_taken(name: str, village: Village | None) -> bool:
    query = select(Village.id).where(Village.town_id == current_user.town_id, Village.name == name)
    if village is not None:
        query = query.where(Village.id != village.id)
    return db.session.scalar(query) is not None


def _village_form_ok(form: VillageForm, village: Village | None) -> bool:
    if not form.validate_on_submit():
        return False
    ok = True
    if _code_taken(form.code.data.strip().upper(), village):
        form.code.errors = list(form.code.errors) + [_("This code is already used: choose another.")]
        ok = False
    if _name_taken(form.name.data.strip(), village):
        form.name.errors = list(form.name.errors) + [_("A village of this town already has this name.")]
        ok = False
    return ok


@bp.route("/admin/town/villages/new", methods=["GET", "POST"])
@scope.require("town.manage")
def new_village():
    form = VillageForm()
    if _village_form_ok(form, None):
        town = _town()
        order = (db.session.scalar(select(Village.sort_order).where(Village.town_id == town.id)
                                   .order_by(Village.sort_order.desc()).limit(1)) or 0) + 1
        village = Village(town_id=town.id, name=form.name.data.strip(), code=form.code.data.strip().upper(),
                          kind=form.kind.data, sort_order=order)
        db.session.add(village)
        db.session.flush()
        records.ensure_counters([village.id])
        _after_village_change(town, [village.id])
        audit(current_user.id, "village.save", f"villages:{village.id}", "new")
        db.session.commit()
        flash(_("%(name)s added. Add its sub-areas, or the next village.", name=village.name), "success")
        return redirect(url_for(".edit_village", village_id=village.id), 303)
    return render_template("townsetup/village.html", form=form, village=None, sub_form=None), \
        422 if form.is_submitted() else 200


@bp.route("/admin/town/villages/<int:village_id>", methods=["GET", "POST"])
@scope.require("town.manage")
def edit_village(village_id: int):
    village = _village_or_404(village_id)
    form = VillageForm(obj=village)
    if _village_form_ok(form, village):
        village.name, village.code, village.kind = form.name.data.strip(), form.code.data.strip().upper(), form.kind.data
        audit(current_user.id, "village.save", f"villages:{village.id}")
        changefeed.note_village_changed(village.id, "quota")
        db.session.commit()
        flash(_("Village saved."), "success")
        return redirect(url_for(".edit_village", village_id=village.id), 303)
    return render_template("townsetup/village.html", form=form, village=village, sub_form=SubAreaForm(formdata=None, prefix="sub")), \
        422 if form.is_submitted() else 200


@bp.post("/admin/town/villages/<int:village_id>/move")
@scope.require("town.manage")
def move_village(village_id: int):
    village = _village_or_404(village_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    ordered = list(db.session.scalars(select(Village).where(Village.town_id == village.town_id)
                                      .order_by(Village.sort_order, Village.id)))
    index = ordered.index(village)
    other = index - 1 if request.form.get("direction") == "up" else index + 1
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, each in enumerate(ordered, start=1):
        each.sort_order = position
    audit(current_user.id, "village.reorder", f"villages:{village.id}")
    db.session.commit()
    return redirect(url_for(".index") + f"#village-{village.id}", 303)


# Sub-areas ----------------------------------------------------------------------------------------

def _sub_area_form_ok(form: SubAreaForm, village: Village, sub_area: SubArea | None) -> bool:
    if not form.validate_on_submit():
        return False
    query = select(SubArea.id).where(SubArea.village_id == village.id, SubArea.code == form.code.data.strip().upper())
    if sub_area is not None:
        query = query.where(SubArea.id != sub_area.id)
    if db.session.scalar(query) is not None:
        form.code.errors = list(form.code.errors) + [_("This village already has a sub-area with this code.")]
        return False
    return True


@bp.post("/admin/town/villages/<int:village_id>/sub-areas")
@scope.require("town.manage")
def new_sub_area(village_id: int):
    village = _village_or_404(village_id)
    sub_form = SubAreaForm(prefix="sub")  # on the village's page: its fields must not share the village's ids
    if _sub_area_form_ok(sub_form, village, None):
        order = (db.session.scalar(select(SubArea.sort_order).where(SubArea.village_id == village.id)
                                   .order_by(SubArea.sort_order.desc()).limit(1)) or 0) + 1
        sub_area = SubArea(village_id=village.id, name=sub_form.name.data.strip(),
                           code=sub_form.code.data.strip().upper(), kind=sub_form.kind.data, sort_order=order)
        db.session.add(sub_area)
        db.session.flush()
        audit(current_user.id, "sub_area.save", f"sub_areas:{sub_area.id}", "new")
        db.session.commit()
        flash(_("Sub-area %(name)s added.", name=sub_area.name), "success")
        return redirect(url_for(".edit_village", village_id=village.id) + "#sub-areas", 303)
    return render_template("townsetup/village.html", form=VillageForm(obj=village, formdata=None), village=village,
                           sub_form=sub_form), 422


@bp.route("/admin/town/sub-areas/<int:sub_area_id>", methods=["GET", "POST"])
@scope.require("town.manage")
def edit_sub_area(sub_area_id: int):
    sub_area = db.session.get(SubArea, scope.key_or_404(sub_area_id))
    if sub_area is None or sub_area.village.town_id != current_user.town_id:
        abort(404)
    form = SubAreaForm(obj=sub_area, prefix="sub")
    if _sub_area_form_ok(form, sub_area.village, sub_area):
        sub_area.name, sub_area.code, sub_area.kind = form.name.data.strip(), form.code.data.strip().upper(), form.kind.data
        audit(current_user.id, "sub_area.save", f"sub_areas:{sub_area.id}")
        db.session.commit()
        flash(_("Sub-area saved."), "success")
        return redirect(url_for(".edit_village", village_id=sub_area.village_id) + "#sub-areas", 303)
    return render_template("townsetup/sub_area.html", form=form, sub_area=sub_area), 422 if form.is_submitted() else 200


# Quotas -------------------------------------------------------------------------------------------

QUOTA_COLUMNS = ("people", "houses", "orgs")
QUOTA_ATTRS = {"people": "people_quota", "houses": "houses_quota", "orgs": "orgs_quota"}


def _town_villages() -> list[Village]:
    return list(db.session.scalars(select(Village).where(Village.town_id == current_user.town_id)
                                   .order_by(Village.sort_order, Village.id)))


def _quota_page(villages, values, errors, upload_form, upload_issues=(), status=200):
    return render_template("townsetup/quotas.html", villages=villages, values=values, errors=errors, town=_town(),
                           form=PlainForm(), upload_form=upload_form, upload_issues=upload_issues,
                           issue_line=messages.issue_line), status


@bp.route("/admin/town/quotas", methods=["GET", "POST"])
@scope.require("town.manage")
def quotas():
    villages = _town_villages()
    values = {(v.id, c): "" if getattr(v, QUOTA_ATTRS[c]) is None else str(getattr(v, QUOTA_ATTRS[c]))
              for v in villages for c in QUOTA_COLUMNS}
    if request.method == "GET":
        return _quota_page(villages, values, {}, UploadForm(formdata=None))
    if not PlainForm().validate_on_submit():
        abort(400)
    errors, parsed = {}, {}
    for village in villages:
        for column in QUOTA_COLUMNS:
            text = request.form.get(f"{column}-{village.id}", "").strip()
            values[(village.id, column)] = text
            try:
                parsed[(village.id, column)] = rules.parse_quota(text)
            except ValueError:
                errors[(village.id, column)] = messages.ISSUES["bad_quota"]
    if errors:
        flash(_("Some quotas need attention. Your input is kept; correct the marked cells and save again."), "error")
        return _quota_page(villages, values, errors, UploadForm(formdata=None), status=422)
    changed = _save_quotas({v.id: tuple(parsed[(v.id, c)] for c in QUOTA_COLUMNS) for v in villages}, villages)
    flash(_("Quotas saved: %(n)s villages changed.", n=changed), "success")
    return redirect(url_for(".quotas"), 303)


def _save_quotas(new: dict[int, tuple], villages: list[Village]) -> int:
    changed = []
    for village in villages:
        if village.id in new and (village.people_quota, village.houses_quota, village.orgs_quota) != new[village.id]:
            village.people_quota, village.houses_quota, village.orgs_quota = new[village.id]
            changed.append(village.id)
    town = _town()
    _after_village_change(town, changed)
    audit(current_user.id, "quotas.save", f"towns:{town.id}", f"{len(changed)} villages")
    db.session.commit()
    return len(changed)


@bp.post("/admin/town/quotas/upload")
@scope.require("town.manage")
def upload_quotas():
    request.max_content_length = MAX_UPLOAD + 64 * 1024
    villages = _town_villages()
    values = {(v.id, c): "" if getattr(v, QUOTA_ATTRS[c]) is None else str(getattr(v, QUOTA_ATTRS[c]))
              for v in villages for c in QUOTA_COLUMNS}
    form = UploadForm()
    if not form.validate_on_submit():
        return _quota_page(villages, values, {}, form, status=422)
    book = service.read_quota_table(form.file.data.read(MAX_UPLOAD))
    if not any(i.code.startswith("file_") for i in book.errors):
        rules.resolve_villages(book, {v.code: v.name for v in villages})
    if not book.ok:
        return _quota_page(villages, values, {}, form, book.errors, status=422)
    by_code = {v.code: v for v in villages}
    new = {by_code[q.village].id: (q.people, q.houses, q.orgs) for q in book.quotas}
    if form.check_only.data:
        flash(_("The file is fine: %(n)s villages. Nothing was saved yet: choose “Check and import”.",
                n=len(new)), "success")
        return _quota_page(villages, values, {}, form)
    if book.total is not None and book.total.orgs is not None:
        _town().orgs_quota = book.total.orgs  # used only while the villages have no organisations quota
    changed = _save_quotas(new, villages)
    flash(_("Quotas imported: %(n)s rows, %(c)s villages changed.", n=len(new), c=changed), "success")
    return redirect(url_for(".quotas"), 303)


# Workbook -----------------------------------------------------------------------------------------

@bp.route("/admin/town/workbook", methods=["GET", "POST"])
@scope.require("town.manage")
def workbook():
    form = UploadForm()
    if request.method == "POST":
        request.max_content_length = MAX_UPLOAD + 64 * 1024
    if not form.validate_on_submit():
        return render_template("townsetup/workbook.html", form=form, book=None, issue_line=messages.issue_line), \
            422 if form.is_submitted() else 200
    town = _town()
    book = service.read_workbook(form.file.data.read(MAX_UPLOAD))
    # An admin sets up their own town: a town sheet's code renames it (refused if another town has it).
    if not any(i.code.startswith("file_") or i.code == "no_sheets" for i in book.errors):
        service.check(book, town)
    if not book.ok or form.check_only.data:
        db.session.rollback()
        return render_template("townsetup/workbook.html", form=form, book=book, issue_line=messages.issue_line), \
            200 if book.ok else 422
    _town_after, counts = service.apply(book, town, current_user.id)
    for vid in db.session.scalars(select(Village.id).where(Village.town_id == town.id)):
        changefeed.note_village_changed(vid, "quota")
    db.session.commit()
    flash(_("Workbook imported: %(v)s villages new, %(u)s updated; %(s)s sub-areas new; quotas of %(q)s villages changed.",
            v=counts["villages"][0], u=counts["villages"][1], s=counts["sub_areas"][0], q=counts["quotas"]), "success")
    return redirect(url_for(".index"), 303)


@bp.get("/admin/town/workbook/template.xlsx")
@scope.require("town.manage")
def template():
    return Response(service.template_workbook(example=request.args.get("example") == "1"),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename=town-workbook.xlsx"})


# Assignments (village heads) ----------------------------------------------------------------------

def _assignable(account_ids=None):
    """Accounts of the viewer's villages a village head may assign: collectors, police, informants
    with at least one village in the viewer's scope."""
    query = select(Account).where(Account.town_id == current_user.town_id, Account.role.in_(ASSIGNABLE_ROLES))
    if account_ids is None:
        query = query.where(Account.revoked_at.is_(None))  # listed: IDs in use (a revoked one may still be edited)
    if not is_town_wide(current_user.role):
        mine = select(account_villages.c.account_id).where(account_villages.c.village_id.in_(current_user.village_ids))
        query = query.where(Account.id.in_(mine))
    if account_ids is not None:
        query = query.where(Account.id.in_(account_ids))
    return list(db.session.scalars(query.order_by(Account.role, Account.collection_id)))


def _choices_for(account: Account, villages: list[Village]) -> list[SubArea]:
    """The sub-areas the viewer may set for `account`: in villages both share; informants only
    building groups (楼组), as seed 000 has them."""
    shared = {v.id for v in account.villages} & {v.id for v in villages}
    kinds = assignable_kinds(account.role)
    return [s for v in villages if v.id in shared for s in v.sub_areas if s.kind in kinds]


@bp.get("/town/assign")
@scope.require("town.assign")
def assignments():
    villages = scope.villages(current_user)
    accounts = _assignable()
    rows = [(a, _choices_for(a, villages)) for a in accounts]
    return render_template("townsetup/assign.html", rows=rows, villages=villages, form=PlainForm(), role_names=ROLE_NAMES,
                           any_sub_areas=any(v.sub_areas for v in villages))


@bp.post("/town/assign/<int:account_id>")
@scope.require("town.assign")
def assign(account_id: int):
    accounts = _assignable([scope.key_or_404(account_id)])
    if not accounts:
        abort(404)
    account = accounts[0]
    if not PlainForm().validate_on_submit():
        abort(400)
    villages = scope.villages(current_user)
    choices = {s.id for s in _choices_for(account, villages)}
    wanted = {int(v) for v in request.form.getlist("sub_area") if v.isdigit()}
    if wanted - choices:
        abort(404)
    # Only the viewer's own choices change: assignments in other villages stay.
    db.session.execute(delete(account_sub_areas).where(account_sub_areas.c.account_id == account.id,
                                                       account_sub_areas.c.sub_area_id.in_(choices)))
    if wanted:
        db.session.execute(insert(account_sub_areas), [{"account_id": account.id, "sub_area_id": s} for s in wanted])
    audit(current_user.id, "sub_area.assign", f"account:{account.id}", f"{len(wanted)} sub-areas")
    db.session.commit()
    db.session.expire(account)
    flash(_("Sub-areas of %(id)s saved.", id=account.collection_id), "success")
    return redirect(url_for(".assignments") + f"#account-{account.id}", 303)
