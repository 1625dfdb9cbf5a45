"""Collection campaigns: phases, targets and progress against quotas.

A campaign (专项行动) runs from ``start`` to ``end`` and contains ordered,
non-overlapping collection phases. Each phase has a cumulative target share
of every village's quota that is due by the phase's last day (inclusive).
All arithmetic on shares is exact (``fractions.Fraction``): in binary floating
point ``0.07 * 100 == 7.000000000000001``, whose ceiling would wrongly be 8.

Pure functions and frozen dataclasses: no Flask, no database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

Share = Decimal | float | Fraction | int

STATUS_DONE = "done"
STATUS_ON_TRACK = "on_track"
STATUS_BEHIND = "behind"
STATUS_NOT_STARTED = "not_started"


def _exact(share: Share) -> Fraction:
    # str() of a float is its shortest round-trip repr ("0.6"), which is
    # what the person who typed the policy meant, not 0.59999999999999998.
    if isinstance(share, float):
        return Fraction(str(share))
    return Fraction(share)


@dataclass(frozen=True)
class Phase:
    """A collection phase: ``target_share`` of the quota is due by ``end``.

    ``start`` and ``end`` are both inclusive. ``target_share`` is cumulative
    (phase 2's 100% includes phase 1's 60%) and stored as a ``Decimal``.
    """

    name: str
    start: date
    end: date
    target_share: Decimal

    def __post_init__(self) -> None:
        share = self.target_share
        if isinstance(share, float):
            share = Decimal(str(share))
        object.__setattr__(self, "target_share", Decimal(share))
        if self.end < self.start:
            raise ValueError(f"phase {self.name!r} ends before it starts")
        if not 0 <= self.target_share <= 1:
            raise ValueError(f"phase {self.name!r}: target_share must be in 0..1")

    def contains(self, today: date) -> bool:
        return self.start <= today <= self.end

    @property
    def length_days(self) -> int:
        """Calendar days in the phase, both ends included."""
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Campaign:
    """A campaign with ordered, non-overlapping phases inside [start, end]
    and non-decreasing cumulative targets."""

    name: str
    start: date
    end: date
    phases: tuple[Phase, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "phases", tuple(self.phases))
        if self.end < self.start:
            raise ValueError(f"campaign {self.name!r} ends before it starts")
        if not self.phases:
            raise ValueError(f"campaign {self.name!r} has no phases")
        for phase in self.phases:
            if phase.start < self.start or phase.end > self.end:
                raise ValueError(f"phase {phase.name!r} lies outside the campaign")
        for before, after in zip(self.phases, self.phases[1:]):
            if after.start <= before.end:
                raise ValueError(f"phases {before.name!r} and {after.name!r} overlap or are out of order")
            if after.target_share < before.target_share:
                raise ValueError(f"phase {after.name!r} has a lower target than {before.name!r}")


# Yuping town 2016 (余政发[2016]28号, seeds/003). The seed's stages share
# their boundary days: mobilisation "4月10日—4月27日", collection
# "4月27日—6月30日", assessment "6月30日—9月25日". The seed resolves 04-27
# explicitly by stating phase 1 runs "4月27日至5月25日", so 04-27 is a
# collection day (collecting may start the day mobilisation ends), and phase 2
# "5月26日至6月30日" makes 06-30 the last collection day, on which 100% is due.
# The campaign ends "10月底", i.e. 10-31.
YUPING_2016 = Campaign(
    name="余坪镇“三实”信息采集专项行动 2016",
    start=date(2016, 4, 10),
    end=date(2016, 10, 31),
    phases=(
        Phase("集中采集第一阶段", date(2016, 4, 27), date(2016, 5, 25), Decimal("0.6")),
        Phase("集中采集第二阶段", date(2016, 5, 26), date(2016, 6, 30), Decimal("1")),
    ),
)


def current_phase(campaign: Campaign, today: date) -> Phase | None:
    """The phase whose [start, end] contains ``today``, or None (before,
    between or after the phases)."""
    for phase in campaign.phases:
        if phase.contains(today):
            return phase
    return None


def _share_due(campaign: Campaign, today: date) -> Fraction:
    # See target_share_on for the rule; exact so target_count can ceil it.
    phase = current_phase(campaign, today)
    if phase is not None:
        return _exact(phase.target_share)
    if today > campaign.phases[-1].end:
        return Fraction(1)
    # Before the first phase (0) or in a gap (the earlier phase's target).
    return _exact(_previous_target(campaign, today))


def _previous_target(campaign: Campaign, today: date) -> Share:
    # Target of the last phase that ended before today (0 if none).
    done = [p.target_share for p in campaign.phases if p.end < today]
    return done[-1] if done else 0


def target_share_on(campaign: Campaign, today: date) -> float:
    """Share of the quota due by the end of the phase containing ``today``.

    * Inside a phase: that phase's (cumulative) target share.
    * Before the first phase: 0.0 (nothing is due yet).
    * Between two phases: the earlier phase's target (already due).
    * After the last phase: 1.0: once the collection stage is over the
      registry must be complete (the seed's goal is 100% coverage),
      whatever the last phase's own target says.
    """
    return float(_share_due(campaign, today))


def target_count(quota: int, share: Share) -> int:
    """Number of records needed to reach ``share`` of ``quota``, rounded UP.

    Ceil because a target such as "完成任务数60%" is a minimum: 60% of 441 is
    264.6, and 264 records would be only 59.9%. 265 is the smallest count
    that meets the target. Computed exactly (no float error).
    """
    if quota < 0:
        raise ValueError("quota must be >= 0")
    return math.ceil(_exact(share) * quota)


def days_left_in_phase(campaign: Campaign, today: date) -> int | None:
    """Calendar days left in the current phase, INCLUDING today.

    1 on the phase's last day (today is still usable), ``length_days`` on its
    first day, None outside any phase. Calendar days, not working days,
    because the phases are set as calendar dates and door-to-door collection
    also happens on evenings and weekends, when people are at home.
    """
    phase = current_phase(campaign, today)
    if phase is None:
        return None
    return (phase.end - today).days + 1


def expected_count(quota: int, campaign: Campaign, today: date) -> int:
    """Records a village should have by the END of ``today``.

    Inside phase k (days numbered i = 1 on ``start`` .. L on ``end``, with
    L = ``length_days``), the expected share rises linearly from the previous
    phase's target T(k-1) (0 for the first phase) to this phase's T(k):

        share(today) = T(k-1) + (T(k) - T(k-1)) * i / L
        expected     = ceil(share(today) * quota)

    So on the last day of a phase (i = L) the expectation is exactly
    ``ceil(T(k) * quota)``, e.g. ``ceil(0.6 * quota)`` on 2016-05-25, and on
    the first day it is already one day's share (it is judged against the
    end of today). Before the first phase: 0. Between phases: the earlier
    phase's target. After the last phase: the whole quota.
    """
    phase = current_phase(campaign, today)
    if phase is None:
        return target_count(quota, _share_due(campaign, today))
    base = _exact(_previous_target(campaign, phase.start))
    goal = _exact(phase.target_share)
    day_index = (today - phase.start).days + 1
    share = base + (goal - base) * Fraction(day_index, phase.length_days)
    return target_count(quota, share)


def progress_status(collected: int, quota: int, campaign: Campaign, today: date) -> str:
    """One of 'done', 'not_started', 'on_track', 'behind', checked in that order.

    * 'done': ``collected >= quota`` (also before the campaign; a quota of 0
      is always done).
    * 'not_started': ``today`` is before the first phase starts.
    * 'on_track': ``collected >= expected_count(quota, campaign, today)``
      (see there for the linear formula and boundary days).
    * 'behind': otherwise, including any day after the last phase while
      the quota is not met.

    ``quota`` must be an int >= 0; a missing quota (None) raises ValueError,
    since there is nothing to measure against (use :func:`percent`, which
    returns None for it).
    """
    if quota is None or quota < 0:
        raise ValueError(f"quota must be an int >= 0, got {quota!r}")
    if collected >= quota:
        return STATUS_DONE
    if today < campaign.phases[0].start:
        return STATUS_NOT_STARTED
    if collected >= expected_count(quota, campaign, today):
        return STATUS_ON_TRACK
    return STATUS_BEHIND


def percent(collected: int, quota: int | None) -> float | None:
    """``100 * collected / quota``, or None when the quota is 0 or None.

    Never divides by zero. Not capped: over-collection (more people found
    than the quota assumed) shows as more than 100. Not rounded: that is
    the display's job.
    """
    if not quota:
        return None
    return 100 * collected / quota
