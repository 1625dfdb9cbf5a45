"""A house's state on the progress map: one of four, so a supervisor sees where to send people.

Rules (issue 5, "Map"):
- not_visited: no Visit row for the house (no collector has opened it at the door yet).
- visited: at least one Visit, and nothing below applies.
- tip: an open tip (a Tip in state new or assigned) names the house: a collector must go there.
- flagged: the house needs a reviewer's look. Precisely, either
  (a) an unresolved Conflict (resolved_at is NULL) on the house itself, or on a person whose current
      residence is the house (for a viewer who may not see people from abroad, conflicts on them
      do not count: the flag would reveal them), or
  (b) a record collected without door proof at this door: a Change with door_proof false collected
      under one of the house's visits that was not opened by scanning the door label. Door proof
      is a scanned visit (models.field.Visit.is_door_proof), so only the non-scan visits (typed
      code or picked from a list, the minority) are looked up: this keeps the flag cheap, or
  (c) an open fabrication flag (models.review.Flag, cleared_at NULL) on the house or one of its
      records (issue 12; flags on people from abroad count for police alone, as the people do).
      One query per set of villages on the flags(village_id, cleared_at) index, never per house.
- When several apply, the most urgent wins: flagged > tip > visited > not_visited.
"""
from __future__ import annotations

STATES = ("not_visited", "visited", "tip", "flagged")
NOT_VISITED, VISITED, TIP, FLAGGED = range(4)  # indexes into STATES: what the points JSON carries
OPEN_TIP_STATES = ("new", "assigned")


def state_of(visited: bool, open_tip: bool, flagged: bool) -> int:
    """The house's state index: flagged beats an open tip, which beats visited (see module doc)."""
    if flagged:
        return FLAGGED
    if open_tip:
        return TIP
    return VISITED if visited else NOT_VISITED


def states_by_house(visited: set[int], open_tip: set[int], flagged: set[int]) -> dict[int, int]:
    """state_of() for many houses at once, by the same precedence: later sets overwrite earlier
    ones. A house in none of the sets is absent: NOT_VISITED."""
    out = dict.fromkeys(visited, VISITED)
    out.update(dict.fromkeys(open_tip, TIP))
    out.update(dict.fromkeys(flagged, FLAGGED))
    return out
