"""Identity checks the entry desk shows beside a person (seed 000: the entry clerk checks identity
and completeness, and dedups: update, never duplicate).

Rules:
- A resident ID (身份证, id_type 111) encodes the birth date (characters 7-14) and the sex (the 17th
  character: odd men, even women). What was entered must agree; an ID that does not validate is
  reported as such rather than compared.
- Two person records may be one person when they share the name and the birth date, or the phone
  number. Either alone is a hint for a reviewer, never a merge: families share a phone, and common
  names share birthdays.
Pure: no Flask, no database.
"""
from __future__ import annotations

from datetime import date

from .identifiers import IdentifierError, resident_id_birth_date, resident_id_sex

RESIDENT_ID = "111"


def id_mismatches(id_type: str | None, id_number: str | None, sex: str | None, birth_date: date | None) -> dict:
    """What the resident ID says against what was entered: {'birth_date': (from ID, entered),
    'sex': (from ID, entered)} for each that differs, {'invalid': True} for a number that does not
    validate, {} when all agree or the document is not a resident ID."""
    if id_type != RESIDENT_ID or not id_number:
        return {}
    try:
        born, coded = resident_id_birth_date(id_number), str(resident_id_sex(id_number))
    except IdentifierError:
        return {"invalid": True}
    out = {}
    if birth_date is not None and birth_date != born:
        out["birth_date"] = (born, birth_date)
    if sex and str(sex) != coded:
        out["sex"] = (coded, str(sex))
    return out


def duplicate_reasons(person: dict, other: dict) -> list[str]:
    """Why `other` may be the same person as `person` (each a dict with name, birth_date, phone):
    'name_birth' when both name (spaces ignored) and birth date are equal and known, 'phone' when the
    phone number is equal and known. Empty: no reason to think so."""
    reasons = []

    def name(p):
        return "".join((p.get("name") or "").split())

    if name(person) and name(person) == name(other) and person.get("birth_date") \
            and person.get("birth_date") == other.get("birth_date"):
        reasons.append("name_birth")
    phone = (person.get("phone") or "").strip()
    if phone and phone == (other.get("phone") or "").strip():
        reasons.append("phone")
    return reasons
