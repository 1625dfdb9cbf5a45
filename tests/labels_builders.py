"""Builders for blank door label tests (fieldapp/doors/labels.py)."""
from __future__ import annotations

from fieldapp.doors import labels
from fieldapp.extensions import db

from .sync_builders import house_new


def make_labels(village, count: int = 3, account_id=None):
    """A committed batch of unbound labels for `village`: (batch, [BlankLabel])."""
    batch, made = labels.issue(account_id, village.id, count)
    db.session.commit()
    return batch, made


def house_new_with_label(village_id, token: str, **kwargs) -> dict:
    """A phone's house.new that scanned a blank label while creating the house."""
    return {**house_new(village_id, **kwargs), "label_token": token}


def matrix_url_args(endpoint: str, target) -> dict | None:
    """URL arguments of the blank label routes for a permission-matrix target (None: not ours)."""
    if endpoint in ("doors.blank_labels", "doors.blank_labels_print"):
        return {"village_id": target.village}
    if endpoint == "doors.blank_sheet":
        batch, _made = labels.issue(None, target.village, 1)
        db.session.commit()
        return {"village_id": target.village, "batch": batch}
    return None
