"""Merging two records of one person, or two houses at one address (fieldapp/merging.py does it).

Rules:
- The reviewer names the record kept and the other one; both must be in the reviewer's scope.
- For each field where the two differ, the reviewer chooses whose value the kept record takes
  (default: the kept record's own, or the other's where the kept one is empty). A person's
  document (id_type, id_number) is not chosen: it names the kept record.
- Nothing is deleted: the other record stays with status 'merged' (a person) or merged_into_id
  set (a house), its history stays on it, and both pages show the combined history.
- A person: the kept record is living if either was (it takes the other's current home when only
  the other lived somewhere); the other no longer counts.
"""
from __future__ import annotations

NOT_CHOSEN = ("id_type", "id_number")


def differing_fields(keep: dict, other: dict, names) -> list[str]:
    """The fields (in `names` order) whose values differ, documents excepted."""
    return [n for n in names if n not in NOT_CHOSEN and keep.get(n) != other.get(n)]


def default_choice(keep_value, other_value) -> str:
    """'other' when only the other record has a value, else 'keep'."""
    return "other" if keep_value in (None, "") and other_value not in (None, "") else "keep"


def chosen_values(keep: dict, other: dict, names, choices: dict) -> dict:
    """The values the kept record takes: {field: other's value} for every differing field whose
    choice (choices[field], else default_choice) is 'other'."""
    out = {}
    for name in differing_fields(keep, other, names):
        choice = choices.get(name) or default_choice(keep.get(name), other.get(name))
        if choice == "other":
            out[name] = other.get(name)
    return out


def merged_living(keep_status: str, other_status: str) -> bool:
    """The kept person lives somewhere after the merge if either record did."""
    return "living" in (keep_status, other_status)
