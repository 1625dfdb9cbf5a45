"""All models, importable from one place; each area keeps its own module."""
from ._base import new_uid, utcnow
from .accounts import Account, account_villages
from .activity import AuditEvent, Change, VillageCounter
from .places import Campaign, Phase, Town, Village
from .registry import House, Organisation, Person, Residence

__all__ = [
    "Account", "AuditEvent", "Campaign", "Change", "House", "Organisation", "Person", "Phase",
    "Residence", "Town", "Village", "VillageCounter", "account_villages", "new_uid", "utcnow",
]
