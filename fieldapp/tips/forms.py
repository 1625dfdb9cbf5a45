"""Tip forms: the informant's (signed in), the public one on a door's page, and the task actions."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from ..forms import not_future, options, phone
from ..registry.forms import CONTROL_CHARACTERS
from ..rules import tips as rules
from ..rules.doorcode import is_valid_door_code, normalise_door_code

KIND_LABELS = {"move_in": _l("Someone moved in"), "move_out": _l("Someone moved out"),
               "new_rental": _l("Newly rented out"), "group_rental": _l("Group rental (many tenants)"),
               "org_opened": _l("A shop or business opened"), "org_closed": _l("A shop or business closed"),
               "other": _l("Something else changed")}
STATE_LABELS = {"new": _l("New"), "assigned": _l("Assigned"), "valid": _l("Verified: valid"),
                "invalid": _l("Verified: not valid"), "closed": _l("Closed")}


def _no_control_characters(form, field):
    if isinstance(field.data, str) and CONTROL_CHARACTERS.search(field.data):
        raise ValidationError(_l("This contains invisible control characters. Type it again without them."))


def _kind_field():
    return SelectField(_l("What changed"), choices=options(KIND_LABELS.items()),
                       validators=[DataRequired(_l("Choose what changed."))])


def _details_field():
    return TextAreaField(_l("Details"), validators=[Optional(), Length(max=rules.DETAILS_MAX), _no_control_characters],
                         description=_l("Who, how many people, which room: at most %(n)s characters.",
                                        n=rules.DETAILS_MAX))


def _when_field():
    return DateField(_l("When it happened"), validators=[Optional(), not_future],
                     description=_l("Leave empty if you do not know."))


class InformantTipForm(FlaskForm):
    """The house by door code, or by address within one of the informant's villages."""
    door_code = StringField(_l("Door code"), validators=[Optional(), Length(max=20)],
                            description=_l("The 8 characters under the QR code on the door, e.g. K7M3-Q9PX."))
    village = SelectField(_l("Village"), coerce=int, validate_choice=False, validators=[Optional()])
    group = StringField(_l("Group (组)"), validators=[Optional(), Length(max=32), _no_control_characters])
    number = StringField(_l("Door number (号)"), validators=[Optional(), Length(max=32), _no_control_characters])
    address_text = StringField(_l("Or describe the place"), validators=[Optional(), Length(max=128), _no_control_characters],
                               description=_l("If the door has no number: e.g. the lane and the building."))
    kind = _kind_field()
    happened_on = _when_field()
    details = _details_field()
    photo = FileField(_l("Photo (optional)"))

    def validate_door_code(self, field):
        if field.data and not is_valid_door_code(field.data):
            raise ValidationError(_l("That is not a door code: it has 8 characters, as printed under the QR code. Check it."))
        if field.data:
            field.data = normalise_door_code(field.data)

    def validate_village(self, field):
        if self.door_code.data:
            return  # the door code names the house, and so its village
        if field.data not in {choice.value for choice in field.choices}:
            raise ValidationError(_l("Choose one of your villages."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not (self.door_code.data or self.number.data or self.address_text.data):
            self.door_code.errors = list(self.door_code.errors) + [
                _l("Enter the door code, or the door number, or describe the place.")]
            valid = False
        return valid


class PublicTipForm(FlaskForm):
    """Anyone at the door: no house fields at all (the page is about this door), a contact phone."""
    kind = _kind_field()
    happened_on = _when_field()
    details = _details_field()
    contact_phone = StringField(_l("Your phone number"), validators=[InputRequired(_l("Enter a phone number we can call back.")),
                                                                      Length(max=20), phone],
                                description=_l("Only the staff who check this tip see it."))


class AssignForm(FlaskForm):
    worker = SelectField(_l("Collector"), coerce=int, validate_choice=False)


class VerifyForm(FlaskForm):
    outcome = RadioField(_l("What you found at the door"), choices=options((("valid", _l("The tip is right")),
                                                                            ("invalid", _l("The tip is not right"))), blank=False),
                         validators=[InputRequired(_l("Choose what you found."))])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=rules.NOTE_MAX), _no_control_characters],
                         description=_l("Required when the tip is not right: say what you found."))
    door_code = StringField(_l("Door code of the house you visited"), validators=[Optional(), Length(max=20)],
                            description=_l("Only needed when the tip named no known house."))

    def validate_door_code(self, field):
        if field.data and not is_valid_door_code(field.data):
            raise ValidationError(_l("That is not a door code: it has 8 characters, as printed under the QR code. Check it."))
        if field.data:
            field.data = normalise_door_code(field.data)


class ActionForm(FlaskForm):
    """Take / close: a button, CSRF only."""
