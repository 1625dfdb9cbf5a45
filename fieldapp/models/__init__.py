"""All models, importable from one place; each area keeps its own module."""
from ._base import new_uid, utcnow
from .accounts import Account, LoginSession, LoginThrottle, account_sub_areas, account_villages
from .activity import AuditEvent, Change, VillageCounter
from .field import DashboardEvent, RetiredDoorCode, Tip, Visit
from .labels import BlankLabel
from .places import SUB_AREA_KINDS, Campaign, Phase, SubArea, Town, Village
from .moves import MoveRequest
from .progress import CollectorDay, ReviewerDay, VillageDay
from .registry import House, Organisation, Person, Residence
from .review import Flag
from .sync import Conflict, Device, Photo, SyncReceipt

__all__ = [
    "Account", "AuditEvent", "BlankLabel", "Campaign", "Change", "CollectorDay", "Conflict", "DashboardEvent", "Device", "Flag", "House", "LoginSession", "LoginThrottle",
    "MoveRequest", "Organisation", "Person", "Phase",
    "Photo", "Residence", "ReviewerDay", "RetiredDoorCode", "SUB_AREA_KINDS", "SubArea", "SyncReceipt", "Tip", "Visit", "Town", "Village", "VillageCounter", "VillageDay", "account_sub_areas", "account_villages", "new_uid", "utcnow",
]
