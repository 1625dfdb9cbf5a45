"""The upload form of the register imports."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SubmitField


class UploadForm(FlaskForm):
    file = FileField(_l("Register file (.xlsx or .csv)"),
                     validators=[FileRequired(_l("Choose the file to import."))])
    check_only = SubmitField(_l("Check the file"))
    run = SubmitField(_l("Check and import"))
