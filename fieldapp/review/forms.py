"""The reviewer's decision on one conflict: which value stays, and the record version it was made on."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField
from wtforms.validators import DataRequired

from ..forms import options
from .service import CHOICES


class ResolveForm(FlaskForm):
    # Sent by the button pressed (name="choice"): keep the record's value, or take the editor's.
    choice = SelectField(choices=options(((c, c) for c in CHOICES), blank=False), validators=[DataRequired()])
    version = HiddenField()  # the record's version when the page was shown (service.RecordChanged)
