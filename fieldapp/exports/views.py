"""The export page: thin. What may be exported is exports.service's; scope is fieldapp.scope's."""
from __future__ import annotations

import tempfile

from flask import Blueprint, abort, render_template, send_file
from flask_babel import gettext as _
from flask_login import current_user

from .. import scope
from ..forms import options
from ..audit import log_read
from ..rules import days
from ..rules.permissions import can, is_town_wide
from . import service
from .forms import ExportForm

bp = Blueprint("exports", __name__)


def _form() -> ExportForm:
    form = ExportForm()
    everywhere = _("The whole town") if is_town_wide(current_user.role) else _("All my villages")
    form.village.choices = options([("", everywhere)] + [(str(v.id), v.name) for v in scope.villages(current_user)],
                                   blank=False)
    return form


def _page(form, status: int = 200):
    return render_template("exports/index.html", form=form,
                           may_unmask=can(current_user.role, "exports.unmasked")), status


@bp.get("/exports")
@scope.require("exports.download")
def index():
    return _page(_form())


@bp.post("/exports")
@scope.require("exports.download")
def download():
    """Validate, write the file to an unnamed temporary file, audit what was written (how many
    rows, masked or not and why), then send it. Nothing personal is in the URL: the choice is posted."""
    form = _form()
    village = None
    if form.village.data:
        # A village outside the scope answers 404, as everywhere (a typed-in id reveals nothing).
        if not form.village.data.isdigit():
            abort(404)
        village = scope.village_or_404(current_user, int(form.village.data))
    if not form.validate_on_submit():
        return _page(form, 422)
    if form.unmasked.data and not can(current_user.role, "exports.unmasked"):
        abort(403)
    request = service.Request(dataset=form.dataset.data, preset=form.preset.data, fmt=form.fmt.data,
                              village_id=village.id if village else None, since=form.since.data,
                              until=form.until.data, masked=not form.unmasked.data)
    town = current_user.town
    name = service.filename(request, village, town, days.today())
    out = tempfile.TemporaryFile()  # no name on disk; closed (and gone) when the response is
    try:
        count = service.write(current_user, request, out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    target = f"village:{village.id}" if village else f"town:{town.id}"
    detail = f"{request.preset} {request.fmt} " + (
        "masked" if request.masked else f"UNMASKED; reason: {form.reason.data.strip()}")
    if request.dataset == "changes" and (request.since or request.until):
        detail += f"; days {request.since or ''}..{request.until or ''}"
    log_read(current_user.id, f"export_{request.dataset}", target, count, detail)
    mimetype = ("text/csv; charset=utf-8" if request.fmt == "csv"
                else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response = send_file(out, mimetype=mimetype, as_attachment=True, download_name=name, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Export-Rows"] = str(count)
    return response
