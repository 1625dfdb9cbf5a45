"""Registry views: thin. Scoping comes from fieldapp.scope, writes from fieldapp.records."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import and_, func, or_, select

from .. import merging, moves, records, scope
from ..flags import service as flag_service
from ..accounts import audit
from ..audit import log_read
from ..extensions import db
from ..flags import detect as flag_detect
from ..i18n import ui_lang
from ..models import Change, Flag, House, Organisation, Person, VillageCounter
from ..rules.address import normalise_query, parse_group_number
from ..rules.doorcode import is_valid_door_code, normalise_door_code
from ..rules.permissions import can
from . import checks
from .proof import door_record
from .forms import (CATEGORY_LABELS, CHANGE_FIELD_LABELS, ENTITY_LABELS, HOUSE_USE_LABELS, ORG_KIND_LABELS, CloseForm, HouseForm, LeaveForm,
                    OpenedVersion, OrganisationForm, PersonForm, SearchForm)

bp = Blueprint("registry", __name__)


@bp.after_request
def _flag_saves(response):
    """A save redirects (303) after its commit: raise the fabrication flags of what this user just
    wrote from the web (flags/detect.py; a failure is logged, never answered)."""
    if request.method == "POST" and response.status_code == 303 and current_user.is_authenticated:
        flag_detect.after_web_save(current_user.id)
    return response


@bp.app_context_processor
def labels():
    return {"HOUSE_USE_LABELS": HOUSE_USE_LABELS, "CATEGORY_LABELS": CATEGORY_LABELS,
            "ORG_KIND_LABELS": ORG_KIND_LABELS, "ENTITY_LABELS": ENTITY_LABELS}


def _actor(form=None) -> records.Actor:
    known_on = form.known_on.data if form is not None and hasattr(form, "known_on") else None
    return records.Actor(account_id=current_user.id, source="web", known_on=known_on)


def _base_version(form) -> int | None:
    text = str(form.version.data or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _editing(form, record):
    """An edit form carries the version it was opened on: set when it is shown, validated by
    OpenedVersion when it comes back. A missing or damaged one is refused with a message instead of
    silently overwriting what others saved."""
    form.version.validators = [OpenedVersion(record.version)]
    if request.method == "GET":
        form.version.data = str(record.version)
    return form


def _conflict(form, error: records.Conflict) -> None:
    """Keep the user's input, show each clashing field with the value saved meanwhile, and move the
    form onto the current version so that saving again is a deliberate choice, not a silent overwrite."""
    for name, values in error.conflicts.items():
        field = getattr(form, name, None)
        message = _("Changed meanwhile by someone else to “%(value)s”. Keep your value and save again, or change it.",
                    value=values["current"] if values["current"] is not None else "—")
        if field is not None:
            field.errors = list(field.errors) + [message]
        else:
            flash(message, "error")
    form.version.data = str(error.current_version)
    flash(_("Someone else changed this record while you were editing. Nothing was saved; check the marked fields."), "error")


def _save(form, write, saved: str, next_url: str):
    """Run `write` (a records call) and commit, then go on to `next_url`. On a concurrent-edit
    conflict nothing is written and None is returned: the form is shown again with the marked fields."""
    try:
        write()
    except records.Conflict as error:
        db.session.rollback()
        _conflict(form, error)
        return None
    db.session.commit()
    flash(saved, "success")
    return redirect(next_url, 303)


@bp.get("/villages")
@scope.require("registry.read")
def villages():
    visible = scope.villages(current_user)
    if len(visible) == 1:
        return redirect(url_for(".houses", village_id=visible[0].id))
    counters = {c.village_id: c for c in db.session.scalars(
        select(VillageCounter).where(VillageCounter.village_id.in_([v.id for v in visible])))}
    return render_template("registry/villages.html", villages=visible, counters=counters)


MAX_PAGE = 100_000


@bp.get("/villages/<int:village_id>/houses")
@scope.require("registry.read")
def houses(village_id):
    village = scope.village_or_404(current_user, village_id)
    form = SearchForm(request.args)
    # A house merged into another (fieldapp/merging.py) is listed as the one it was merged into.
    query = scope.houses(current_user).where(House.village_id == village.id, House.merged_into_id.is_(None))
    text = ""
    if form.validate():
        text = (form.q.data or "").strip()
    else:
        flash(_("The search was not run: %(problem)s", problem=" ".join(str(e) for e in form.q.errors)), "error")
    if text:
        code = normalise_door_code(text)
        if is_valid_door_code(code):
            house = db.session.scalar(scope.houses(current_user).where(House.door_code == code))
            if house is not None:
                return redirect(url_for(".house", house_id=house.id))
        query = query.where(_address_match(text, code))
    # Clamped: a page number beyond any real page must not overflow the database's OFFSET.
    page_no = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    page = db.paginate(query.order_by(*NATURAL_ORDER), page=page_no, per_page=current_app.config["PAGE_SIZE"],
                       error_out=False)
    counts = _living_counts([h.id for h in page.items])
    return render_template("registry/houses.html", village=village, page=page, form=form, q=text, counts=counts)


def _living_counts(house_ids) -> dict[int, int]:
    if not house_ids:
        return {}
    query = (scope.people(current_user).where(Person.house_id.in_(house_ids), Person.status == "living")
             .with_only_columns(Person.house_id, func.count()).group_by(Person.house_id))
    return dict(db.session.execute(query).all())


# Group and door numbers are digit strings: ordering by length first sorts 2组 before 10组.
NATURAL_ORDER = (House.road, House.lane, func.length(House.group_name), House.group_name,
                 func.length(House.number), House.number, House.room, House.id)


def _address_match(text: str, code: str):
    """Exact group/number for "3组27号"-shaped input (rules.address), else a substring of the address
    or the start of a door code (people type the first few characters they read off the door)."""
    parts = parse_group_number(text)
    if parts is not None:
        return and_(*(getattr(House, name) == value for name, value in parts.items() if value is not None))
    by_address = House.address_key.contains(normalise_query(text), autoescape=True)
    return or_(by_address, House.door_code.startswith(code, autoescape=True)) if len(code) >= 3 else by_address


@bp.get("/find")
@scope.require("registry.read")
def find():
    """Door code typed anywhere: open the house if it is in scope; otherwise say why, naming the code."""
    code = normalise_door_code(request.args.get("code", ""))
    if not is_valid_door_code(code):
        flash(_("That is not a door code: it has 8 characters, as printed under the QR code. Check it."), "error")
        return redirect(url_for(".villages"), 303)
    house = db.session.scalar(scope.houses(current_user).where(House.door_code == code))
    if house is None:
        flash(_("No house in your villages has door code %(code)s.", code=code), "error")
        return redirect(url_for(".villages"), 303)
    return redirect(url_for(".house", house_id=house.id))


@bp.get("/houses/<int:house_id>")
@scope.require("registry.read")
def house(house_id):
    house = scope.house_or_404(current_user, house_id)
    if house.merged_into_id is not None:  # merged (fieldapp/merging.py): the one house is the kept one
        return redirect(url_for(".house", house_id=house.merged_into_id), 303)
    residents = list(db.session.scalars(scope.people(current_user).where(Person.house_id == house.id,
                                                                        Person.status != "merged")
                                        .order_by(Person.status.desc(), Person.id)))
    orgs = list(db.session.scalars(scope.organisations(current_user).where(
        Organisation.house_id == house.id).order_by(Organisation.id)))
    proof = (door_record(current_user, house, [p.id for p in residents], [o.id for o in orgs])
             if can(current_user.role, "visits.view") else None)
    arriving = moves.arriving(current_user, house.id)
    flags = (flag_service.for_house(current_user, house.id, [p.id for p in residents], [o.id for o in orgs])
             if can(current_user.role, "flags.view") else [])
    # A house a phone created at an address another house has (records.flag_duplicate_house): the
    # reviewer is offered the merge.
    duplicate = (db.session.scalar(select(Flag).where(Flag.kind == "duplicate_house", Flag.entity == "house",
                                                      Flag.entity_id == house.id, Flag.cleared_at.is_(None)))
                 if can(current_user.role, "entries.review") else None)
    page = render_template("registry/house.html", house=house, residents=residents, orgs=orgs, proof=proof,
                           arriving=arriving, flags=flags, can_write=can(current_user.role, "registry.write"),
                           duplicate=duplicate)
    # The page lists the residents by name (and people asking to move in, as typed): one row names
    # the house and counts what was shown.
    log_read(current_user.id, "view_house", f"house:{house.id}", 1 + len(residents) + len(orgs) + len(arriving),
             f"{len(residents)} people, {len(orgs)} organisations, {len(arriving)} moving in")
    return page


@bp.route("/villages/<int:village_id>/houses/new", methods=["GET", "POST"])
@scope.require("registry.write")
def new_house(village_id):
    village = scope.village_or_404(current_user, village_id)
    form = HouseForm()
    form.offer_sub_areas(village.sub_areas)
    if form.validate_on_submit():
        try:
            house = records.create_house(_actor(form), village.id, _house_data(form), duplicates="refuse")
        except records.DuplicateAddress as error:
            return _duplicate_address(form, error, village=village, house=None)
        if form.sub_area_id.data is not None:
            records.set_house_sub_area(_actor(form), house, form.sub_area_id.data)
        db.session.commit()
        flash(_("House registered. Its door code is %(code)s.", code=house.door_code), "success")
        return redirect(url_for(".house", house_id=house.id), 303)
    return _form_page("registry/house_form.html", form, village=village, house=None)


def _duplicate_address(form, error: records.DuplicateAddress, **context):
    """One address is one house (rules.address.address_identity): the form comes back with the
    user's input, naming the house that has the address and linking to it."""
    db.session.rollback()
    form.number.errors = [*form.number.errors, _("This address is already registered as a house. "
                                                 "Open that house instead, or correct the address.")]
    return _form_page("registry/house_form.html", form, duplicate=error.house, **context)


def _house_data(form) -> dict:
    return {name: (getattr(form, name).data if getattr(form, name).data != "" else None)
            for name in records.HOUSE_FIELDS if hasattr(form, name)}


def _form_page(template, form, shows: tuple[str, str] | None = None, **context):
    """Show a form; 422 when it was posted with errors, so clients and tests can tell. `shows`
    (action, target) logs the personal data the page holds, each time it is shown: an edit form
    holds full document and phone numbers whether it was opened or posted back with an error."""
    status = 422 if request.method == "POST" else 200
    for message in getattr(getattr(form, "version", None), "errors", ()):
        flash(message, "error")  # the version field is hidden: say it at the top of the page
    page = render_template(template, form=form, **context)
    if shows is not None:
        action, target = shows
        log_read(current_user.id, action, target, 1, "edit form" if action == "reveal_identifier" else None)
    return page, status


@bp.route("/houses/<int:house_id>/edit", methods=["GET", "POST"])
@scope.require("registry.write")
def edit_house(house_id):
    house = scope.house_or_404(current_user, house_id)
    form = _editing(HouseForm(obj=house), house)
    form.offer_sub_areas(house.village.sub_areas)

    def write():
        records.update_house(_actor(form), house, _house_data(form), _base_version(form), duplicates="refuse")
        records.set_house_sub_area(_actor(form), house, form.sub_area_id.data)

    if form.validate_on_submit():
        try:
            done = _save(form, write, _("House saved."), url_for(".house", house_id=house.id))
        except records.DuplicateAddress as error:
            return _duplicate_address(form, error, village=house.village, house=house)
        if done:
            return done
    return _form_page("registry/house_form.html", form, ("reveal_identifier", f"house:{house.id}"),
                      village=house.village, house=house)


@bp.route("/houses/<int:house_id>/people/new", methods=["GET", "POST"])
@scope.require("registry.write")
def new_person(house_id):
    house = scope.house_or_404(current_user, house_id)
    form = PersonForm()
    form.setup(ui_lang(), can(current_user.role, "registry.police_only"), _employers())
    if form.validate_on_submit():
        data = form.record_data()
        try:
            done = moves.register(current_user, _actor(form), house, data, form.relation.data or None,
                                  form.room.data or None)
        except records.DateOrder as error:
            db.session.rollback()
            form.move_in_date.errors = [checks.move_in_problem(error)]
        else:
            if done.conflicts:
                records.keep_conflicts("person", done.person, done.conflicts, current_user.id)
            db.session.commit()
            flash(_registered_message(done), "info" if done.outcome == "requested" or done.conflicts else "success")
            return redirect(url_for(".house", house_id=house.id), 303)
    return _form_page("registry/person_form.html", form, house=house, person=None)


def _registered_message(done) -> str:
    if done.outcome == "requested":
        return str(moves.REQUESTED_MESSAGE)
    if done.conflicts:
        return _("This person was already registered. What was missing is saved; the details that differ "
                 "from the register were sent to a reviewer to decide.")
    return {"new": _("Person registered."), "updated": _("Person saved."),
            "moved": _("This person was already registered elsewhere and has been moved to this house; their history is kept.")}[done.outcome]


@bp.get("/people/<int:person_id>")
@scope.require("registry.read")
def person(person_id):
    person = scope.person_or_404(current_user, person_id)
    if person.merged_into_id is not None:  # merged (fieldapp/merging.py): its history shows on the kept one
        return redirect(url_for(".person", person_id=person.merged_into_id), 303)
    page = _person_page(person, revealed=False)
    log_read(current_user.id, "view_person", f"person:{person.id}", 1)
    return page


def _person_page(person, revealed: bool):
    # A person merged from another record (fieldapp/merging.py) shows both histories.
    changes = list(db.session.scalars(select(Change).where(Change.entity == "person",
                                                           Change.entity_id.in_(merging.history_ids(person)))
                                      .order_by(Change.id.desc()).limit(50)))
    visible = {v.id for v in scope.villages(current_user)}  # past addresses elsewhere show the village only
    return render_template("registry/person.html", person=person, revealed=revealed, changes=changes,
                           can_write=can(current_user.role, "registry.write"), visible_villages=visible,
                           FIELD_LABELS=CHANGE_FIELD_LABELS)


def _employers() -> list[tuple[int, str]]:
    """Open organisations the editor may see: what a person's employer may be chosen from."""
    rows = db.session.execute(scope.organisations(current_user).where(Organisation.status == "open")
                              .with_only_columns(Organisation.id, Organisation.name).order_by(Organisation.name))
    return [tuple(row) for row in rows]


@bp.post("/people/<int:person_id>/reveal")
@scope.require("identifier.reveal")
def reveal(person_id):
    """Show the full document and phone numbers once, and leave a trace of who looked."""
    person = scope.person_or_404(current_user, person_id)
    audit(current_user.id, "reveal_identifier", f"person:{person.id}")
    db.session.commit()
    return _person_page(person, revealed=True)


@bp.route("/people/<int:person_id>/edit", methods=["GET", "POST"])
@scope.require("registry.write")
def edit_person(person_id):
    person = scope.person_or_404(current_user, person_id)
    form = _editing(PersonForm(obj=person), person)
    form.setup(ui_lang(), can(current_user.role, "registry.police_only"), _employers())
    if form.validate_on_submit():
        data = form.record_data()
        problem = checks.document_problem(data, person)
        if problem:
            form.id_number.errors = [problem]
        else:
            done = _save(form, lambda: records.update_person(_actor(form), person, data, _base_version(form)),
                         _("Person saved."), url_for(".person", person_id=person.id))
            if done:
                return done
    return _form_page("registry/person_form.html", form, ("reveal_identifier", f"person:{person.id}"),
                      house=person.house, person=person)


@bp.route("/people/<int:person_id>/leave", methods=["GET", "POST"])
@scope.require("registry.write")
def leave(person_id):
    person = scope.person_or_404(current_user, person_id)
    if person.status == "left":
        flash(_("This person is already marked as left."), "info")
        return redirect(url_for(".person", person_id=person.id), 303)
    form = _editing(LeaveForm(), person)
    if form.validate_on_submit() and _left_after_moving_in(form, person):
        done = _save(form, lambda: records.mark_left(_actor(), person, form.left_date.data, form.reason.data, _base_version(form)),
                     _("Marked as left. The record and its history are kept."), url_for(".house", house_id=person.house_id))
        if done:
            return done
    return _form_page("registry/leave_form.html", form, ("view_person", f"person:{person.id}"), person=person)


def _left_after_moving_in(form, person) -> bool:
    problem = checks.left_date_problem(person, form.left_date.data)
    if problem:
        form.left_date.errors = list(form.left_date.errors) + [problem]
    return problem is None


@bp.route("/houses/<int:house_id>/organisations/new", methods=["GET", "POST"])
@scope.require("registry.write")
def new_organisation(house_id):
    house = scope.house_or_404(current_user, house_id)
    form = OrganisationForm()
    if form.validate_on_submit() and _uscc_free(form, None):
        records.add_organisation(_actor(form), house, form.record_data())
        db.session.commit()
        flash(_("Organisation registered."), "success")
        return redirect(url_for(".house", house_id=house.id), 303)
    return _form_page("registry/organisation_form.html", form, house=house, org=None)


def _uscc_free(form, org) -> bool:
    problem = checks.uscc_problem(form.uscc.data, org)
    if problem:
        form.uscc.errors = [problem]
    return problem is None


@bp.route("/organisations/<int:org_id>/edit", methods=["GET", "POST"])
@scope.require("registry.write")
def edit_organisation(org_id):
    org = scope.organisation_or_404(current_user, org_id)
    form = _editing(OrganisationForm(obj=org), org)
    if form.validate_on_submit() and _uscc_free(form, org):
        done = _save(form, lambda: records.update_organisation(_actor(form), org, form.record_data(), _base_version(form)),
                     _("Organisation saved."), url_for(".house", house_id=org.house_id))
        if done:
            return done
    return _form_page("registry/organisation_form.html", form, ("reveal_identifier", f"organisation:{org.id}"),
                      house=org.house, org=org)


@bp.route("/organisations/<int:org_id>/close", methods=["GET", "POST"])
@scope.require("registry.write")
def close_organisation(org_id):
    org = scope.organisation_or_404(current_user, org_id)
    if org.status == "closed":
        abort(409)
    form = _editing(CloseForm(), org)
    if form.validate_on_submit():
        done = _save(form, lambda: records.close_organisation(_actor(), org, form.closed_date.data, _base_version(form)),
                     _("Organisation marked as closed."), url_for(".house", house_id=org.house_id))
        if done:
            return done
    return _form_page("registry/close_form.html", form, org=org)
