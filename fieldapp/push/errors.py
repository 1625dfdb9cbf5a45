"""How an item of a push is refused or put aside, and the messages the phone shows for it."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

REJECT_MESSAGES = {
    "bad_item": _l("This item is damaged or incomplete and cannot be read. Record it again."),
    "invalid": _l("Some fields are not valid. Correct them and send again."),
    "forbidden": _l("Your collection ID may not change the registry."),
    "police_only": _l("Only the community police register people from abroad."),
    "out_of_scope": _l("This record is not in your villages."),
    "exists": _l("A record with this uid already exists. Register it again as a new record."),
    "uid_reused": _l("This item's uid was already used for different content. Send it again as a new item."),
    "bad_version": _l("This change does not say which version of the record it was made on. "
                      "Open the record again and redo your change."),
}


class Rejected(Exception):
    """The item is refused and nothing of it is applied. `code` names the reason (REJECT_MESSAGES,
    unless `reason` says it: a tip's own refusals use the tips' messages)."""

    def __init__(self, code: str, errors: dict | None = None, reason=None):
        super().__init__(code)
        self.code = code
        self.errors = errors or {}
        self.reason = reason

    def result(self, uid) -> dict:
        return {"uid": uid, "status": "rejected", "code": self.code,
                "reason": str(self.reason or REJECT_MESSAGES[self.code]),
                "errors": {k: [str(m) for m in v] for k, v in self.errors.items()}}


def bad_item(name: str) -> Rejected:
    """The item's `name` is missing or of the wrong kind."""
    return Rejected("bad_item", {name: [REJECT_MESSAGES["bad_item"]]})


@dataclass
class Hold(Exception):
    """Raised inside an item's apply: it refers to a record not received yet."""
    waits_for: str


@dataclass
class Outcome:
    """An applied item: `status` accepted | conflict | requested, the record it applied to (None for
    a move request: nothing was applied), and the fields kept for the reviewer."""
    status: str
    record: object
    conflicts: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # more for the item's result (a house.new's `label`)
