"""Registry checks that need the database, shared by the web forms (registry/views.py) and the
phone's push (sync.py). Each states its rule and returns the message for the field it concerns,
or None when the input passes."""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .. import records
from ..extensions import db
from ..models import Organisation, Person


def document_problem(data: dict, person: Person):
    """A document number names one person: editing a person may not take another person's document.
    (Registering a new person whose document is known is fieldapp.moves' business.)"""
    other = records.find_person(data["id_type"], data["id_number"])
    if other is None or other.id == person.id:
        return None
    return _l("Another registered person has this document number. Check the number.")


def move_in_problem(error: records.DateOrder):
    """The message for a move dated before the person's current residence began."""
    return _l("They have lived at their current address since %(date)s: the move-in date cannot be earlier.",
              date=error.not_before.isoformat())


def left_date_problem(person: Person, left_date: date):
    """Nobody leaves before they moved in: the residence would end before it began."""
    since = next((r.from_date for r in person.residences if r.to_date is None), None) or person.move_in_date
    if since is not None and left_date < since:
        return _l("They moved in on %(date)s: the date they left cannot be earlier.", date=since.isoformat())
    return None


def uscc_problem(uscc: str | None, org: Organisation | None):
    """A credit code names one organisation: a second registration with it is refused."""
    if not uscc:
        return None
    other = db.session.scalar(select(Organisation).where(Organisation.uscc == uscc))
    if other is not None and (org is None or other.id != org.id):
        return _l("An organisation with this credit code is already registered. Search for it instead.")
    return None
