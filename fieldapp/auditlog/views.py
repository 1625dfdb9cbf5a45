"""The audit page: thin views over auditlog.service (what may be seen) and fieldapp.audit (writing)."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, render_template, request
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from .. import scope
from ..audit import log_read
from ..extensions import db
from . import service

bp = Blueprint("auditlog", __name__)

ACTION_LABELS = {
    "view_person": _l("Opened a person"), "view_house": _l("Opened a house"),
    "sync_package": _l("Work package to a phone"), "door_labels": _l("Door labels"),
    "view_tip_contact": _l("Tip sender's phone"), "view_conflicts": _l("Conflict list"),
    "reveal_identifier": _l("Full ID number shown"), "login": _l("Signed in"), "login_failed": _l("Wrong PIN"),
    "audit_view": _l("Audit log viewed"), "audit_export": _l("Audit log exported"),
    "audit_prune": _l("Old audit rows deleted"),
    "view_photo": _l("Photo viewed"),
    "print_house": _l("Printed a house's collection form"), "print_informant": _l("Printed an informant's tip form"),
    "print_house_full": _l("Printed a house's collection form with full numbers"),
    "export_people": _l("People exported"), "export_houses": _l("Houses exported"),
    "export_organisations": _l("Organisations exported"), "export_changes": _l("Changes exported"),
    "backup_made": _l("Backup made"), "backup_restore": _l("Backup restored"),
}


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    account = StringField(_l("Collection ID"), validators=[Optional(), Length(max=16)])
    record = StringField(_l("Record (e.g. person:12)"), validators=[Optional(), Length(max=32)])
    action = SelectField(_l("Kind of entry"), validators=[Optional()], validate_choice=False)
    since = DateField(_l("From day"), validators=[Optional()])
    until = DateField(_l("To day"), validators=[Optional()])


def _filters(form: AuditFilterForm) -> service.Filters | None:
    """The form's filters, or None (with the form's errors set) when one cannot be used."""
    if not form.validate():
        return None
    filters = service.Filters(action=form.action.data or None, since=form.since.data, until=form.until.data)
    if form.account.data:
        account = service.account_by_collection_id(current_user, form.account.data)
        if account is None:
            form.account.errors = [_("No collection ID %(cid)s in your town.", cid=form.account.data.strip().upper())]
            return None
        filters.account_id = account.id
    if form.record.data:
        if service.parse_record(form.record.data) is None:
            form.record.errors = [_("Name a record as kind:number, e.g. person:12.")]
            return None
        filters.record = form.record.data.strip()
    return filters


def _form() -> AuditFilterForm:
    form = AuditFilterForm(request.args)
    form.action.choices = [("", _("All kinds"))] + [(a, str(ACTION_LABELS.get(a, a))) for a in service.actions()]
    return form


def _query_args() -> dict:
    return {k: v for k, v in request.args.items() if k != "page" and v}


@bp.get("/audit")
@scope.require("audit.view")
def index():
    form = _form()
    filters = _filters(form)
    page = None
    if filters is not None:
        page_no = min(max(request.args.get("page", 1, type=int), 1), 100_000)
        page = db.paginate(service.filtered(current_user, filters), page=page_no,
                           per_page=current_app.config["PAGE_SIZE"], error_out=False)
    elif request.args:
        flash(_("The filter was not applied: check the marked fields."), "error")
    names = service.collection_ids(r.account_id for r in page.items) if page else {}
    html = render_template("auditlog/index.html", form=form, page=page, names=names, args=_query_args(),
                           ACTION_LABELS=ACTION_LABELS)
    # Reading the log is itself logged (who asked who looked at whom).
    log_read(current_user.id, "audit_view", filters.record if filters else None, len(page.items) if page else 0)
    return html


@bp.get("/audit.csv")
@scope.require("audit.view")
def export():
    filters = _filters(_form())
    if filters is None:
        abort(400)
    body, count = service.export_csv(service.filtered(current_user, filters),
                                     lambda at: format_datetime(at, "yyyy-MM-dd HH:mm:ss"))
    log_read(current_user.id, "audit_export", filters.record, count)
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
