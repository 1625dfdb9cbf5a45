"""Field-level merge of a concurrent edit against the version it was based on.

Rule: an editor who started from version B submits values for some fields. Since B, other changes
may have touched fields of the same record. For each submitted field:
- untouched since B: the submitted value is applied;
- touched since B, and the editor left it as it was at B: the newer value stays (not a conflict);
- touched since B, and the editor's value equals the current value: nothing to do;
- touched since B, and the editor changed it to something else: a conflict on that field. Both
  values are kept side by side for a person to decide; neither silently wins.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MergeResult:
    apply: dict = field(default_factory=dict)  # field -> value to write now
    conflicts: dict = field(default_factory=dict)  # field -> {"base", "current", "submitted"}


def base_values(current: dict, changes_since_base: list[dict]) -> dict:
    """Reconstruct each touched field's value at the base version: the 'old' side of the first
    change after the base that touched it (changes given oldest first, each {field: [old, new]})."""
    base = {}
    for fields in changes_since_base:
        for name, (old, _new) in fields.items():
            base.setdefault(name, old)
    return {name: base.get(name, value) for name, value in current.items()}


def merge(current: dict, submitted: dict, changes_since_base: list[dict]) -> MergeResult:
    """Apply the rule in the module docstring. `current` holds the record's values now."""
    touched = {name for fields in changes_since_base for name in fields}
    base = base_values(current, changes_since_base)
    result = MergeResult()
    for name, value in submitted.items():
        now = current.get(name)
        if value == now:
            continue
        if name not in touched:
            result.apply[name] = value
        elif value != base.get(name):
            result.conflicts[name] = {"base": base.get(name), "current": now, "submitted": value}
    return result
