"""The compliance report's business-time numbers: time to first response, time to
resolution and time paused, each counted on the ticket's policy calendar.

- To first response: the calendar's open time from creation to the first response.
- To resolution: the calendar's open time from creation to resolution, less the open
  time the ticket was paused in between: what the resolution clock counts against the
  policy's target.
- Paused: the calendar's open time of each pause, a running one up to `now`.

A ticket without a policy is measured on the wall clock, as the SLA engine measures it
(tickets.clocks); a pause is counted on its ticket's calendar.

Two ways to count them, the same numbers (a test compares them on PostgreSQL):

- PostgreSQL (business_summaries_in_database): each calendar's open intervals over the
  period go to the database as two arrays; width_bucket() finds an instant in them by
  binary search, and percentile_cont takes the percentiles, in one statement. Nothing per
  ticket comes back: memory does not grow with the period.
- SQLite (business_times, then summarize): the period's tickets are read in chunks (a
  few narrow columns; instants as integer microseconds, which cost a fraction of a parsed
  datetime), each duration counted by sla.business_time in Python, and kept as an 8-byte
  float per ticket for the percentiles (8-16 bytes per answered ticket; SQLite is the
  one-laptop setup). SQLite's julianday() keeps milliseconds only.

bench/reports.py measures both the time and, with bench/report_csv_memory.py, the memory
(bench/README.md).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BigIntegerField, Expression, F, Func, Q, QuerySet
from django.db.models.sql.compiler import SQLCompiler

from policies.models import SlaPolicy
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
    clocks = Clocks()  # reads each policy once

    def calendar_of(policy_id: int | None) -> Calendar:
        return clocks.for_policy(policy_id).calendar

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


# --- PostgreSQL: the same numbers counted in the database ----------------------------------
#
# A calendar's open time up to an instant is a lookup in a sorted list of its opening and
# closing instants with the open time before each (what sla.business_time keeps per year).
# Sent as two float8 arrays per calendar, width_bucket() finds an instant's place in them
# by binary search, so the database counts each ticket's business time, and
# percentile_cont its percentiles, in one scan of the period's tickets: nothing per
# ticket comes back to Python, and its memory does not grow with the period.

# Open intervals are listed from the period's start to this long after now (or its end):
# every response, resolution and pause is recorded at the `now` of the service that wrote
# it. An instant beyond would count as if at the list's end.
_HORIZON = timedelta(days=2)


@dataclass(frozen=True)
class OpenTable:
    """A calendar's opening and closing instants in a span (epoch seconds, alternating,
    ascending) and the open seconds before each."""

    bounds: list[float]
    before: list[float]


def open_table(calendar: Calendar, start: datetime, end: datetime) -> OpenTable:
    bounds: list[float] = []
    before: list[float] = []
    elapsed = 0.0
    for opens, closes in calendar.open_spans(start, end):
        opened, closed = opens.timestamp(), closes.timestamp()
        if bounds and bounds[-1] == opened:
            # One interval split at a local new year: join the halves.
            bounds.pop()
            before.pop()
        else:
            bounds.append(opened)
            before.append(elapsed)
        elapsed += closed - opened
        bounds.append(closed)
        before.append(elapsed)
    return OpenTable(bounds, before)


def _open_until(instant: str) -> str:
    """SQL: the open seconds of calendar `c` from its table's start to `instant` (a
    timestamptz expression). width_bucket gives the count of bounds at or before it: odd
    inside an open interval, even (0 before the first) in a closed one."""
    at = f"EXTRACT(EPOCH FROM {instant})::float8"
    place = f"width_bucket({at}, c.bounds)"
    return (
        f"(CASE mod({place}, 2) WHEN 1 THEN c.before[{place}] + ({at} - c.bounds[{place}]) "
        f"ELSE COALESCE(c.before[{place}], 0) END)"
    )


def _open_until_each(instants: dict[str, str]) -> str:
    """SQL: a CROSS JOIN LATERAL giving `o.<name>`, the open seconds of calendar `c` up to
    each instant, as _open_until but with one width_bucket() per instant. OFFSET 0 keeps
    the planner from folding each step back into the expressions that use it."""
    epochs = ", ".join(f"EXTRACT(EPOCH FROM {sql})::float8 AS {n}" for n, sql in instants.items())
    places = ", ".join(f"e.{n}, width_bucket(e.{n}, c.bounds) AS {n}_at" for n in instants)
    opens = ", ".join(
        f"CASE mod(w.{n}_at, 2) WHEN 1 THEN c.before[w.{n}_at] + (w.{n} - c.bounds[w.{n}_at]) "
        f"ELSE COALESCE(c.before[w.{n}_at], 0) END AS {n}"
        for n in instants
    )
    # Only this module's SQL and column names.
    nested = f"(SELECT {places} FROM (SELECT {epochs} OFFSET 0) e OFFSET 0) w"  # noqa: S608
    return f"CROSS JOIN LATERAL (SELECT {opens} FROM {nested} OFFSET 0) o"  # noqa: S608


def _between(start: str, end: str) -> str:
    return f"GREATEST({_open_until(end)} - {_open_until(start)}, 0)"


_NO_POLICY = -1


def business_summaries_in_database(
    tickets: QuerySet[Ticket],
    column: str,
    *,
    now: datetime,
    start: datetime,
    end: datetime,
) -> tuple[dict[Any, BusinessSummary], BusinessSummary]:
    """As summarize(business_times(...)), counted by PostgreSQL."""
    until = max(now, end) + _HORIZON
    clocks = Clocks()
    policy_ids: list[int | None] = [None, *SlaPolicy.objects.values_list("pk", flat=True)]
    values = []
    params: list[Any] = []
    for policy_id in policy_ids:
        table = open_table(clocks.for_policy(policy_id).calendar, start, until)
        values.append("(%s, %s::float8[], %s::float8[])")
        params += [_NO_POLICY if policy_id is None else policy_id, table.bounds, table.before]
    selected = tickets.order_by().annotate(report_key=F(column))
    inner, inner_params = selected.values(
        "id", "report_key", "policy_id", "created_at", "first_responded_at", "resolved_at"
    ).query.sql_with_params()
    # Each duration is computed next to its calendar's arrays, in a MATERIALIZED step that
    # keeps only numbers: rows that carried the arrays on through a join or a sort copied
    # them each time (660 MB of sort on disk for 88k tickets).
    sql = f"""
    WITH clock (now) AS (VALUES (%s::timestamptz)),
    c_all (policy_id, bounds, before) AS (VALUES {", ".join(values)}),
    t AS MATERIALIZED ({inner}),
    measured AS MATERIALIZED (
        SELECT t.id, t.report_key,
            CASE WHEN t.first_responded_at IS NOT NULL
                THEN GREATEST(o.responded - o.created, 0) END AS first_response,
            CASE WHEN t.resolved_at IS NOT NULL
                THEN GREATEST(o.resolved - o.created, 0) END AS resolution
        FROM t JOIN c_all c ON c.policy_id = COALESCE(t.policy_id, {_NO_POLICY})
        {
        _open_until_each(
            {
                "created": "t.created_at",
                "responded": "t.first_responded_at",
                "resolved": "t.resolved_at",
            }
        )
    }
    ),
    their_pauses AS MATERIALIZED (
        SELECT p.ticket_id, p.started_at, p.ended_at, t.policy_id, t.created_at, t.resolved_at
        FROM {TicketPause._meta.db_table} p JOIN t ON t.id = p.ticket_id
    ),
    paused AS MATERIALIZED (
        SELECT q.ticket_id,
            {_between("q.started_at", "COALESCE(q.ended_at, clock.now)")} AS paused,
            CASE WHEN q.resolved_at IS NOT NULL THEN {
        _between(
            "GREATEST(q.started_at, q.created_at)",
            "LEAST(COALESCE(q.ended_at, q.resolved_at), q.resolved_at)",
        )
    } ELSE 0 END AS before_resolution
        FROM their_pauses q
        JOIN c_all c ON c.policy_id = COALESCE(q.policy_id, {_NO_POLICY})
        CROSS JOIN clock
    ),
    per_ticket AS (
        SELECT ticket_id, SUM(paused) AS paused, SUM(before_resolution) AS before_resolution
        FROM paused GROUP BY ticket_id
    ),
    d AS (
        SELECT m.report_key, m.first_response,
            CASE WHEN m.resolution IS NOT NULL
                THEN GREATEST(m.resolution - COALESCE(pt.before_resolution, 0), 0)
            END AS resolution,
            COALESCE(pt.paused, 0) AS paused
        FROM measured m LEFT JOIN per_ticket pt ON pt.ticket_id = m.id
    )
    SELECT report_key, GROUPING(report_key),
        percentile_cont(0.5) WITHIN GROUP (ORDER BY first_response),
        percentile_cont(0.9) WITHIN GROUP (ORDER BY first_response),
        percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution),
        percentile_cont(0.9) WITHIN GROUP (ORDER BY resolution),
        SUM(paused)
    FROM d GROUP BY GROUPING SETS ((report_key), ())
    """  # noqa: S608 -- only this module's SQL and the ORM's; every value is a parameter
    groups: dict[Any, BusinessSummary] = {}
    total = BusinessSummary(None, None, None, None, 0.0)
    with connections[tickets.db].cursor() as cursor:
        cursor.execute(sql, [now, *params, *inner_params])
        for key, overall, *numbers in cursor.fetchall():
            first_median, first_p90, resolution_median, resolution_p90, paused = (
                None if value is None else round(float(value), 1) for value in numbers
            )
            summary = BusinessSummary(
                first_median, first_p90, resolution_median, resolution_p90, paused or 0.0
            )
            if overall:
                total = summary
            else:
                groups[key] = summary
    return groups, total
