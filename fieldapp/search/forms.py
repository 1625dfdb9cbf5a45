"""The search form. It is POSTed with a CSRF token, never sent as a GET query string: what a clerk
searches for (a name, a document or phone number) must not land in URLs, browser history, Referer
headers or the web server's access log (see views.py)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional, ValidationError

from ..rules.search import MAX_QUERY_LENGTH
from .service import SECTIONS


def _printable(form, field):
    if any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in field.data or ""):
        raise ValidationError(_l("This contains invisible control characters. Type it again without them."))


class SearchQueryForm(FlaskForm):
    q = StringField(_l("Name, document number, phone, address, door code or credit code"),
                    validators=[DataRequired(_l("Type what you are looking for: a name, a number or an address.")),
                                Length(max=MAX_QUERY_LENGTH), _printable])
    # Paging through one kind of record (people, houses or organisations); empty = all kinds.
    section = HiddenField(validators=[Optional(), AnyOf(SECTIONS)])
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=100_000)], default=1)
