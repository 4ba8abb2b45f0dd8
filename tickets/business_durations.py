"""The compliance report's business-time numbers: time to first response, time to
resolution and time paused, each counted on the ticket's policy calendar.

- To first response: the calendar's open time from creation to the first response.
- To resolution: the calendar's open time from creation to resolution, less the open
  time the ticket was paused in between: what the resolution clock counts against the
  policy's target.
- Paused: the calendar's open time of each pause, a running one up to `now`.

A ticket without a policy is measured on the wall clock, as the SLA engine measures it
(tickets.clocks); a pause is counted on its ticket's calendar.

The database cannot apply a calendar, so the period's tickets are read in chunks (a few
narrow columns, never model instances; instants as integer microseconds since the epoch,
which cost a fraction of a parsed datetime) and each duration is counted by
sla.business_time in Python (a few bisections each). SQLite's julianday() keeps
milliseconds only: there durations are exact to the millisecond. Only the durations are kept, as
8-byte floats in one array per row, then sorted once for their percentiles, interpolated
as percentile_cont does. Cost: linear in the period's answered or resolved tickets,
bounded by the longest period (tickets.reports.MAX_PERIOD_DAYS); bench/reports.py
measures it (bench/README.md).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BigIntegerField, Expression, F, Func, Q, QuerySet
from django.db.models.sql.compiler import SQLCompiler

from sla.business_time import Calendar
from tickets.clocks import Clocks
from tickets.models import Ticket, TicketPause

# Rows read from the database at a time.
CHUNK = 5_000


class EpochMicroseconds(Func):
    """An instant as integer microseconds since 1970-01-01 UTC (NULL stays NULL)."""

    output_field = BigIntegerField()
    template = "CAST(ROUND(EXTRACT(EPOCH FROM %(expressions)s) * 1000000) AS BIGINT)"

    def __init__(self, expression: str | Expression) -> None:
        super().__init__(F(expression) if isinstance(expression, str) else expression)

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        # Stored as UTC text; julianday() reads it (to the millisecond).
        template = (
            "CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400000000.0) AS INTEGER)"
        )
        return super().as_sql(compiler, connection, template=template, **extra)


def _us(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass
class BusinessTimes:
    """One report row's business-time durations, in seconds (unsorted until summarized)."""

    first_response: array[float] = field(default_factory=lambda: array("d"))
    resolution: array[float] = field(default_factory=lambda: array("d"))
    paused: float = 0.0


@dataclass(frozen=True)
class BusinessSummary:
    first_response_median_seconds: float | None
    first_response_p90_seconds: float | None
    resolution_median_seconds: float | None
    resolution_p90_seconds: float | None
    paused_seconds: float


def percentile_cont(ordered: Sequence[float], fraction: float) -> float | None:
    """The value at 0-based position fraction * (n - 1) of sorted values, interpolated
    between the two around it (PostgreSQL's percentile_cont); None for no values."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(times: BusinessTimes) -> BusinessSummary:
    first = sorted(times.first_response)
    resolution = sorted(times.resolution)

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return BusinessSummary(
        first_response_median_seconds=rounded(percentile_cont(first, 0.5)),
        first_response_p90_seconds=rounded(percentile_cont(first, 0.9)),
        resolution_median_seconds=rounded(percentile_cont(resolution, 0.5)),
        resolution_p90_seconds=rounded(percentile_cont(resolution, 0.9)),
        paused_seconds=round(times.paused, 1),
    )


def business_times(
    tickets: QuerySet[Ticket], column: str, *, now: datetime
) -> tuple[dict[Any, BusinessTimes], BusinessTimes]:
    """Per value of `column` (the report's grouping), and for all `tickets` together,
    their business-time durations."""
    clocks = Clocks()
    calendars: dict[int | None, Calendar] = {}

    def calendar_of(policy_id: int | None) -> Calendar:
        found = calendars.get(policy_id)
        if found is None:
            found = calendars[policy_id] = clocks.for_policy(policy_id).calendar
        return found

    groups: dict[Any, BusinessTimes] = {}
    total = BusinessTimes()
    # Open time paused between creation and resolution, per resolved ticket that paused.
    paused_before_resolution: dict[int, float] = {}
    epoch = {
        name: EpochMicroseconds(name)
        for name in ("created_at", "first_responded_at", "resolved_at")
    }
    pauses = (
        TicketPause.objects.filter(ticket__in=tickets.values("pk"))
        .order_by()
        .values_list(
            f"ticket__{column}",
            "ticket_id",
            "ticket__policy_id",
            EpochMicroseconds("ticket__created_at"),
            EpochMicroseconds("ticket__resolved_at"),
            EpochMicroseconds("started_at"),
            EpochMicroseconds("ended_at"),
        )
    )
    now_us = _us(now)
    for key, ticket_id, policy_id, created, resolved, started, ended in pauses.iterator(CHUNK):
        calendar = calendar_of(policy_id)
        seconds = calendar.open_microseconds(started, ended or now_us) / 1e6
        groups.setdefault(key, BusinessTimes()).paused += seconds
        total.paused += seconds
        if resolved is not None:
            within = calendar.open_microseconds(
                max(started, created), min(ended or resolved, resolved)
            )
            paused_before_resolution[ticket_id] = (
                paused_before_resolution.get(ticket_id, 0.0) + within / 1e6
            )
    measured = (
        tickets.filter(Q(first_responded_at__isnull=False) | Q(resolved_at__isnull=False))
        .order_by()
        .values_list(column, "id", "policy_id", *epoch.values())
    )
    for key, ticket_id, policy_id, created, responded, resolved in measured.iterator(CHUNK):
        calendar = calendar_of(policy_id)
        times = groups.get(key)
        if times is None:
            times = groups[key] = BusinessTimes()
        if responded is not None:
            seconds = calendar.open_microseconds(created, responded) / 1e6
            times.first_response.append(seconds)
            total.first_response.append(seconds)
        if resolved is not None:
            seconds = calendar.open_microseconds(created, resolved) / 1e6
            seconds = max(seconds - paused_before_resolution.get(ticket_id, 0.0), 0.0)
            times.resolution.append(seconds)
            total.resolution.append(seconds)
    return groups, total
