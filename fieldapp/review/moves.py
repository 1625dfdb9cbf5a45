"""Move requests for the reviewer (/review/moves): confirm, acknowledge or refuse moving a person
registered elsewhere into a house here (the rules are fieldapp/moves.py)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from wtforms import StringField
from wtforms.validators import Length

from .. import moves, records, scope
from ..audit import log_read
from ..extensions import db
from ..i18n import ui_lang
from ..models import Account, Village
from ..registry import checks
from .display import Shown

bp = Blueprint("moves", __name__)

# What a reviewer compares: the typed values against the register's, field by field.
COMPARED = ("name", "sex", "id_type", "id_number", "birth_date", "ethnicity", "nationality", "phone",
            "hukou_division", "hukou_address", "category", "move_in_date", "move_in_reason")


class DecideForm(FlaskForm):
    note = StringField(validators=[Length(max=255)])


@bp.app_context_processor
def _nav():
    def waiting_moves() -> int | None:
        """The navigation's count of move requests waiting (None when it cannot be counted)."""
        try:
            return moves.pending_count(current_user)
        except SQLAlchemyError:
            return None
    return {"waiting_moves": waiting_moves}


def _rows(items):
    """Per request: what the viewer may do, and the register's values when they may see the person."""
    shown = Shown(current_user, ui_lang())
    rows = []
    villages = moves.village_ids(current_user)
    for item in items:
        powers = moves.powers(current_user, item, villages)
        registered = item.person if powers.sending else None
        fields = []
        for name in COMPARED:
            typed = item.data.get(name)
            now = records.json_value(getattr(registered, name)) if registered is not None else None
            if typed in (None, "") and now in (None, ""):
                continue
            fields.append({"name": name, "label": shown.label(name),
                           "typed": shown.value("person", name, typed),
                           "registered": shown.value("person", name, now) if registered is not None else None,
                           "differs": registered is not None and typed not in (None, "") and typed != now})
        # Where the person is registered now (the request may be older than a move since).
        village = db.session.get(Village, item.person.village_id)
        rows.append({"request": item, "powers": powers, "fields": fields, "registered": registered,
                     "registered_village": village.name if village is not None else "—"})
    return rows


@bp.get("/review/moves")
@scope.require("moves.review")
def queue():
    items = moves.pending(current_user)
    if items:
        # The page shows what was typed about each person (and the register's values to those who
        # may see them): a read of personal data, logged with how many.
        log_read(current_user.id, "view_move_requests", None, len(items), f"{len(items)} requests")
    submitters = dict(db.session.execute(select(Account.id, Account.collection_id).where(
        Account.id.in_({i.requested_by_id for i in items}))).all())
    return render_template("review/moves.html", rows=_rows(items), submitters=submitters, form=DecideForm(formdata=None))


def _request_or_404(request_id: int):
    return moves.request_or_none(current_user, request_id) or abort(404)


@bp.post("/review/moves/<int:request_id>/<any(confirm, acknowledge, refuse):action>")
@scope.require("moves.review")
def decide(request_id, action):
    item = _request_or_404(request_id)
    form = DecideForm()
    if not form.validate():
        flash(_("The note can have at most 255 characters."), "error")
        return redirect(url_for(".queue"), 303)
    try:
        if action == "confirm":
            conflicts = moves.confirm(current_user, item)
        elif action == "acknowledge":
            moves.acknowledge(current_user, item)
        else:
            moves.refuse(current_user, item, form.note.data or "")
    except moves.AlreadyDecided:
        db.session.rollback()
        flash(_("This request was already decided by someone else. Nothing was changed."), "info")
        return redirect(url_for(".queue"), 303)
    except moves.NotAllowed:
        db.session.rollback()
        flash(_("You cannot take this decision: a reviewer of the village the person is registered in must "
                "see the request first, and nobody decides their own request."), "error")
        return redirect(url_for(".queue"), 303)
    except records.DateOrder as error:
        db.session.rollback()
        # The date the person moved in where they live now is theirs to know who see the person.
        sees = moves.powers(current_user, item).sending
        flash((str(checks.move_in_problem(error)) if sees else
               _("The move-in date is earlier than the date the person moved in where they are registered now."))
              + " " + _("Refuse the request, or ask the collector to register it again with the right date."), "error")
        return redirect(url_for(".queue"), 303)
    db.session.commit()
    if action == "confirm":
        flash(_("Confirmed: the person now lives at the new house; their history is kept.")
              + (" " + _("Details that differ from the register wait in the conflicts list.") if conflicts else ""),
              "success")
    elif action == "acknowledge":
        flash(_("Noted: the receiving village may now confirm the move."), "success")
    else:
        flash(_("Refused: nobody was moved."), "success")
    return redirect(url_for(".queue"), 303)
