"""The compliance report's daily roll-up: each day's numbers counted once, kept, and added
up when a long period is asked for.

A report of a year for someone who sees every ticket reads a few thousand ReportCells
(one per day and group, sla.histograms for the percentiles) instead of half a million
tickets. Counts and paused time are exact; percentiles are estimated within 1%.
tickets.reports decides when to use it (long periods, readers who see every ticket).

Never stale, whoever writes: triggers in the database (migration 0017) mark the day of
every ticket whose reported columns change, of every pause written, and every day when a
calendar or a policy's calendar changes (ReportStale). So a day with tickets always has
its cells or a mark (a new roll-up starts with every day marked), and a report counts a
marked day from its tickets. The periodic check (tickets.checker) rolls marked days up
again and deletes the marks it saw. On PostgreSQL that runs in one REPEATABLE READ
transaction: a change committed after its snapshot keeps its mark, so it is counted next
time, never lost.

Days are UTC days (a report's period begins at a reader's midnight: the hours of a day
cut by its edges are counted from the tickets). A running pause grows with the clock: a
cell keeps ended pauses only, and a report adds the running ones of its period.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connections, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import TruncDate

from sla import histograms
from sla.business_time import Calendar
from sla.enums import SlaState
from tickets.business_durations import CHUNK, EpochMicroseconds
from tickets.clocks import Clocks
from tickets.models import ReportCell, ReportStale, Ticket, TicketPause

# The report's groupings, each a ticket column, and the cell of a day's every ticket.
DIMENSIONS = {
    "priority": "priority",
    "policy": "policy_id",
    "team": "team_id",
    "assignee": "assignee_id",
}
ALL = "all"
SPAN_DAY, SPAN_MONTH = "day", "month"
METRICS = ("first_response", "resolution", "first_response_business", "resolution_business")
DAY = timedelta(days=1)
_DAY_US = 86_400_000_000
_QUARTER_US = 15 * 60 * 1_000_000
QUARTER = timedelta(minutes=15)
QUARTERS = 96
_EPOCH_DAY = date(1970, 1, 1)


def _empty_histograms() -> dict[str, dict[str, int]]:
    return {metric: {} for metric in METRICS}


@dataclass
class Tally:
    """The report's numbers for some tickets, in a form that adds up. Histogram buckets
    are keyed as the cells' JSON keeps them (text), so cells add up without converting."""

    tickets: int = 0
    achieved: int = 0
    breached: int = 0
    first_response_breached: int = 0
    paused_seconds: float = 0.0
    paused_business_seconds: float = 0.0
    histograms: dict[str, dict[str, int]] = field(default_factory=_empty_histograms)
    # A day's ALL tally only: the resolutions met ("achieved") and missed ("breached") of
    # the tickets created in each quarter of an hour of the day (QUARTERS counts).
    decided: dict[str, list[int]] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        self.tickets += other.tickets
        self.achieved += other.achieved
        self.breached += other.breached
        self.first_response_breached += other.first_response_breached
        self.paused_seconds += other.paused_seconds
        self.paused_business_seconds += other.paused_business_seconds
        for metric, counts in other.histograms.items():
            mine = self.histograms[metric]
            if mine:
                histograms.merge(mine, counts)
            else:
                self.histograms[metric] = dict(counts)

    def percentiles(self, metric: str, fractions: Sequence[float]) -> list[float | None]:
        counts = {int(bucket): n for bucket, n in self.histograms[metric].items()}
        return histograms.percentiles(counts, fractions)

    @classmethod
    def of_cell(cls, cell: Mapping[str, Any]) -> Tally:
        stored = cell["histograms"]
        return cls(
            tickets=cell["tickets"],
            achieved=cell["achieved"],
            breached=cell["breached"],
            first_response_breached=cell["first_response_breached"],
            paused_seconds=cell["paused_seconds"],
            paused_business_seconds=cell["paused_business_seconds"],
            histograms={metric: stored.get(metric, {}) for metric in METRICS},
        )

    def cell(self, span: str, day: date, dimension: str, key: str) -> ReportCell:
        return ReportCell(
            span=span,
            day=day,
            dimension=dimension,
            key=key,
            tickets=self.tickets,
            achieved=self.achieved,
            breached=self.breached,
            first_response_breached=self.first_response_breached,
            paused_seconds=self.paused_seconds,
            paused_business_seconds=self.paused_business_seconds,
            histograms=self.histograms,
            decided=self.decided,
        )


# (day or None, dimension, key) -> its tally.
Tallies = dict[tuple[date | None, str, str], Tally]


def _key(value: Any) -> str:
    return "" if value is None else str(value)


def _bucket(seconds: float) -> str:
    return str(histograms.bucket_of(seconds))


def tally(
    tickets: QuerySet[Ticket],
    *,
    dimensions: Iterable[str],
    by_day: bool,
    now: datetime | None,
) -> Tallies:
    """The numbers of `tickets`, per value of each dimension (and ALL), per UTC day of
    creation if `by_day`. Pauses still running count up to `now`, or not at all if None
    (a cell's, which the report completes when read)."""
    wanted = [(name, DIMENSIONS[name]) for name in dimensions]
    clocks = Clocks()  # reads each policy once

    def calendar_of(policy_id: int | None) -> Calendar:
        return clocks.for_policy(policy_id).calendar

    paused = _pauses(tickets, calendar_of, now=now)
    result: Tallies = {}
    columns = [column for _, column in wanted]
    rows = (
        tickets.order_by()
        .values_list(
            "id",
            "policy_id",
            "resolution_state",
            "first_response_state",
            EpochMicroseconds("created_at"),
            EpochMicroseconds("first_responded_at"),
            EpochMicroseconds("resolved_at"),
            *columns,
        )
        .iterator(CHUNK)
    )
    achieved, breached = SlaState.ACHIEVED.value, SlaState.BREACHED.value
    for ticket_id, policy_id, state, first_state, created, responded, resolved, *keys in rows:
        day = _EPOCH_DAY + timedelta(days=created // _DAY_US) if by_day else None
        targets = [(day, ALL, ALL)]
        targets += [(day, name, _key(value)) for (name, _), value in zip(wanted, keys, strict=True)]
        buckets: list[tuple[str, str]] = []
        calendar = calendar_of(policy_id)
        wall_paused, business_paused, before_resolution = paused.get(ticket_id, (0.0, 0.0, 0.0))
        if responded is not None:
            buckets.append(("first_response", _bucket((responded - created) / 1e6)))
            business = calendar.open_microseconds(created, responded) / 1e6
            buckets.append(("first_response_business", _bucket(business)))
        if resolved is not None:
            buckets.append(("resolution", _bucket((resolved - created) / 1e6)))
            business = calendar.open_microseconds(created, resolved) / 1e6 - before_resolution
            buckets.append(("resolution_business", _bucket(business)))
        for target in targets:
            found = result.get(target)
            if found is None:
                found = result[target] = Tally()
            found.tickets += 1
            found.achieved += state == achieved
            found.breached += state == breached
            found.first_response_breached += first_state == breached
            found.paused_seconds += wall_paused
            found.paused_business_seconds += business_paused
            for metric, bucket in buckets:
                counts = found.histograms[metric]
                counts[bucket] = counts.get(bucket, 0) + 1
        if by_day and state in (achieved, breached):
            outcomes = result[targets[0]].decided.setdefault(state, [0] * QUARTERS)
            outcomes[created % _DAY_US // _QUARTER_US] += 1
    return result


def _pauses(
    tickets: QuerySet[Ticket], calendar_of: Any, *, now: datetime | None
) -> dict[int, tuple[float, float, float]]:
    """Per ticket of `tickets` that paused: the seconds paused in wall time and in
    business time (ended pauses, and running ones up to `now` if given), and the business
    seconds paused between creation and resolution (which resolution time leaves out),
    as tickets.business_durations counts them."""
    pauses = TicketPause.objects.filter(ticket__in=tickets.values("pk")).order_by()
    if now is None:
        pauses = pauses.filter(ended_at__isnull=False)
    now_us = None if now is None else int(now.timestamp() * 1_000_000)
    found: dict[int, tuple[float, float, float]] = {}
    rows = pauses.values_list(
        "ticket_id",
        "ticket__policy_id",
        EpochMicroseconds("ticket__created_at"),
        EpochMicroseconds("ticket__resolved_at"),
        EpochMicroseconds("started_at"),
        EpochMicroseconds("ended_at"),
    )
    for ticket_id, policy_id, created, resolved, started, ended in rows.iterator(CHUNK):
        calendar = calendar_of(policy_id)
        until = ended if ended is not None else now_us
        wall = (until - started) / 1e6  # as the report counts it: not clamped
        business = calendar.open_microseconds(started, until) / 1e6
        within = 0.0
        if resolved is not None:
            end = min(ended if ended is not None else resolved, resolved)
            within = calendar.open_microseconds(max(started, created), end) / 1e6
        before = found.get(ticket_id, (0.0, 0.0, 0.0))
        found[ticket_id] = (before[0] + wall, before[1] + business, before[2] + within)
    return found


def running_pauses(tickets: QuerySet[Ticket], *, dimension: str, now: datetime) -> Tallies:
    """What the pauses of `tickets` still running at `now` add to paused time, per value
    of `dimension` and for ALL (cells keep ended pauses only)."""
    column = DIMENSIONS[dimension]
    clocks = Clocks()
    now_us = int(now.timestamp() * 1_000_000)
    result: Tallies = {}
    rows = (
        TicketPause.objects.filter(ticket__in=tickets.values("pk"), ended_at__isnull=True)
        .order_by()
        .values_list(f"ticket__{column}", "ticket__policy_id", EpochMicroseconds("started_at"))
    )
    for value, policy_id, started in rows.iterator(CHUNK):
        wall = (now_us - started) / 1e6
        business = clocks.for_policy(policy_id).calendar.open_microseconds(started, now_us) / 1e6
        for target in ((None, ALL, ALL), (None, dimension, _key(value))):
            found = result.setdefault(target, Tally())
            found.paused_seconds += wall
            found.paused_business_seconds += business
    return result


# --- Keeping the cells -----------------------------------------------------------------

# The most days one refresh counts: a check keeps its time for what it is for.
REFRESH_DAYS = 31
# The advisory lock that keeps two refreshes (two checkers) from counting the same days.
_LOCK_KEY = 0x51A_2011


def _days_of_all_tickets() -> list[date]:
    days = Ticket.objects.order_by().annotate(d=TruncDate("created_at", tzinfo=UTC))
    return sorted(days.values_list("d", flat=True).distinct())


def _day_ranges(days: Iterable[date]) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive days as [start, end) instants, each run of days in one range."""
    run: list[date] = []
    for day in sorted(days):
        if run and day != run[-1] + DAY:
            yield _instant(run[0]), _instant(run[-1] + DAY)
            run = []
        run.append(day)
    if run:
        yield _instant(run[0]), _instant(run[-1] + DAY)


def _instant(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def created_on(days: Iterable[date]) -> Q:
    """Tickets created on any of `days` (UTC), as few ranges of created_at as they make."""
    ranges = Q(pk__in=[])
    for start, end in _day_ranges(days):
        ranges |= Q(created_at__gte=start, created_at__lt=end)
    return ranges


def _repeatable_read(using: str) -> None:
    """The rest of this transaction on one snapshot (PostgreSQL; SQLite has one writer at
    a time). Only in a transaction of its own: not inside another one (a test's)."""
    connection = connections[using]
    if connection.vendor == "postgresql" and len(connection.savepoint_ids) == 0:
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def refresh(*, now: datetime, max_days: int = REFRESH_DAYS, budget_seconds: float = 2.0) -> int:
    """Count the marked days again (at most `max_days`, and no more once `budget_seconds`
    have passed), write their cells, and delete the marks seen. Returns the days counted.

    A mark for every day (a calendar changed, or the roll-up is new) is first turned into
    one mark per day that has tickets, so that the work spreads over the next checks."""
    if not ReportStale.objects.exists():
        return 0  # the idle check's case: one statement
    started = time.monotonic()
    counted = 0
    while counted < max_days and time.monotonic() - started < budget_seconds:
        done = _refresh_some(now=now, max_days=max_days - counted)
        if not done:
            break
        counted += done
    return counted


def _refresh_some(*, now: datetime, max_days: int) -> int:
    using = ReportStale.objects.db
    with transaction.atomic(using=using):
        _repeatable_read(using)
        if connections[using].vendor == "postgresql" and not _try_lock(using):
            return 0
        marks = ReportStale.objects.order_by("day").values_list("day", flat=True).distinct()
        days = list(marks[: max_days + 1])
        if not days:
            return 0
        if None in days:
            ReportStale.objects.bulk_create(ReportStale(day=d) for d in _days_of_all_tickets())
            ReportStale.objects.filter(day__isnull=True).delete()
            ReportCell.objects.all().delete()
            return 1
        chosen = [day for day in days[:max_days] if day is not None]
        ReportCell.objects.filter(span=SPAN_DAY, day__in=chosen).delete()
        tickets = Ticket.objects.filter(created_on(chosen))
        found = tally(tickets, dimensions=DIMENSIONS, by_day=True, now=None)
        ReportCell.objects.bulk_create(
            t.cell(SPAN_DAY, day, dimension, key)
            for (day, dimension, key), t in found.items()
            if day
        )
        _rebuild_months({day.replace(day=1) for day in chosen})
        ReportStale.objects.filter(day__in=chosen).delete()
        return len(chosen)


def _rebuild_months(months: Iterable[date]) -> None:
    """Each month's cells again, from its day cells (whose days may still be marked: a
    report reads a month's cells only when none of its days is)."""
    for month in months:
        ReportCell.objects.filter(span=SPAN_MONTH, day=month).delete()
        sums: dict[tuple[str, str], Tally] = {}
        cells = ReportCell.objects.filter(
            span=SPAN_DAY, day__gte=month, day__lt=_next_month(month)
        ).values(*_CELL_FIELDS)
        for cell in cells.iterator(CHUNK):
            sums.setdefault((cell["dimension"], cell["key"]), Tally()).add(Tally.of_cell(cell))
        ReportCell.objects.bulk_create(
            t.cell(SPAN_MONTH, month, dimension, key) for (dimension, key), t in sums.items()
        )


def _next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


def _try_lock(using: str) -> bool:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_KEY])
        row = cursor.fetchone()
    return bool(row and row[0])


# --- Reading them ----------------------------------------------------------------------

# A report counts from the tickets the days marked since the last check (and the hours
# of its period's edge days): at most this many days, else the report is counted from
# the tickets as a whole (tickets.reports).
MAX_COUNTED_DAYS = 31


@dataclass
class Read:
    """A period's tallies per value of a dimension, and for all, from the roll-up; what
    its chart needs from the cells (per quarter of an hour, [achieved, breached]); and the
    tickets counted from the table instead (for the rest of the chart)."""

    rows: dict[str, Tally]
    total: Tally
    decided: dict[date, dict[str, list[int]]]
    counted: QuerySet[Ticket]


_CELL_FIELDS = (
    "day",
    "dimension",
    "key",
    "tickets",
    "achieved",
    "breached",
    "first_response_breached",
    "paused_seconds",
    "paused_business_seconds",
    "histograms",
)


def read(
    tickets: QuerySet[Ticket], *, start: datetime, end: datetime, dimension: str, now: datetime
) -> Read | None:
    """The numbers of `tickets` (every ticket: the caller sees them all) created in
    [start, end), from the cells of the days they cover and the tickets of the rest; None
    if the roll-up cannot give enough of them (tickets.reports then counts them all)."""
    using = tickets.db
    with transaction.atomic(using=using):
        _repeatable_read(using)
        stale = set(ReportStale.objects.order_by().values_list("day", flat=True).distinct())
        if None in stale:
            return None
        first = (start.astimezone(UTC) + DAY - timedelta(microseconds=1)).date()
        last = end.astimezone(UTC).date()  # excluded
        # Every day with tickets has its cells or a mark: an unmarked day's cells (none
        # for a day without tickets) are its tickets' numbers.
        marked = {day for day in stale if day is not None and first <= day < last}
        if len(marked) > MAX_COUNTED_DAYS:
            return None
        ready = [first + n * DAY for n in range((last - first).days)]
        ready = [day for day in ready if day not in marked]
        # Whole months without a marked day are read from their month cells.
        months = {day.replace(day=1) for day in ready if day.day == 1}
        months = {
            m
            for m in months
            if _next_month(m) <= last and not any(m <= d < _next_month(m) for d in marked)
        }
        by_day = [day for day in ready if day.replace(day=1) not in months]
        rows: dict[str, Tally] = {}
        total = Tally()
        of_cells = ReportCell.objects.filter(dimension__in=[dimension, ALL])
        month_cells = of_cells.filter(span=SPAN_MONTH, day__in=sorted(months))
        day_cells = of_cells.filter(_days(by_day), span=SPAN_DAY)
        for cells in (month_cells, day_cells):
            for cell in cells.values(*_CELL_FIELDS).iterator(CHUNK):
                found = Tally.of_cell(cell)
                if cell["dimension"] == ALL:
                    total.add(found)
                else:
                    rows.setdefault(cell["key"], Tally()).add(found)
        charted = ReportCell.objects.filter(_days(ready), span=SPAN_DAY, dimension=ALL)
        decided = dict(charted.values_list("day", "decided").iterator(CHUNK))
        in_cells = created_on(ready)
        counted = tickets.filter(created_at__gte=start, created_at__lt=end).exclude(in_cells)
        extra = tally(counted, dimensions=[dimension], by_day=False, now=now)
        running = running_pauses(tickets.filter(in_cells), dimension=dimension, now=now)
        for source in (extra, running):
            for (_, name, key), found in source.items():
                if name == ALL:
                    total.add(found)
                else:
                    rows.setdefault(key, Tally()).add(found)
        return Read(rows=rows, total=total, decided=decided, counted=counted)


def _days(days: Iterable[date]) -> Q:
    """Cells of any of `days`, as few ranges as they make."""
    ranges = Q(pk__in=[])
    for start, end in _day_ranges(days):
        ranges |= Q(day__gte=start.date(), day__lt=end.date())
    return ranges
