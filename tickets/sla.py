"""SLA state rules: pure functions of a ticket's facts and `now`, with no database access.

A ticket that is open or pending is `on_track` until it enters the warning window,
`at_risk` inside it and `breached` from its deadline on. A resolved or closed ticket is
`achieved` when it was resolved in time and stays `breached` when it was not.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models


class Status(models.TextChoices):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Priority(models.TextChoices):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


# Priorities ordered by urgency, for "ordering=priority".
PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class SlaState(models.TextChoices):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    ACHIEVED = "achieved"


class Announcement(models.TextChoices):
    """The emails a ticket can cause; also the notification kinds."""

    CREATED = "created"
    WARNING = "warning"
    MISSED = "missed"


ACTIVE_STATUSES = frozenset({Status.OPEN, Status.PENDING})


@dataclass(frozen=True)
class Assessment:
    state: SlaState
    # When the state will next change by the clock alone; None when it never will.
    next_check_at: datetime | None
    # The SLA email this change calls for, if any.
    announce: Announcement | None


def assess(
    *,
    status: str,
    deadline: datetime,
    resolved_at: datetime | None,
    previous_state: str | None,
    now: datetime,
    warning: timedelta,
) -> Assessment:
    """Where a ticket stands at `now`, and what its move from `previous_state` announces.

    `previous_state` is None when the ticket is new, its deadline moved, or it was
    reopened: whatever was announced before does not cover the deadline it has now.
    A ticket first seen past its deadline is announced as missed, never warned.
    """
    if status not in ACTIVE_STATUSES:
        # The deadline itself is already late, for open and finished tickets alike, so a
        # ticket can never be both announced as missed and counted as achieved.
        finished_at = resolved_at or now
        state = SlaState.ACHIEVED if finished_at < deadline else SlaState.BREACHED
        return Assessment(state=state, next_check_at=None, announce=None)

    if now >= deadline:
        announce = None if previous_state == SlaState.BREACHED else Announcement.MISSED
        return Assessment(state=SlaState.BREACHED, next_check_at=None, announce=announce)

    warn_at = deadline - warning
    if now >= warn_at:
        announce = None if previous_state == SlaState.AT_RISK else Announcement.WARNING
        return Assessment(state=SlaState.AT_RISK, next_check_at=deadline, announce=announce)

    return Assessment(state=SlaState.ON_TRACK, next_check_at=warn_at, announce=None)
