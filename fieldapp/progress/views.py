"""The supervisor's progress page: every visible village against its quota, and the town total."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template
from flask_login import current_user

from .. import scope
from ..rules.permissions import is_town_wide
from .data import overview as build_overview

bp = Blueprint("progress", __name__)


@bp.get("/progress")
@scope.require("progress.view")
def overview():
    data = build_overview(current_user.town, scope.villages(current_user), date.today(),
                    with_total=is_town_wide(current_user.role))
    return render_template("progress/overview.html", data=data)


