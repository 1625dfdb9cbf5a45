"""Form building blocks shared by every blueprint: validators that wrap the domain rules.

Identifier errors carry their own Chinese and English messages (rules.identifiers), because the
same words serve forms, import reports and the CLI; everything else comes from the catalogs."""
from __future__ import annotations

import re
from datetime import date

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from .i18n import ui_lang
from .rules import codes, identifiers

def wrap(rule):
    """A WTForms validator from a rule that normalises or raises IdentifierError; stores the
    normalised value back on the field so the view saves what the rule accepted."""
    def validator(form, field):
        if not field.data:
            return
        try:
            field.data = rule(field.data)
        except identifiers.IdentifierError as error:
            raise ValidationError(error.message(ui_lang())) from error
    return validator


LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def phone(form, field):
    """Mobile numbers are checked strictly; fixed lines (0xx-xxxxxxxx) are accepted as typed."""
    if not field.data:
        return
    text = re.sub(r"[\s]", "", field.data)
    if LANDLINE.match(text):
        field.data = text
        return
    wrap(identifiers.validate_mobile)(form, field)


def not_future(form, field):
    if field.data and field.data > date.today():
        raise ValidationError(_l("This date is in the future. Enter the date it happened."))


def options(pairs, blank: bool = True) -> list[SelectChoice]:
    """Select options from (value, label) pairs, optionally after an empty "—" choice."""
    return ([SelectChoice("", "—")] if blank else []) + [SelectChoice(value, label) for value, label in pairs]


class CodeSelect(SelectField):
    """A select over a national code table: stores the code, shows the name in the UI language."""

    def __init__(self, label, table, blank=True, **kwargs):
        self.table = table
        self.blank = blank
        if blank:
            kwargs.setdefault("default", "")  # a select left out of a post means "not given", not invalid
        super().__init__(label, choices=[], **kwargs)

    def localise(self, lang: str):
        self.choices = options(codes.choices(self.table, lang), self.blank)


def known_on_field():
    return DateField(_l("Date the change became known"), default=date.today, validators=[not_future],
                     description=_l("Changes must be collected within 3 working days of this date."))
