"""Merging two records (/review/people/merge, /review/houses/merge): the pair side by side, a choice
per differing field of whose value the kept record takes, then fieldapp.merging does it."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField

from .. import merging, scope
from ..audit import log_read
from ..extensions import db
from ..i18n import ui_lang
from .display import Shown
from .views import bp

MERGE_MESSAGES = {
    "same_record": _l("These are the same record: choose two different ones."),
    "already_merged": _l("One of these records was merged already (perhaps by another reviewer just now). "
                         "Nothing was changed; open the kept record to check."),
    "changed": _l("One of these records changed while you were deciding. Nothing was merged: check the values "
                  "below again and merge."),
    "other_village": _l("These houses are in different villages, so they are not one address. Nothing was merged."),
}


class MergeForm(FlaskForm):
    """Versions of both records as shown (merging.MergeError 'changed' otherwise). The per-field
    choices come as choice-<field> = keep | other."""
    keep_version = HiddenField()
    other_version = HiddenField()


def _ids() -> tuple[int, int]:
    keep, other = request.args.get("keep", type=int), request.args.get("other", type=int)
    if keep is None or other is None:
        abort(404)
    return scope.key_or_404(keep), scope.key_or_404(other)


def _merge_page(entity: str):
    keep_id, other_id = _ids()
    if keep_id == other_id:
        abort(404)
    pair = (merging.people_pair if entity == "person" else merging.houses_pair)(current_user, keep_id, other_id)
    keep, other = pair
    form = MergeForm()
    fields = merging.field_choices(entity, keep, other)
    error = None
    if form.validate_on_submit():
        choices = {n: request.form.get(f"choice-{n}") for n in fields
                   if request.form.get(f"choice-{n}") in ("keep", "other")}
        try:
            versions = (int(form.keep_version.data), int(form.other_version.data))
        except (TypeError, ValueError):
            versions = None
        do = merging.merge_people if entity == "person" else merging.merge_houses
        try:
            do(current_user, keep, other, choices, versions)
        except merging.MergeError as failure:
            db.session.rollback()
            error = MERGE_MESSAGES[failure.code]
            keep, other = (merging.people_pair if entity == "person" else merging.houses_pair)(
                current_user, keep_id, other_id)
            fields = merging.field_choices(entity, keep, other)
        else:
            db.session.commit()
            flash(_("Merged. The other record now points here; both histories are kept."), "success")
            target = (url_for("registry.person", person_id=keep_id) if entity == "person"
                      else url_for("registry.house", house_id=keep_id))
            return redirect(target, 303)
    form.keep_version.data, form.other_version.data = keep.version, other.version
    shown = Shown(current_user, ui_lang())
    names = merging.MERGE_FIELDS[entity]
    page = render_template("review/merge.html", entity=entity, keep=keep, other=other, form=form, fields=fields,
                           names=names, shown=shown, error=error, keep_history=merging.history(entity, keep, 20),
                           other_history=merging.history(entity, other, 20),
                           posted=request.form if request.method == "POST" else {})
    log_read(current_user.id, f"view_{entity}_merge", f"{entity}:{keep.id}", 2, f"with {entity}:{other.id}")
    return page, (422 if error or request.method == "POST" else 200)


@bp.route("/review/people/merge", methods=["GET", "POST"])
@scope.require("entries.review")
def merge_people():
    return _merge_page("person")


@bp.route("/review/houses/merge", methods=["GET", "POST"])
@scope.require("entries.review")
def merge_houses():
    return _merge_page("house")
