"""Who may do what. The matrix is data so tests can walk every role against every page.

Rules (from the seeds, see shared/domain.md "Who uses it"):
- Each village's users see only their own villages; town-level roles (admin, supervisor) see every
  village of their town.
- Only police collect and see people from abroad (境外人员): records with category 'abroad' and their
  changes are invisible to every other role, town-level ones included. Aggregate counts include them.
- Informants submit tips only; they never read the registry.
- Admins issue and revoke collection IDs and see progress, but do not read personal records:
  managing accounts does not need them (least privilege).
"""
from __future__ import annotations

ROLES = ("admin", "supervisor", "village_head", "reviewer", "collector", "police", "informant")

# Roles whose scope is the whole town rather than the villages on their collection ID.
TOWN_WIDE_ROLES = frozenset({"admin", "supervisor"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "registry.read": frozenset({"supervisor", "village_head", "reviewer", "collector", "police"}),
    "registry.write": frozenset({"reviewer", "collector", "police"}),
    "registry.police_only": frozenset({"police"}),
    "identifier.reveal": frozenset({"supervisor", "village_head", "reviewer", "collector", "police"}),
    "progress.view": frozenset({"admin", "supervisor", "village_head", "reviewer"}),
    "accounts.manage": frozenset({"admin"}),
    # Door labels: print sheets, retire and replace codes, import a house register.
    "doors.print": frozenset({"admin", "supervisor", "village_head"}),
    "doors.manage": frozenset({"admin", "supervisor"}),
    # Visits and door proof per collector and village.
    "visits.view": frozenset({"supervisor", "village_head", "reviewer", "police"}),
    # Tips: informants send them; collectors (and the other door-going roles) verify them as tasks;
    # village heads and supervisors oversee them (overdue ones stand out) and may reassign.
    "tips.submit": frozenset({"informant", "collector", "police", "village_head"}),
    "tips.work": frozenset({"collector", "reviewer", "police"}),
    "tips.oversee": frozenset({"supervisor", "village_head"}),
    # Badges (采集证): print them, with the holder's photo.
    "badges.manage": frozenset({"admin"}),
    # Campaigns and phases are data an admin edits.
    "campaigns.manage": frozenset({"admin"}),
    # Conflicts sync kept (a field two editors changed differently): the reviewer decides; police
    # decide those on the records only they see.
    "conflicts.resolve": frozenset({"reviewer", "police"}),
    # Move requests (迁入待核实): a document registered outside the submitter's villages is moved
    # only when a reviewer of both sides agrees (fieldapp/moves.py); police for people from abroad.
    "moves.review": frozenset({"reviewer", "police"}),
    # The entry desk (fieldapp/review/desk.py): approve collected changes or return them to their
    # collector, merge duplicates, clear fabrication flags. The entry clerk (信息录入人员, reviewer) for
    # everything; police for people from abroad, the records only they see.
    "entries.review": frozenset({"reviewer", "police"}),
    # Fabrication flags (fieldapp/flags): the desk's roles clear them (entries.review); the list of a
    # village's open flags and the flags on the house page are also for those who answer for the
    # village's work: village heads and the town (supervisors) see where records may be made up and
    # talk to the collector. Collectors and informants do not see them: a flag names how fabrication
    # is caught, and the one flagged must not learn to dodge it.
    "flags.view": frozenset({"supervisor", "village_head", "reviewer", "police"}),
    # The live dashboard and the map (village heads: their own village only, by scope).
    "dashboard.view": frozenset({"admin", "supervisor", "village_head", "reviewer", "police"}),
    # Importing existing people and organisation registers (fieldapp/imports): the entry clerk
    # (信息录入人员, reviewer) whose job is entering and deduplicating records, the street office /
    # town (supervisor) that holds the old registers, and police (the only ones who may bring in people
    # from abroad). Not admins (they do not read personal records), not collectors (door work, not
    # bulk entry), not village heads (oversight, no writes), not informants.
    "registers.import": frozenset({"supervisor", "reviewer", "police"}),
    # The audit log (/audit): who did what, who read whose data. Town-level oversight only.
    "audit.view": frozenset({"admin", "supervisor"}),
    # Photos of people, houses and tips (fieldapp/photoview): whoever reads the record reads its
    # photos, within the same scope. Not admins (they manage IDs and print badges with staff
    # portraits, never residents' records) nor informants (they send tip photos, never read them).
    "photos.view": frozenset({"supervisor", "village_head", "reviewer", "collector", "police"}),
    # Setting up the town (villages, sub-areas, quotas, the set-up workbook): data an admin keeps,
    # like campaigns; no personal data is read.
    "town.manage": frozenset({"admin"}),
    # Assigning collectors and informants to sub-areas: the village head (seed 000: 居民区书记 assigns
    # areas) for their villages; the admin for the whole town when it is set up.
    "town.assign": frozenset({"admin", "village_head"}),
    # Printed forms (fieldapp/prints): the 信息采集表 of a house, one or a village / sub-area at a
    # time, for signatures and the paper archive. Seed 000: the entry clerk (reviewer) checks and
    # archives the forms, village heads and the town (supervisors) check them, police print their
    # own (people from abroad, by scope). Collectors enter on the phone and print nothing: a batch
    # print is a read of a whole village.
    "prints.registry": frozenset({"supervisor", "village_head", "reviewer", "police"}),
    # An informant's 信息提供情况登记表 (tips and the reward basis over a period): those who oversee
    # tips and pay the rewards (tips.oversee).
    "prints.tips": frozenset({"supervisor", "village_head"}),
    # Exports (fieldapp/exports): files of a village's or the town's records, masked. The roles that
    # oversee or check records in bulk; not collectors (they work door to door, one house at a
    # time), informants or admins (no personal records at all).
    "exports.download": frozenset({"supervisor", "village_head", "reviewer", "police"}),
    # Unmasked exports: full document and phone numbers of many people in one file, the data a
    # leak would cost most. Only for the two roles that hand the registry to the public-security
    # platform: police (the platform is theirs; they also see people from abroad) and supervisors
    # (the street office / town, accountable for the town's figures). Village heads and reviewers
    # may reveal one person's numbers on screen (identifier.reveal) but not a whole village's in a
    # file. Each unmasked export needs a stated reason and is audited with its row count.
    "exports.unmasked": frozenset({"supervisor", "police"}),
}

POLICE_ONLY_CATEGORIES = frozenset({"abroad"})


def can(role: str, permission: str) -> bool:
    """True if `role` holds `permission`. Unknown permissions are denied, never allowed."""
    return role in PERMISSIONS.get(permission, frozenset())


def is_town_wide(role: str) -> bool:
    """Town-wide roles see every village of their town; others only the villages on their ID."""
    return role in TOWN_WIDE_ROLES


def may_see_category(role: str, category: str) -> bool:
    """People from abroad are police-only; every other category follows the village scope."""
    return category not in POLICE_ONLY_CATEGORIES or can(role, "registry.police_only")
