"""Permission-matrix targets of the merge pages (fieldapp/review/merge_views.py)."""
from __future__ import annotations

from fieldapp.extensions import db
from fieldapp.models import House

from .builders import make_house


def add_merge_targets(world) -> None:
    """A second house in each target's village (the other house of /review/houses/merge)."""
    made = {}
    for key in ("own", "west", "town2"):
        target = world.targets[key]
        made[key] = make_house(db.session.get(House, target.house).village, number="2", group="1",
                               collected=True).id
        target.dup_house = made[key]
    world.targets["abroad"].dup_house = made["own"]


def matrix_url_args(endpoint: str, target) -> dict | None:
    if endpoint == "review.merge_people":
        return {"keep": target.person, "other": target.leaver}
    if endpoint == "review.merge_houses":
        return {"keep": target.house, "other": target.dup_house}
    return None
