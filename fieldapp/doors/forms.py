"""Forms for door labels: retiring a code, importing a house register."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, IntegerField, SelectField, SubmitField
from wtforms.validators import DataRequired, InputRequired, NumberRange

from ..forms import options

REASON_LABELS = {"damaged": _l("The label is damaged or unreadable"), "stolen": _l("The label was stolen or copied"),
                 "reprint": _l("Reissue: new label with a new code"), "other": _l("Other reason")}


class RetireForm(FlaskForm):
    # The code the page showed: if someone retired it meanwhile, nothing is done twice.
    code = HiddenField()
    reason = SelectField(_l("Why is the code replaced?"), choices=options(REASON_LABELS.items()),
                         validators=[DataRequired(_l("Choose why the code is replaced."))])


class ImportForm(FlaskForm):
    file = FileField(_l("House register file (.xlsx or .csv)"),
                     description=_l("One house per row. Columns: village (name or code), group, road, lane, "
                                    "door number, building, room, and optionally latitude and longitude."),
                     validators=[FileRequired(_l("Choose the file to import."))])
    check_only = SubmitField(_l("Check the file"))
    run = SubmitField(_l("Check and import"))


class BlankLabelsForm(FlaskForm):
    """How many blank labels to print for a village (doors.labels.MAX_PER_BATCH at most)."""
    count = IntegerField(_l("How many labels"), validators=[
        InputRequired(_l("Enter how many labels to print.")),
        NumberRange(1, 240, _l("Print between 1 and 240 labels at a time (20 A4 pages); print another batch for more."))])
