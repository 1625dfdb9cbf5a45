"""A flag's reason in words, with its figures, in the reader's language (Chinese first).

Each kind names the detail keys its full sentence needs. A flag whose detail lacks one of them (or
holds something that is not a number where a number belongs) still gets its kind's short sentence,
and a kind this code does not know gets a generic one naming the kind: a page never fails on a flag.
"""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

# kind -> (detail keys the full sentence needs, the short sentence without figures)
SHORT = {
    "no_scan": ((), _l("No scanned visit to this door for this record.")),
    "gps_far": (("distance_m", "accuracy_m", "limit_m"), _l("GPS position far from the house.")),
    "impossible_pace": (("distance_m", "minutes", "speed_kmh"),
                        _l("Consecutive visits farther apart than walking allows.")),
    "doc_two_addresses": (("days",), _l("The same document number was submitted at another address.")),
    "phone_many_people": (("count",), _l("One phone number is on many unrelated people.")),
    "tip_self_verified": ((), _l("A tip was verified by the informant who sent it.")),
    "informant_one_collector": (("tips",),
                                _l("All of this informant's tips went to one collector and were all valid.")),
    "identical_burst": (("count", "minutes"), _l("A burst of records with identical values.")),
    "consecutive_ids": (("count",), _l("Records with consecutive ID numbers.")),
    "far_outside_village": (("distance_m",), _l("Recorded far outside the village.")),
    "night": (("hour",), _l("Recorded at night.")),
    "duplicate_house": ((), _l("Another house is registered at the same address.")),
}
KINDS = tuple(SHORT)


def _whole(value) -> int:
    return int(round(float(value)))


def _full(kind: str, d: dict) -> str:
    if kind == "gps_far":
        return _("GPS position %(distance)s m from the house (reported accuracy %(accuracy)s m, limit %(limit)s m).",
                 distance=_whole(d["distance_m"]), accuracy=_whole(d["accuracy_m"]), limit=_whole(d["limit_m"]))
    if kind == "impossible_pace":
        return _("Consecutive visits %(distance)s m apart in %(minutes)s minutes (%(speed)s km/h): faster than walking.",
                 distance=_whole(d["distance_m"]), minutes=_whole(d["minutes"]),
                 speed=f"{float(d['speed_kmh']):.1f}")
    if kind == "doc_two_addresses":
        return _("The same document number was submitted at another address within %(days)s days.",
                 days=_whole(d["days"]))
    if kind == "phone_many_people":
        return _("One phone number is on %(count)s unrelated people.", count=_whole(d["count"]))
    if kind == "informant_one_collector":
        return _("All %(tips)s tips of this informant went to one collector and were all valid.",
                 tips=_whole(d["tips"]))
    if kind == "identical_burst":
        return _("%(count)s records with identical values within %(minutes)s minutes.",
                 count=_whole(d["count"]), minutes=_whole(d["minutes"]))
    if kind == "consecutive_ids":
        return _("%(count)s records with consecutive ID numbers.", count=_whole(d["count"]))
    if kind == "far_outside_village":
        return _("Recorded %(distance)s m outside the village.", distance=_whole(d["distance_m"]))
    if kind == "night":
        return _("Recorded at night (%(hour)s o'clock).", hour=_whole(d["hour"]))
    return str(SHORT[kind][1])


def describe(flag) -> str:
    """`flag`'s reason as one sentence with its figures (see the module doc for the fallbacks)."""
    kind, detail = flag.kind, flag.detail if isinstance(flag.detail, dict) else {}
    if kind not in SHORT:
        return _("Flagged for a reviewer's look (%(kind)s).", kind=str(kind or "?"))
    needs, short = SHORT[kind]
    if any(detail.get(key) is None for key in needs):
        return str(short)
    try:
        return _full(kind, detail)
    except (TypeError, ValueError, OverflowError):
        return str(short)


def kind_name(kind: str) -> str:
    """A kind's name for the filter (its short sentence)."""
    return str(SHORT[kind][1]) if kind in SHORT else kind
