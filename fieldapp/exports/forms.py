"""The export form: what, where, which columns, which format, and a reason for unmasked numbers."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..forms import options
from ..rules.export_columns import DATASETS, FORMATS, LAYOUTS, PRESETS

DATASET_LABELS = {"people": _l("People"), "houses": _l("Houses"), "organisations": _l("Organisations"),
                  "changes": _l("Changes in a date range")}
FORMAT_LABELS = {"xlsx": _l("Excel workbook (.xlsx)"), "csv": _l("CSV, UTF-8 (for other systems)")}
PRESET_LABELS = {"standard": _l("Standard: every field"),
                 "police": _l("Police platform (实有人口/实有房屋/实有单位)")}
assert set(PRESET_LABELS) == set(PRESETS)

# A run of digits this long in a reason is a document or phone number: the reason is kept in the
# audit log, which holds no personal data (fieldapp/audit.py).
NUMBER_RUN = re.compile(r"\d{6,}")


def no_numbers(form, field):
    if field.data and NUMBER_RUN.search(re.sub(r"[\s\-]", "", field.data)):
        raise ValidationError(_l("Do not write document or phone numbers in the reason: say what the file is for "
                                 "and who asked for it (e.g. the letter's reference)."))


class ExportForm(FlaskForm):
    dataset = RadioField(_l("What to export"), choices=options(((k, DATASET_LABELS[k]) for k in DATASETS), blank=False), default="people",
                         validators=[DataRequired(_l("Choose what to export."))])
    # Filled by the view with the villages in scope; "" = all of them.
    village = SelectField(_l("Where"), choices=[], validate_choice=False, default="")
    preset = RadioField(_l("Columns"), choices=options(PRESET_LABELS.items(), blank=False), default="standard",
                        validators=[DataRequired(_l("Choose the columns."))])
    fmt = RadioField(_l("File format"), choices=options(((k, FORMAT_LABELS[k]) for k in FORMATS), blank=False), default="xlsx",
                     validators=[DataRequired(_l("Choose the file format."))])
    since = DateField(_l("Changes from (day)"), validators=[Optional()])
    until = DateField(_l("Changes up to (day, inclusive)"), validators=[Optional()])
    unmasked = BooleanField(_l("Full document and phone numbers (not masked)"))
    reason = TextAreaField(_l("Why are full numbers needed?"), validators=[Optional(), Length(max=200), no_numbers],
                           description=_l("Required for full numbers. Kept in the audit log with your ID and the "
                                          "number of rows. No names or numbers here."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if (self.dataset.data, self.preset.data) not in LAYOUTS and not self.dataset.errors:
            self.preset.errors = list(self.preset.errors) + [
                _l("Changes have the standard columns only: choose “Standard”.")]
            valid = False
        if self.since.data and self.until.data and self.since.data > self.until.data:
            self.until.errors = list(self.until.errors) + [_l("This day is before the first day. Swap them.")]
            valid = False
        if self.unmasked.data and len((self.reason.data or "").strip()) < 4:
            self.reason.errors = list(self.reason.errors) + [
                _l("Say why the full numbers are needed (at least 4 characters), or untick full numbers.")]
            valid = False
        return valid
