"""Checks for a campaign being edited: what rules.campaign.Campaign requires, reported per field
so a form can say which phase and which field to fix (instead of one exception for the first fault).

Pure: dates and Decimals in, a list of (phase index or None for the campaign, field, problem) out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

CAMPAIGN_ENDS_BEFORE_START = "campaign_ends_before_start"
NO_PHASES = "no_phases"
PHASE_ENDS_BEFORE_START = "phase_ends_before_start"
PHASE_OUTSIDE_CAMPAIGN = "phase_outside_campaign"
PHASES_OVERLAP = "phases_overlap"
SHARE_OUT_OF_RANGE = "share_out_of_range"
SHARE_NOT_INCREASING = "share_not_increasing"


@dataclass(frozen=True)
class Draft:
    name: str
    start: date
    end: date
    share: Decimal  # 0..1, cumulative


def check(start: date, end: date, phases: list[Draft]) -> list[tuple[int | None, str, str]]:
    """Problems with a campaign [start, end] and its phases, in the order given (sorted by start by
    the caller). The rules:

    * the campaign ends on or after its start; it has at least one phase;
    * each phase ends on or after its start and lies inside the campaign (both ends inclusive);
    * phases do not overlap: each starts after the previous one's last day;
    * each share is more than 0 and at most 1 (100%), and shares strictly increase from phase to
      phase (a phase that adds nothing to the target is a mistake; the last one is usually 100%).
    """
    problems: list[tuple[int | None, str, str]] = []
    if end < start:
        problems.append((None, "end_date", CAMPAIGN_ENDS_BEFORE_START))
    if not phases:
        problems.append((None, "phases", NO_PHASES))
    for i, phase in enumerate(phases):
        if phase.end < phase.start:
            problems.append((i, "end_date", PHASE_ENDS_BEFORE_START))
        if phase.start < start or phase.end > end:
            problems.append((i, "start_date" if phase.start < start else "end_date", PHASE_OUTSIDE_CAMPAIGN))
        if not Decimal(0) < phase.share <= Decimal(1):
            problems.append((i, "target_percent", SHARE_OUT_OF_RANGE))
        if i:
            before = phases[i - 1]
            if phase.start <= before.end:
                problems.append((i, "start_date", PHASES_OVERLAP))
            if phase.share <= before.share:
                problems.append((i, "target_percent", SHARE_NOT_INCREASING))
    return problems
