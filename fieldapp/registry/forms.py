"""Forms for houses, people and organisations. Labels are catalog strings; rules live in rules/."""
from __future__ import annotations

import inspect
import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.core import UnboundField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from ..forms import CodeSelect, known_on_field, not_future, options, phone, wrap
from ..models.registry import AWAY_DURATIONS, HOUSE_USES, MOVE_IN_REASONS, ORG_KINDS
from ..rules import codes, identifiers

RESIDENT_ID = "111"

ENTITY_LABELS = {"house": _l("House"), "person": _l("Person"), "organisation": _l("Organisation")}
HOUSE_USE_LABELS = {"owner": _l("Owner-occupied"), "rented": _l("Rented"), "group_rental": _l("Group rental"),
                    "vacant": _l("Vacant"), "commercial": _l("Shop / commercial"), "other": _l("Other use")}
CATEGORY_LABELS = {"local": _l("Local registered resident"), "migrant": _l("Migrant from elsewhere"),
                   "separated": _l("Registered elsewhere in this city"), "abroad": _l("From abroad")}
REASON_LABELS = {"work": _l("Work"), "study": _l("Study"), "family": _l("Family"), "business": _l("Business"),
                 "other": _l("Other")}
AWAY_LABELS = {"lt6m": _l("Under six months"), "6m_1y": _l("Six months to a year"), "1y_2y": _l("One to two years"),
               "2y_5y": _l("Two to five years"), "gt5y": _l("Over five years")}
ORG_KIND_LABELS = {"community_unit": _l("Community unit"), "shop": _l("Street shop"), "factory": _l("Factory"),
                   "company": _l("Company"), "school": _l("School"), "other": _l("Other")}


def _choices(keys, labels, blank=True):
    return options(((k, labels[k]) for k in keys), blank)


# Control characters (NUL and the like) are never typed by a person; PostgreSQL refuses NUL in text
# outright, and the rest would break exports. Tab, line feed and carriage return are left alone.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class RegistryForm(FlaskForm):
    """Base of the registry's forms: refuses text with control characters, field by field."""

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and CONTROL_CHARACTERS.search(field.data):
                field.errors = list(field.errors) + [
                    _l("This contains invisible control characters. Type it again without them.")]
                valid = False
        return valid


class OpenedVersion:
    """Validator for the hidden version of an edit form: the version the form was opened on, a whole
    number from 1 to the record's current version. Without a usable one a save could not be merged
    with what others changed meanwhile and would silently overwrite it, so it is refused."""

    def __init__(self, current: int):
        self.current = current

    def __call__(self, form, field):
        text = str(field.data or "").strip()  # the record's own int when the form was posted without it
        if not (re.fullmatch(r"[0-9]{1,9}", text) and 1 <= int(text) <= self.current):
            raise ValidationError(_l("This form does not say which version of the record it was opened on. "
                                     "Open the record again and redo your change."))


class VersionedForm(RegistryForm):
    # The record version the form was opened on: saving against a newer one is merged field by field.
    version = HiddenField()
    known_on = known_on_field()


class HouseForm(VersionedForm):
    group_name = StringField(_l("Village group (组)"), validators=[Optional(), Length(max=32)])
    road = StringField(_l("Road or street"), validators=[Optional(), Length(max=64)])
    lane = StringField(_l("Lane (弄/巷)"), validators=[Optional(), Length(max=32)])
    number = StringField(_l("Door number (号)"), validators=[DataRequired(_l("Enter the door number.")), Length(max=32)])
    building = StringField(_l("Building"), validators=[Optional(), Length(max=32)])
    room = StringField(_l("Room"), validators=[Optional(), Length(max=32)])
    use = SelectField(_l("Use of the house"), choices=_choices(HOUSE_USES, HOUSE_USE_LABELS),
                      validators=[DataRequired(_l("Choose how the house is used."))])
    owner_name = StringField(_l("Owner's name"), validators=[Optional(), Length(max=64)])
    owner_phone = StringField(_l("Owner's phone"), validators=[Optional(), phone])
    tenant_name = StringField(_l("Tenant's name"), validators=[Optional(), Length(max=64)])
    tenant_phone = StringField(_l("Tenant's phone"), validators=[Optional(), phone])
    rental_registered = BooleanField(_l("Rental registered (租赁备案)"))
    rental_record_no = StringField(_l("Rental registration number"), validators=[Optional(), Length(max=32)])
    # Not one of records.HOUSE_FIELDS (phones do not send it): saved by records.set_house_sub_area.
    sub_area_id = SelectField(_l("Sub-area (片区/楼组)"), choices=options([]),
                              coerce=lambda v: int(v) if v not in ("", None, "None") else None)

    def offer_sub_areas(self, sub_areas) -> None:
        """Limit the sub-area select to the village's own sub-areas (none: the field is not shown)."""
        self.sub_area_id.choices = options([(s.id, s.name) for s in sub_areas])

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Checked here, not in an inline validate_rental_record_no: Optional() ends the field's chain
        # when it is empty, which is exactly the case to catch.
        if self.rental_registered.data and not (self.rental_record_no.data or "").strip():
            self.rental_record_no.errors = list(self.rental_record_no.errors) + [
                _l("Enter the rental registration number, or untick 'Rental registered'.")]
            valid = False
        return valid


class PersonForm(VersionedForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the person's name.")), Length(max=64)])
    id_type = CodeSelect(_l("Document type"), codes.ID_TYPE, blank=False)
    id_number = StringField(_l("Document number"), validators=[DataRequired(_l("Enter the document number."))])
    sex = CodeSelect(_l("Sex"), codes.SEX, validators=[Optional()],
                     description=_l("Filled in from a resident ID number."))
    birth_date = DateField(_l("Date of birth"), validators=[Optional(), not_future],
                           description=_l("Filled in from a resident ID number."))
    ethnicity = CodeSelect(_l("Ethnic group"), codes.ETHNICITY, validators=[Optional()])
    nationality = StringField(_l("Nationality (3-letter code, e.g. USA)"),
                              validators=[Optional(), Regexp(r"^[A-Za-z]{3}$", message=_l("Use the 3-letter country code, e.g. USA, KOR, VNM."))])
    phone = StringField(_l("Mobile phone"), validators=[Optional(), phone])
    category = SelectField(_l("Category"), choices=[])
    hukou_division = StringField(_l("Household registration place code"),
                                 validators=[Optional(), Regexp(r"^\d{6}$", message=_l("Enter the 6-digit division code, e.g. 431121."))],
                                 description=_l("Taken from a resident ID number when left empty."))
    hukou_address = StringField(_l("Household registration address"), validators=[Optional(), Length(max=128)])
    hukou_type = CodeSelect(_l("Household registration type"), codes.HUKOU_TYPE, validators=[Optional()])
    relation = CodeSelect(_l("Relation to the householder"), codes.RELATION, validators=[Optional()])
    room = StringField(_l("Room"), validators=[Optional(), Length(max=32)])
    move_in_date = DateField(_l("Moved in on"), validators=[Optional(), not_future])
    move_in_reason = SelectField(_l("Reason for living here"), choices=_choices(MOVE_IN_REASONS, REASON_LABELS), default="")
    away_duration = SelectField(_l("Time away from the registration place"), choices=_choices(AWAY_DURATIONS, AWAY_LABELS),
                                default="")
    employer_id = SelectField(_l("Employer"), coerce=lambda v: int(v) if v not in (None, "", "None") else None,
                              choices=[], description=_l("An organisation registered in your villages, if they work at one."))

    def setup(self, lang: str, police: bool, employers=()):
        """Choices depend on the UI language and on the role: only police register people from abroad.
        `employers` are (id, name) of the open organisations the editor may see."""
        for field in (self.id_type, self.sex, self.ethnicity, self.hukou_type, self.relation):
            field.localise(lang)
        self.employer_id.choices = options(employers)
        if not police:
            self.id_type.choices = [c for c in self.id_type.choices if c.value == RESIDENT_ID]
        categories = [k for k in CATEGORY_LABELS if police or k != "abroad"]
        self.category.choices = _choices(categories, CATEGORY_LABELS, blank=False)

    def validate_id_number(self, field):
        if self.id_type.data == RESIDENT_ID:
            wrap(identifiers.validate_resident_id)(self, field)
        else:
            wrap(identifiers.validate_passport)(self, field)

    def validate_sex(self, field):
        if self.id_type.data == RESIDENT_ID and field.data and self._id_ok():
            if field.data != str(identifiers.resident_id_sex(self.id_number.data)):
                raise ValidationError(_l("The sex does not match the ID number. Check both."))

    def validate_birth_date(self, field):
        if self.id_type.data == RESIDENT_ID:
            if field.data and self._id_ok() and field.data != identifiers.resident_id_birth_date(self.id_number.data):
                raise ValidationError(_l("The date of birth does not match the ID number. Check both."))
        elif not field.data:
            raise ValidationError(_l("Enter the date of birth shown on the document."))

    def validate_nationality(self, field):
        if self.category.data == "abroad" and not field.data:
            raise ValidationError(_l("Enter the nationality of a person from abroad."))

    def validate_away_duration(self, field):
        if self.category.data in ("migrant", "separated") and not field.data:
            raise ValidationError(_l("Ask how long they have lived away from their registration place."))

    def validate_move_in_reason(self, field):
        if self.category.data in ("migrant", "separated", "abroad") and not field.data:
            raise ValidationError(_l("Ask why they live here."))

    def _id_ok(self) -> bool:
        return not self.id_number.errors

    def record_data(self) -> dict:
        """The person's fields, with what a resident ID number implies filled in."""
        data = {name: (getattr(self, name).data or None) for name in (
            "name", "id_type", "id_number", "sex", "birth_date", "ethnicity", "phone", "hukou_division",
            "hukou_address", "hukou_type", "category", "move_in_date", "move_in_reason", "away_duration",
            "employer_id")}
        data["nationality"] = (self.nationality.data or "").upper() or None
        if data["id_type"] == RESIDENT_ID:
            data["sex"] = str(identifiers.resident_id_sex(data["id_number"]))
            data["birth_date"] = identifiers.resident_id_birth_date(data["id_number"])
            data["hukou_division"] = data["hukou_division"] or data["id_number"][:6]
        data["sex"] = data["sex"] or "0"
        return data


class LeaveForm(RegistryForm):
    version = HiddenField()
    left_date = DateField(_l("Left on"), validators=[DataRequired(_l("Enter the date they left.")), not_future])
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Say why, e.g. moved to another city.")), Length(max=128)])


class OrganisationForm(VersionedForm):
    name = StringField(_l("Name of the organisation"), validators=[DataRequired(_l("Enter the name.")), Length(max=128)])
    kind = SelectField(_l("Kind"), choices=_choices(ORG_KINDS, ORG_KIND_LABELS),
                       validators=[DataRequired(_l("Choose the kind of organisation."))])
    uscc = StringField(_l("Unified social credit code"), validators=[Optional(), wrap(identifiers.validate_uscc)],
                       description=_l("18 characters, on the business licence."))
    legal_rep = StringField(_l("Legal representative"), validators=[Optional(), Length(max=64)])
    phone = StringField(_l("Phone"), validators=[Optional(), phone])
    employee_count = IntegerField(_l("Number of employees"), validators=[Optional(), NumberRange(min=0, max=1_000_000)])

    def record_data(self) -> dict:
        return {name: (getattr(self, name).data if getattr(self, name).data not in ("",) else None)
                for name in ("name", "kind", "uscc", "legal_rep", "phone", "employee_count")}


class CloseForm(RegistryForm):
    version = HiddenField()
    closed_date = DateField(_l("Closed on"), validators=[DataRequired(_l("Enter the date it closed.")), not_future])


class SearchForm(RegistryForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField(_l("Address or door code"), validators=[Optional(), Length(max=64)])


def _labels(*form_classes) -> dict:
    out = {}
    for cls in form_classes:
        for name, value in inspect.getmembers(cls):
            if isinstance(value, UnboundField) and value.args:
                out.setdefault(name, value.args[0])
    return out


# What each field a Change names is called on screen (a change lists the fields it touched).
CHANGE_FIELD_LABELS = {
    **_labels(PersonForm, HouseForm, OrganisationForm),
    "house_id": _l("Address"), "status": _l("Status"), "left_date": _l("Left on"), "left_reason": _l("Reason"),
    "closed_date": _l("Closed on"), "collected_at": _l("Registered at the door"),
}
