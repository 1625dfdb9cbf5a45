"""All models, importable from one place; each area keeps its own module."""
from ._base import new_uid, utcnow
from .accounts import Account, account_villages
from .activity import AuditEvent, Change, VillageCounter
from .places import Campaign, Phase, Town, Village
from .registry import House, Organisation, Person, Residence
from .sync import Conflict, Device, Photo, SyncReceipt

__all__ = [
    "Account", "AuditEvent", "Campaign", "Change", "Conflict", "Device", "House", "Organisation", "Person", "Phase",
    "Photo", "Residence", "SyncReceipt", "Town", "Village", "VillageCounter", "account_villages", "new_uid", "utcnow",
]
