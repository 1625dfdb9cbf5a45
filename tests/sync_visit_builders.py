"""Builders for visit items (docs/sync-protocol.md, visit.new)."""
from __future__ import annotations

from .sync_builders import new_uid


def visit_new(house_uid, method="scan", lat=None, lon=None, accuracy_m=None, at="2016-05-02T09:00:00Z", uid=None):
    return {"uid": uid or new_uid(), "op": "visit.new", "house_uid": house_uid, "method": method, "at": at,
            "lat": lat, "lon": lon, "accuracy_m": accuracy_m}
