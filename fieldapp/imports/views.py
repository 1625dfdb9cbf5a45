"""Register import pages (thin views): upload a people or organisation register, see the check
report, download it as .xlsx, download the blank template. Scope: the uploader's villages
(fieldapp.scope); permission registers.import (rules/permissions.py says why those roles). Writes go
through fieldapp.imports.people / organisations, and so through records and moves.

The full report of a check is kept as a file in the instance folder for a day, named by a random
token and the uploader's account, so the page can offer "download the report" without the clerk
choosing the file again; nobody else can fetch it (404), and it holds no unmasked document number."""
from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from .. import scope
from ..accounts import audit
from ..extensions import db
from ..doors.importer import lock_villages
from ..i18n import ui_lang
from ..rules.permissions import can
from ..rules.register_import import too_large
from . import common, organisations, people, sheets
from .forms import UploadForm

bp = Blueprint("imports", __name__)

KINDS = ("people", "organisations")
REPORT_TTL_S = 24 * 3600
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,40}$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHOWN_ISSUES = 300  # on the page; the downloaded report has them all


def _report_dir() -> Path:
    return Path(current_app.config["REGISTER_IMPORT_REPORT_DIR"] or Path(current_app.instance_path) / "import_reports")


def _keep_report(plan: common.Plan) -> str:
    """Store the plan's report for the uploader (module docstring); returns its token."""
    folder = _report_dir()
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - REPORT_TTL_S
    for old in folder.glob("*.xlsx"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(18)
    (folder / f"{current_user.id}-{token}.xlsx").write_bytes(sheets.report_xlsx(plan))
    return token


def _page(kind: str):
    limit = current_app.config["REGISTER_IMPORT_MAX_BYTES"]
    if request.method == "POST":
        request.max_content_length = limit + 64 * 1024
    form = UploadForm()
    villages = scope.villages(current_user)
    context = {"form": form, "kind": kind, "villages": villages, "common": common, "shown": SHOWN_ISSUES}
    if not form.validate_on_submit():
        return render_template("imports/upload.html", plan=None, **context), 422 if request.method == "POST" else 200
    data = form.file.data.read(limit + 1)
    if len(data) > limit:
        plan = common.Plan(kind=kind, file_problem=too_large(limit))
    else:
        if form.run.data:
            lock_villages(villages)
        max_rows = current_app.config["REGISTER_IMPORT_MAX_ROWS"]
        if kind == "people":
            plan = people.check(data, villages, max_rows, current_user,
                                police=can(current_user.role, "registry.police_only"), lang=ui_lang())
        else:
            plan = organisations.check(data, villages, max_rows)
    if plan.ok and form.run.data:
        module = people if kind == "people" else organisations
        try:
            counts = module.import_rows(plan, current_user.id)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            flash(_("The register changed while importing, so nothing was imported. Check the file again."), "error")
            return render_template("imports/upload.html", plan=None, **context), 409
        if kind == "people":
            flash(_("Imported: %(new)s new people, %(updated)s already registered at their house, %(moves)s move "
                    "requests for a reviewer, %(houses)s new houses.", new=counts["new"], updated=counts["updated"],
                    moves=counts["move"], houses=counts["houses"]), "success")
        else:
            flash(_("Imported: %(new)s new organisations, %(updated)s already registered at their house, "
                    "%(houses)s new houses.", new=counts["new"], updated=counts["updated"], houses=counts["houses"]),
                  "success")
        return redirect(url_for(".upload", kind=kind), 303)
    audit(current_user.id, f"{kind}_import_checked", None,
          f"{len(plan.rows)} rows, {len(plan.rejected)} rejected")
    token = _keep_report(plan)
    db.session.commit()
    return render_template("imports/upload.html", plan=plan, token=token, **context), 200 if plan.ok else 422


@bp.route("/imports/<any(people, organisations):kind>", methods=["GET", "POST"])
@scope.require("registers.import")
def upload(kind):
    return _page(kind)


@bp.get("/imports/<any(people, organisations):kind>/template.xlsx")
@scope.require("registers.import")
def template(kind):
    data = sheets.template(kind, scope.villages(current_user))
    name = "people-template.xlsx" if kind == "people" else "organisations-template.xlsx"
    return Response(data, mimetype=XLSX, headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.get("/imports/report/<token>.xlsx")
@scope.require("registers.import")
def report(token):
    if not TOKEN.match(token):
        abort(404)
    path = _report_dir() / f"{current_user.id}-{token}.xlsx"
    if not path.is_file() or path.stat().st_mtime < time.time() - REPORT_TTL_S:
        abort(404)
    return Response(path.read_bytes(), mimetype=XLSX,
                    headers={"Content-Disposition": "attachment; filename=import-report.xlsx",
                             "Cache-Control": "no-store"})
