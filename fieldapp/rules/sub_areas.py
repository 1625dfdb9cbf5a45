"""Sub-areas (片区/楼组) and what a collector's work package holds.

Rules:
- A town's setting (Town.package_by_sub_area) decides whether work packages follow sub-area
  assignments at all; it is off by default (the whole village, as before sub-areas existed).
- When it is on, a door-going account (collector, community police) assigned to sub-areas gets only
  the houses of those sub-areas, with their people and organisations, **plus the village's houses
  that are in no sub-area**: nobody else would have them on a phone, and a house not yet sorted into
  a sub-area must still be visited. A collector with no sub-area gets the whole of their villages.
- Other roles (reviewers, village heads, supervisors) always get their whole villages.
- The limit is on the package only: the collector may still register and edit any house of their
  villages (a house found at the door is never refused because it lies across a sub-area line).
- Informants are assigned to building groups (楼组), one per building group as seed 000 has them;
  their packages hold no records either way.
"""
from __future__ import annotations

PACKAGE_LIMITED_ROLES = frozenset({"collector", "police"})


def package_sub_areas(role: str, town_setting: bool, assigned: list[int] | set[int]) -> frozenset[int] | None:
    """The sub-area ids a work package is limited to (houses with no sub-area always come too), or
    None for the whole villages."""
    if not town_setting or role not in PACKAGE_LIMITED_ROLES or not assigned:
        return None
    return frozenset(assigned)


def assignable_kinds(role: str) -> tuple[str, ...]:
    """Sub-area kinds an account of `role` may be assigned to: informants building groups only."""
    return ("building_group",) if role == "informant" else ("area", "building_group")
