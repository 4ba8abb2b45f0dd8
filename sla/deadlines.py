"""When a ticket's metrics are due: a policy's targets in business time, less its pauses.

The one place deadlines are computed, for one ticket (tickets.services: creation, a
priority change, a resumed pause) and in batch (tickets.recompute: after a policy or
calendar edit), so that both always agree. ValueError when the calendar has no open time
left to count.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from sla.business_time import Calendar

Pause = tuple[datetime, datetime | None]
"""When a pause started and ended; ended is None while it runs."""


def resolution_deadline(
    calendar: Calendar,
    *,
    start: datetime,
    target: timedelta,
    pauses: Iterable[Pause] = (),
) -> datetime:
    """When `target` of business time has run since `start`, not counting the pauses.

    `pauses` are (started, ended) in order; the last may still be running (ended None),
    in which case the deadline is the one the ticket had when it was paused. A pause that
    began after the deadline had passed does not move it: the breach already happened.
    """
    left = target
    counted_from = start
    for started, ended in pauses:
        used = calendar.between(counted_from, started)
        if used >= left:
            break
        left -= used
        if ended is None:
            counted_from = started
            break
        counted_from = max(ended, started)
    return calendar.add(counted_from, left)


def first_response_due(
    calendar: Calendar, *, start: datetime, target: timedelta | None
) -> datetime | None:
    """When `target` of business time has run since `start`; None without a target.

    First response has no pauses: a ticket waiting on its customer was answered.
    """
    if target is None:
        return None
    return calendar.add(start, target)


def extended_by_pause(
    deadline: datetime, *, calendar: Calendar, paused_at: datetime, now: datetime
) -> datetime:
    """`deadline` moved by the business time a pause from `paused_at` lasted until `now`:
    the time that was left when the clock stopped is left from now. A deadline already
    past when the pause began stays where it is: the breach had happened."""
    if deadline <= paused_at:
        return deadline
    return calendar.add(now, calendar.between(paused_at, deadline))
