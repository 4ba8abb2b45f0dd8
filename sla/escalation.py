"""Escalation: who else hears of a metric's warning or breach, and when. Pure Python.

An escalation policy is an ordered list of levels. A *warning* level fires with each
warning the metric announces (sla.rules), once per threshold. A *breach* level fires a
duration after the breach (zero: at the breach), counted in wall time or on the metric's
calendar, and may repeat every so often, a limited number of times, until someone
acknowledges the breach.

The breach levels of one metric and one deadline make a fixed list of firings in time
order (`breach_firings`). The engine stores how many of them have fired (the metric's
escalation step), so a firing fires once whoever the recipients are by then: reassigning a
ticket sends the new assignee only what is still to come, and a moved deadline shifts the
firings left without firing again the ones already done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sla.business_time import Calendar


class Trigger(StrEnum):
    WARNING = "warning"  # with each warning threshold the metric passes
    BREACH = "breach"  # `delay` after the deadline is missed (0: at the breach)


class Role(StrEnum):
    """Whom a level names; resolved against the ticket when the level fires."""

    OWNER = "owner"  # who filed the ticket
    ASSIGNEE = "assignee"
    TEAM_LEAD = "team_lead"
    ESCALATION_CONTACT = "escalation_contact"  # the team's, e.g. a manager
    TEAM_CHANNELS = "team_channels"  # the team's enabled webhook and chat endpoints


@dataclass(frozen=True)
class Level:
    """One level of an escalation policy (people.models.EscalationLevel, without Django)."""

    number: int  # 1, 2, ...: the position in the policy; 0 is the seed's owner email
    trigger: Trigger
    delay: timedelta = timedelta(0)  # BREACH only: how long after the deadline
    business_time: bool = False  # count `delay` and the repeats on the calendar
    repeat_every: timedelta | None = None  # BREACH only
    repeat_limit: int = 0  # at most this many repeats after the first firing
    metric: str | None = None  # "resolution" or "first_response"; None: both

    def applies_to(self, metric: str) -> bool:
        return self.metric is None or self.metric == metric


@dataclass(frozen=True, order=True)
class Firing:
    """A breach level's n-th sending (repeat 0 is the first) at an instant."""

    at: datetime
    level: int
    repeat: int


def _later(start: datetime, duration: timedelta, calendar: Calendar, business: bool) -> datetime:
    return calendar.add(start, duration) if business else start + duration


def breach_firings(
    levels: tuple[Level, ...], *, metric: str, deadline: datetime, calendar: Calendar
) -> list[Firing]:
    """Every firing of the breach levels that apply to `metric`, in the order they fire."""
    firings = []
    for level in levels:
        if level.trigger != Trigger.BREACH or not level.applies_to(metric):
            continue
        first = _later(deadline, level.delay, calendar, level.business_time)
        firings.append(Firing(first, level.number, 0))
        if level.repeat_every:
            at = first
            for repeat in range(1, level.repeat_limit + 1):
                at = _later(at, level.repeat_every, calendar, level.business_time)
                firings.append(Firing(at, level.number, repeat))
    return sorted(firings)


@dataclass(frozen=True)
class Due:
    """What a breached metric's escalation does at `now`."""

    fire: tuple[Firing, ...]  # to send now, in order
    step: int  # how many firings have fired once these are sent
    next_at: datetime | None  # when the next firing is due; None: nothing more will fire


NOTHING = Due((), 0, None)


def due_firings(
    levels: tuple[Level, ...],
    *,
    metric: str,
    deadline: datetime,
    calendar: Calendar,
    step: int,
    now: datetime,
    acknowledged: bool,
) -> Due:
    """The firings after the first `step` that are due by `now`, and when the next one is.

    An acknowledged breach fires nothing more: no repeat and no later level.
    """
    if acknowledged:
        return Due((), step, None)
    firings = breach_firings(levels, metric=metric, deadline=deadline, calendar=calendar)
    remaining = firings[step:]
    fire = tuple(f for f in remaining if f.at <= now)
    rest = remaining[len(fire) :]
    return Due(fire, step + len(fire), rest[0].at if rest else None)


def warning_levels(levels: tuple[Level, ...], *, metric: str) -> list[Level]:
    """The levels that fire with each of `metric`'s warnings."""
    return [lv for lv in levels if lv.trigger == Trigger.WARNING and lv.applies_to(metric)]
