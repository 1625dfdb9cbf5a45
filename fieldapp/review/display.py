"""How a conflict's values read on screen: names of codes instead of codes, masked numbers."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .. import scope
from ..extensions import db
from ..models import Account, Organisation
from ..registry.forms import CHANGE_FIELD_LABELS, HouseForm, OrganisationForm, PersonForm
from ..rules.identifiers import mask_id, mask_phone

# Masked unless revealed (the data is confidential; a reveal is audited like the person page's).
PHONE_FIELDS = frozenset({"phone", "owner_phone", "tenant_phone"})
ID_FIELDS = frozenset({"id_number"})
STATUS_LABELS = {"living": _l("Living here"), "left": _l("Left"), "open": _l("Open"), "closed": _l("Closed"),
                 "merged": _l("Merged into another record")}


class Shown:
    """Renders the values of one account's conflict list in the UI language."""

    def __init__(self, account: Account, lang: str):
        self.account = account
        person = PersonForm(formdata=None, meta={"csrf": False})
        person.setup(lang, police=True)  # every category may be named: the record is visible already
        self._forms = {"house": HouseForm(formdata=None, meta={"csrf": False}), "person": person,
                       "organisation": OrganisationForm(formdata=None, meta={"csrf": False})}
        self._employers: dict[int, str] = {}

    @staticmethod
    def label(name: str) -> str:
        return str(CHANGE_FIELD_LABELS.get(name, name))

    @staticmethod
    def is_identifier(name: str) -> bool:
        return name in PHONE_FIELDS or name in ID_FIELDS

    def value(self, entity: str, name: str, value, revealed: bool = False) -> str:
        """`value` (as stored in a Conflict: JSON) as the UI shows it; "—" for none."""
        if value is None or value == "":
            return "—"
        if name in PHONE_FIELDS and not revealed:
            return mask_phone(value)
        if name in ID_FIELDS and not revealed:
            return mask_id(value)
        if isinstance(value, bool):
            return str(_l("Yes") if value else _l("No"))
        if name == "status":
            return str(STATUS_LABELS.get(value, value))
        if name == "employer_id":
            return self._employer(value)
        field = getattr(self._forms.get(entity), name, None)
        for choice in getattr(field, "choices", None) or ():
            code, label = (choice.value, choice.label) if hasattr(choice, "value") else choice[:2]
            if code != "" and str(code) == str(value):
                return str(label)
        return str(value)

    def _employer(self, org_id) -> str:
        """The employer's name, if the account may see that organisation (asked once per id)."""
        if org_id not in self._employers:
            self._employers[org_id] = db.session.scalar(
                scope.organisations(self.account).where(Organisation.id == org_id)
                .with_only_columns(Organisation.name)) or "—"
        return self._employers[org_id]

