"""Informant tips (信息提供情况登记): kinds, deadline, life cycle, who may move a tip on.

Rules (seeds/000, "信息流转": tips from informants and residents are checked at the door by the
village's collectors; a change must be collected "在3个工作日内"):

* Kinds: move_in, move_out, new_rental, group_rental, org_opened, org_closed, other.
* Deadline. A tip is due 3 working days after the day it ARRIVED at the server, counted in China's
  local time (Asia/Shanghai), not in UTC: a tip received at 23:30 on Monday Beijing time arrived on
  Monday. The day of arrival is never counted (as in Civil Code art. 201: a period counted in days
  starts on the next day); day 1 is the first working day after it, and the tip is due at the end of
  day 3 (``due_on`` is inclusive). The local day is the town's calendar day (rules/days.py).
  Working days skip weekends and public holidays and include make-up working days (调休), per
  rules.workdays. So a tip arriving on a Monday is due Thursday, on a
  Friday or Saturday due the next Wednesday. The day the sender says the change happened does not
  move the deadline: the clock starts when the town learns of it.
* Overdue: not yet verified (state new or assigned) and today (local) is after ``due_on``.
* Life cycle: new -> assigned -> valid | invalid -> closed.

  ======== ================== ====================================================================
  action   from               who
  ======== ================== ====================================================================
  take     new                a holder of tips.work in the tip's village takes it for themselves
  assign   new, assigned      a holder of tips.oversee (village head, supervisor) in scope hands it
                              to a tips.work holder of the tip's village (re-assigning is allowed
                              until it is verified)
  valid    assigned           only the assignee, and only after visiting the door (a visit by them
  invalid  assigned           to that house at or after the tip arrived); invalid needs a note
                              saying what they found
  close    valid, invalid     a holder of tips.oversee in scope
  ======== ================== ====================================================================

  Nothing else is allowed: in particular a verified or closed tip is never re-opened (the reward
  facts depend on it), and a new tip cannot be verified before someone has taken it.

Pure functions: no Flask, no database.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from .days import local_day
from .permissions import can
from .workdays import COLLECT_LIMIT_WORKING_DAYS, add_working_days, working_days_between

KINDS = ("move_in", "move_out", "new_rental", "group_rental", "org_opened", "org_closed", "other")
STATES = ("new", "assigned", "valid", "invalid", "closed")
OPEN_STATES = frozenset({"new", "assigned"})  # not yet verified: these can be overdue
VERIFIED_STATES = frozenset({"valid", "invalid"})

DUE_WORKING_DAYS = COLLECT_LIMIT_WORKING_DAYS  # 3

DETAILS_MAX = 1000  # characters: enough for what a paper 登记表 holds, short enough to stop junk
NOTE_MAX = 255  # the collector's note (Tip.verify_note)

# Public tips (from a door's page, no sign-in): counted in the database, so every worker process
# enforces the same limits.
PUBLIC_PER_SENDER_PER_HOUR = 5
PUBLIC_PER_DOOR_PER_DAY = 20

# action -> (states it may start from, state it leads to, permission it needs)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "take": (frozenset({"new"}), "assigned", "tips.work"),
    "assign": (frozenset({"new", "assigned"}), "assigned", "tips.oversee"),
    "valid": (frozenset({"assigned"}), "valid", "tips.work"),
    "invalid": (frozenset({"assigned"}), "invalid", "tips.work"),
    "close": (frozenset({"valid", "invalid"}), "closed", "tips.oversee"),
}


class TipRuleError(Exception):
    """A refused transition; `code` names the reason: forbidden (the role may not), not_assignee,
    wrong_state (the tip is no longer in a state the action starts from), no_visit, note_required,
    not_a_worker (an assign target who cannot work tips of that village)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def due_on(received_at: datetime, limit: int = DUE_WORKING_DAYS) -> date:
    """Last day (inclusive) to verify a tip that arrived at `received_at` (naive UTC): the `limit`-th
    working day after the local day of arrival, that day itself not counted (module docstring)."""
    return add_working_days(local_day(received_at), limit)


def is_overdue(state: str, due: date, today: date) -> bool:
    """Not yet verified (new or assigned) and the due day has passed. On the due day itself a tip is
    still on time."""
    return state in OPEN_STATES and today > due


def working_days_left(due: date, today: date) -> int:
    """Working days left up to and including the due day, counted from tomorrow: 0 on the due day
    (the last day), 1 the working day before it, and so on. Negative once overdue: minus the working
    days since the due day (a tip due Friday is -1 on Monday). Weekend days in between don't count."""
    if today <= due:
        return working_days_between(today, due)
    return -working_days_between(due, today)


def next_state(action: str, state: str) -> str:
    """The state `action` leads to from `state`; TipRuleError('wrong_state') when the life cycle does
    not allow it (unknown actions too)."""
    try:
        sources, target, _permission = TRANSITIONS[action]
    except KeyError:
        raise TipRuleError("wrong_state") from None
    if state not in sources:
        raise TipRuleError("wrong_state")
    return target


@dataclass(frozen=True)
class Attempt:
    """Everything the rules need to decide one transition. `in_scope` = the tip's village is among
    the actor's (or the actor is town-wide); `is_assignee` = the actor is the tip's assignee;
    `has_visit` = a visit by the actor to the tip's house at or after the tip arrived exists."""
    action: str
    state: str
    role: str
    in_scope: bool
    is_assignee: bool = False
    has_visit: bool = False
    note: str = ""
    target_role: str | None = None  # assign: the role of the account the tip is handed to
    target_in_village: bool = False  # assign: that account holds the tip's village


def decide(attempt: Attempt) -> str:
    """The new state if `attempt` is allowed, else TipRuleError with the first reason that applies,
    checked in this order: the role holds the action's permission (forbidden), the tip is in scope
    (out_of_scope: callers answer 404 for it, like any record outside the viewer's villages), the
    state allows the action (wrong_state), then the action's own conditions:

    * valid / invalid: the actor is the assignee (not_assignee) and visited the door after the tip
      arrived (no_visit); invalid also needs a non-blank note (note_required);
    * assign: the target holds tips.work and the tip's village (not_a_worker).
    """
    if attempt.action not in TRANSITIONS:
        raise TipRuleError("wrong_state")
    permission = TRANSITIONS[attempt.action][2]
    if not can(attempt.role, permission):
        raise TipRuleError("forbidden")
    if not attempt.in_scope:
        raise TipRuleError("out_of_scope")
    target = next_state(attempt.action, attempt.state)
    if attempt.action in ("valid", "invalid"):
        if not attempt.is_assignee:
            raise TipRuleError("not_assignee")
        if not attempt.has_visit:
            raise TipRuleError("no_visit")
        if attempt.action == "invalid" and not (attempt.note or "").strip():
            raise TipRuleError("note_required")
    if attempt.action == "assign":
        if not (attempt.target_role and can(attempt.target_role, "tips.work") and attempt.target_in_village):
            raise TipRuleError("not_a_worker")
    return target


def visit_counts(visit_at: datetime, received_at: datetime) -> bool:
    """A visit proves the check at the door only if it happened at or after the tip arrived (both
    naive UTC): a visit from before the tip cannot have checked what the tip says."""
    return visit_at >= received_at


def month_key(moment: datetime) -> str:
    """The reward month ('YYYY-MM', local time) a verified tip counts in: the month it was verified
    valid. Rewards are paid for verified tips (seeds/000: 核对有效的，奖励2元/条)."""
    return local_day(moment).strftime("%Y-%m")
