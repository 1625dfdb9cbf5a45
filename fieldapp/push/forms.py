"""The web forms' rules, fed from a pushed item's JSON: a phone's record is checked by exactly the
form a web page would use (fieldapp/registry/forms.py), so both refuse the same input with the
same messages."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from .. import records, scope
from ..extensions import db
from ..forms import known_on_field
from ..models import Organisation, Person
from ..registry import checks
from ..registry.forms import HouseForm, OrganisationForm, PersonForm, RegistryForm
from .context import PushContext
from .errors import REJECT_MESSAGES, Rejected

PERSON_FORM_FIELDS = ("name", "id_type", "id_number", "sex", "birth_date", "ethnicity", "nationality", "phone",
                      "category", "hukou_division", "hukou_address", "hukou_type", "relation", "room",
                      "move_in_date", "move_in_reason", "away_duration")


def _form_value(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "y" if value else None
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise Rejected("invalid")


def form_for(form_class, values: dict):
    formdata = MultiDict()
    for name, value in values.items():
        try:
            text = _form_value(value)
        except Rejected:
            raise Rejected("invalid", {name: [REJECT_MESSAGES["bad_item"]]}) from None
        if text is not None:
            formdata[name] = text
    return form_class(formdata=formdata, meta={"csrf": False})


def invalid(form) -> Rejected:
    return Rejected("invalid", {name: list(errors) for name, errors in form.errors.items()})


class _KnownOnForm(RegistryForm):
    known_on = known_on_field()


def current(record, names) -> dict:
    return {n: getattr(record, n) for n in names}


def check_position(data: dict) -> dict:
    """lat/lon are not on the web form (the phone fills them from GPS): numbers in range, or null."""
    errors = {}
    for name, bound in (("lat", 90), ("lon", 180)):
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not -bound <= value <= bound:
            errors[name] = [_l("Not a valid position. Let the phone take it again.")]
    if errors:
        raise Rejected("invalid", errors)
    return {n: float(data[n]) if data.get(n) is not None else None for n in ("lat", "lon") if n in data}


def house_data(data: dict, current: dict | None = None) -> dict:
    fields = [n for n in records.HOUSE_FIELDS if n not in ("lat", "lon")]
    position = check_position(data)
    values = {**(current or {}), **{n: data[n] for n in fields if n in data}}
    form = form_for(HouseForm, {n: values.get(n) for n in fields})
    if not form.validate():
        raise invalid(form)
    clean = {n: (getattr(form, n).data if getattr(form, n).data != "" else None) for n in fields}
    submitted = set(data) if current is not None else set(records.HOUSE_FIELDS)
    out = {n: v for n, v in clean.items() if n in submitted}
    out.update(position)
    return out


def known_on(item: dict) -> date | None:
    """The day the change became known; checked by the forms' known_on field (not in the future)."""
    value = item.get("known_on")
    if value is None:
        return None
    form = form_for(_KnownOnForm, {"known_on": value})
    if not form.validate():
        raise Rejected("invalid", {"known_on": form.known_on.errors})
    return form.known_on.data


def person_form(ctx: PushContext, data: dict, person: Person | None):
    """Validate with the web's PersonForm; `employer_uid` (an open organisation in scope) stands for
    the form's employer_id. For an update the record's values fill what the phone did not send."""
    values = {}
    employers = []
    if person is not None:
        values = {n: getattr(person, n) for n in PERSON_FORM_FIELDS if hasattr(person, n)}
        if person.employer_id is not None:
            employer = db.session.get(Organisation, person.employer_id)
            employers.append((employer.id, employer.name))
            values["employer_id"] = employer.id
    values.update({n: data[n] for n in PERSON_FORM_FIELDS if n in data})
    if "employer_uid" in data:
        values["employer_id"] = None
        if data["employer_uid"] is not None:
            employer = (db.session.scalar(scope.organisations(ctx.account).where(
                Organisation.uid == data["employer_uid"], Organisation.status == "open"))
                if isinstance(data["employer_uid"], str) else None)
            if employer is None:
                raise Rejected("invalid", {"employer_uid": [_l("Not a valid choice.")]})
            employers.append((employer.id, employer.name))
            values["employer_id"] = employer.id
    form = form_for(PersonForm, values)
    form.setup(ctx.lang, ctx.police, employers)
    if not form.validate():
        raise invalid(form)
    return form


def organisation_form(data: dict, org: Organisation | None):
    names = records.ORG_FIELDS
    values = {**(current(org, names) if org is not None else {}), **{n: data[n] for n in names if n in data}}
    form = form_for(OrganisationForm, values)
    if not form.validate():
        raise invalid(form)
    problem = checks.uscc_problem(form.uscc.data, org)
    if problem:
        raise Rejected("invalid", {"uscc": [problem]})
    clean = form.record_data()
    return clean if org is None else {n: v for n, v in clean.items() if n in data}
