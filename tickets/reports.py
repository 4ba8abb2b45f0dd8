"""The compliance report: how the tickets created in a period fared against their SLAs,
grouped by priority, policy, team or assignee. GET /api/reports/compliance/, the report
page and its CSV all read `compliance()`, so their numbers are the same numbers.

A period over a week read by someone who sees every ticket (staff) comes from the daily
roll-up (tickets.rollup): counts exact, percentiles estimated within 1% from histograms,
a year read from a few hundred cells. Everything else is counted from the tickets, in
the database, a fixed number of queries whatever the period holds: counts with
conditional aggregates, paused time with a sum, and each percentile
interpolated between the two nearest ranks as percentile_cont does. On PostgreSQL it is
percentile_cont itself, in the same GROUP BY as the counts (one scan of the period). SQLite
has no percentile_cont: there ROW_NUMBER() and COUNT() windows find the ranks, and only
the one or two rows around each come back to Python, at the cost of one more scan and
sort of the period's tickets per metric and grouping.

Days (the period's, and the chart's) begin at midnight in the reader's time zone: the
API's `tz` parameter, the page's display zone, else settings.TIME_ZONE.

Durations come twice: wall time from the ticket's creation, and business time on the
ticket's policy calendar (tickets.business_durations: on PostgreSQL in the database, with
each calendar's open intervals sent as arrays; on SQLite in Python, one pass over the
period's answered or resolved tickets and one over their pauses).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connections
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    Expression,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    QuerySet,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, TruncDate, TruncWeek

from people.models import Team
from policies.models import SlaPolicy
from sla.enums import Priority, SlaState
from tickets import rollup
from tickets.business_durations import (
    BusinessSummary,
    business_summaries_in_database,
    business_times,
    summarize,
)
from tickets.models import Ticket, TicketPause, visibility_branches
from watchdog.zones import known_zones

PERIODS = {
    "this_week": "This week",
    "last_week": "Last week",
    "this_month": "This month",
    "last_month": "Last month",
    "custom": "Custom dates",
}
# A custom period spans at most this long (a year, leap day included).
MAX_PERIOD_DAYS = 366
# Custom dates outside these are refused: far enough for any desk, and clear of the
# datetime range's ends in every time zone.
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(9000, 1, 1)
PERCENTILES = (0.5, 0.9)
ALL = "all"
# Longer periods (a month, a year), for a reader who sees every ticket, are read from the
# daily roll-up: a month counted from 25k tickets took 0.6-1.1 s at 1M (bench/README.md).
ROLLUP_AFTER_DAYS = 7


@dataclass(frozen=True)
class Grouping:
    """How tickets are put into rows: the ticket column, and each value's label.

    Tickets without a value (no policy, team or assignee) make one row of their own,
    keyed "" and listed last."""

    label: str
    column: str
    labels: Callable[[Iterable[Any]], dict[Any, str]]


def _priority_labels(keys: Iterable[Any]) -> dict[Any, str]:
    return {key: Priority(key).name.title() for key in keys}


def _policy_labels(keys: Iterable[Any]) -> dict[Any, str]:
    names = dict(SlaPolicy.objects.filter(pk__in=[k for k in keys if k]).values_list("pk", "name"))
    return {key: names.get(key, "No policy") if key else "No policy" for key in keys}


def _team_labels(keys: Iterable[Any]) -> dict[Any, str]:
    # A team's name is shown wherever one of its tickets is (the ticket API's `team`):
    # only teams of tickets the reader may see are ever keys here.
    names = dict(Team.objects.filter(pk__in=[k for k in keys if k]).values_list("pk", "name"))
    return {key: names.get(key, "No team") if key else "No team" for key in keys}


def _assignee_labels(keys: Iterable[Any]) -> dict[Any, str]:
    users = User.objects.filter(pk__in=[k for k in keys if k]).values_list("pk", "username")
    names = dict(users)
    return {key: names.get(key, "Unassigned") if key else "Unassigned" for key in keys}


GROUPINGS = {
    "priority": Grouping("Priority", "priority", _priority_labels),
    "policy": Grouping("Policy", "policy_id", _policy_labels),
    "team": Grouping("Team", "team_id", _team_labels),
    "assignee": Grouping("Assignee", "assignee_id", _assignee_labels),
}
# Rows in this order: priorities by urgency, the others by name (the "none" row last).
_PRIORITY_ORDER = {priority.value: rank for rank, priority in enumerate(reversed(Priority))}


class ComplianceFilters(forms.Form):
    """What the query string of the report means (the API and the page share it)."""

    period = forms.ChoiceField(choices=list(PERIODS.items()), required=False)
    start = forms.DateField(required=False, input_formats=["%Y-%m-%d"], label="From")
    end = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        label="Until (excluded)",
        help_text="The period is [from, until): tickets created from the first day up to, "
        "not including, the second.",
    )
    group_by = forms.ChoiceField(
        choices=[(key, grouping.label) for key, grouping in GROUPINGS.items()], required=False
    )
    # The API's; the page reads the reader's display zone instead (dashboard.timezones).
    tz = forms.CharField(required=False, max_length=64, label="Time zone")

    def clean_tz(self) -> ZoneInfo | None:
        name = self.cleaned_data.get("tz") or ""
        if not name:
            return None
        if name not in known_zones():
            raise forms.ValidationError("Not a known IANA time zone (such as Europe/Berlin).")
        return ZoneInfo(name)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        period = data.get("period") or "this_month"
        data["period"] = period
        data["group_by"] = data.get("group_by") or "priority"
        start, end = data.get("start"), data.get("end")
        for name in ("start", "end"):
            day = data.get(name)
            if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
                self.add_error(name, f"Between {EARLIEST_DAY} and {LATEST_DAY}.")
                data[name] = None
        start, end = data.get("start"), data.get("end")
        if period == "custom":
            if start is None and "start" not in self.errors:
                self.add_error("start", "Required with period=custom (YYYY-MM-DD).")
            if end is None and "end" not in self.errors:
                self.add_error("end", "Required with period=custom (YYYY-MM-DD).")
            if start is not None and end is not None:
                if end <= start:
                    self.add_error("end", "Must be after start.")
                elif (end - start).days > MAX_PERIOD_DAYS:
                    self.add_error("end", f"At most {MAX_PERIOD_DAYS} days after start.")
        else:
            for name in ("start", "end"):
                if data.get(name) is not None:
                    self.add_error(name, "Only with period=custom.")
        return data


def default_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def period_bounds(
    period: str,
    *,
    start: date | None,
    end: date | None,
    now: datetime,
    zone: ZoneInfo | None = None,
) -> tuple[datetime, datetime]:
    """[start, end) of ticket creation, midnights in `zone` (the report's; default
    settings.TIME_ZONE)."""
    zone = zone or default_zone()
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    days: dict[str, tuple[date, date]] = {
        "this_week": (monday, monday + timedelta(days=7)),
        "last_week": (monday - timedelta(days=7), monday),
        "this_month": (first, (first + timedelta(days=32)).replace(day=1)),
        "last_month": ((first - timedelta(days=1)).replace(day=1), first),
    }
    if period == "custom":
        if start is None or end is None:
            raise ValueError("a custom period needs start and end (ComplianceFilters checks)")
        begin, finish = start, end
    else:
        begin, finish = days[period]
    return (
        datetime.combine(begin, time(), tzinfo=zone),
        datetime.combine(finish, time(), tzinfo=zone),
    )


@dataclass
class ComplianceRow:
    # The priority, or the policy's, team's or assignee's id ("" for none, "all": total).
    key: str
    # The priority in words, or the policy's or team's name, or the assignee's username
    # ("All" for the total).
    name: str
    tickets: int = 0
    # Resolution decided: met (achieved) or missed (breached); open tickets on track are
    # neither yet, and count in neither.
    achieved: int = 0
    breached: int = 0
    first_response_breached: int = 0
    first_response_median_seconds: float | None = None
    first_response_p90_seconds: float | None = None
    resolution_median_seconds: float | None = None
    resolution_p90_seconds: float | None = None
    paused_seconds: float = 0.0
    # The same in business time, on each ticket's policy calendar (the wall clock without
    # one); resolution less the business time paused (tickets.business_durations).
    first_response_business_median_seconds: float | None = None
    first_response_business_p90_seconds: float | None = None
    resolution_business_median_seconds: float | None = None
    resolution_business_p90_seconds: float | None = None
    paused_business_seconds: float = 0.0

    @property
    def achieved_percent(self) -> float | None:
        decided = self.achieved + self.breached
        return round(100 * self.achieved / decided, 1) if decided else None


@dataclass(frozen=True)
class Point:
    """Achieved % of the tickets created in one day or week (None: nothing decided)."""

    starts_on: date
    achieved_percent: float | None


@dataclass
class ComplianceReport:
    start: datetime
    end: datetime
    group_by: str
    rows: list[ComplianceRow]
    total: ComplianceRow
    # "day" for periods up to 31 days, else "week" (from Monday).
    bucket: str = "day"
    # The IANA name of the zone whose midnights begin its days.
    time_zone: str = "UTC"
    over_time: list[Point] = field(default_factory=list)
    # "exact", or "estimated" (within 1%) where the period came from the daily roll-up.
    percentiles: str = "exact"


def report_tickets(
    user: User | AnonymousUser, *, start: datetime, end: datetime
) -> QuerySet[Ticket]:
    """The tickets created in [start, end) that `user` may see (the API's rule)."""
    return Ticket.objects.visible_to(user).filter(created_at__gte=start, created_at__lt=end)


def compliance(
    user: User | AnonymousUser,
    *,
    start: datetime,
    end: datetime,
    group_by: str,
    now: datetime,
    zone: ZoneInfo | None = None,
) -> ComplianceReport:
    """The report of the tickets `user` may see, created in [start, end); its days (the
    chart's) in `zone` (default settings.TIME_ZONE)."""
    zone = zone or default_zone()
    grouping = GROUPINGS[group_by]
    tickets = report_tickets(user, start=start, end=end)
    bucket = "day" if end - start <= timedelta(days=31) else "week"
    rolled_up = _rolled_up(user, start=start, end=end, group_by=group_by, now=now)
    if rolled_up is None:
        rows, total = _counted(tickets, grouping, now=now, start=start, end=end)
        decided = _decided(tickets, bucket=bucket, zone=zone)
    else:
        rows, total, found = rolled_up
        decided = _decided(found.counted, bucket=bucket, zone=zone)
        for day, quarters in found.decided.items():
            _add_quarters(decided, day, quarters, bucket=bucket, zone=zone)
    for key, name in grouping.labels(rows).items():
        rows[key].name = name
    ordered = sorted(
        rows.values(),
        key=lambda row: (
            (_PRIORITY_ORDER.get(row.key, 0), row.name)
            if group_by == "priority"
            else (row.key == "", row.name)
        ),
    )
    return ComplianceReport(
        start=start,
        end=end,
        group_by=group_by,
        rows=ordered,
        total=total,
        bucket=bucket,
        time_zone=zone.key,
        over_time=_points(decided, bucket=bucket, start=start, end=end, zone=zone),
        percentiles="exact" if rolled_up is None else "estimated",
    )


def _counted(
    tickets: QuerySet[Ticket], grouping: Grouping, *, now: datetime, start: datetime, end: datetime
) -> tuple[dict[Any, ComplianceRow], ComplianceRow]:
    """The rows and the total counted from the period's tickets, percentiles exact."""
    rows: dict[Any, ComplianceRow] = {}
    for key, counts in _counts(tickets, grouping.column).items():
        rows[key] = ComplianceRow(key=str(key) if key is not None else "", name="", **counts)
    total = ComplianceRow(key=ALL, name="All")
    for counts in _counts(tickets, None).values():
        total = ComplianceRow(key=ALL, name="All", **counts)
    _fill(rows, total, tickets, grouping.column, now=now, start=start, end=end)
    return rows, total


def _rolled_up(
    user: User | AnonymousUser, *, start: datetime, end: datetime, group_by: str, now: datetime
) -> tuple[dict[Any, ComplianceRow], ComplianceRow, rollup.Read] | None:
    """The rows and the total from the daily roll-up (tickets.rollup), percentiles
    estimated; None where it does not serve: a period of a week or less, a reader who
    does not see every ticket (the roll-up does not know who sees what), or days the
    roll-up has yet to count."""
    if end - start <= timedelta(days=ROLLUP_AFTER_DAYS) or visibility_branches(user) is not None:
        return None
    found = rollup.read(Ticket.objects.all(), start=start, end=end, dimension=group_by, now=now)
    if found is None:
        return None
    rows = {_raw_key(group_by, key): _row_of(key, tally) for key, tally in found.rows.items()}
    total = _row_of(ALL, found.total)
    total.name = "All"
    return rows, total, found


def _raw_key(group_by: str, key: str) -> Any:
    """A roll-up key (text) as the ticket column's value (what the labels are found by)."""
    if group_by == "priority":
        return key
    return int(key) if key else None


def _row_of(key: str, tally: rollup.Tally) -> ComplianceRow:
    row = ComplianceRow(
        key=key,
        name="",
        tickets=tally.tickets,
        achieved=tally.achieved,
        breached=tally.breached,
        first_response_breached=tally.first_response_breached,
        paused_seconds=round(tally.paused_seconds, 1),
        paused_business_seconds=round(tally.paused_business_seconds, 1),
    )
    for metric in rollup.METRICS:
        median, p90 = tally.percentiles(metric, PERCENTILES)
        setattr(row, f"{metric}_median_seconds", None if median is None else round(median, 1))
        setattr(row, f"{metric}_p90_seconds", None if p90 is None else round(p90, 1))
    return row


_STATE = "resolution_state"
_FIRST_STATE = "first_response_state"


class PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def __init__(self, expression: Any, *, fraction: float, **extra: Any) -> None:
        # A float of this module's own (PERCENTILES), never input: inlined as SQL.
        super().__init__(expression, fraction=float(fraction), **extra)


_ELAPSED = {
    "first_response": ("first_responded_at", F("first_responded_at") - F("created_at")),
    "resolution": ("resolved_at", F("resolved_at") - F("created_at")),
}
_PERCENTILE_FIELDS = {0.5: "median", 0.9: "p90"}


def _native_percentiles(tickets: QuerySet[Ticket]) -> bool:
    return connections[tickets.db].vendor == "postgresql"


def _counts(tickets: QuerySet[Ticket], column: str | None) -> dict[Any, dict[str, Any]]:
    grouped = tickets.values(column) if column else tickets.annotate(_all=Value(1)).values("_all")
    aggregates: dict[str, Aggregate] = {
        "tickets": Count("id"),
        "achieved": Count("id", filter=Q(**{_STATE: SlaState.ACHIEVED})),
        "breached": Count("id", filter=Q(**{_STATE: SlaState.BREACHED})),
        "first_response_breached": Count("id", filter=Q(**{_FIRST_STATE: SlaState.BREACHED})),
    }
    if _native_percentiles(tickets):
        for metric, (_, elapsed) in _ELAPSED.items():
            for p, suffix in _PERCENTILE_FIELDS.items():
                wrapped = ExpressionWrapper(elapsed, output_field=DurationField())
                aggregates[f"{metric}_{suffix}_seconds"] = PercentileCont(wrapped, fraction=p)
    found = grouped.order_by().annotate(**aggregates)
    name = column or "_all"
    result = {}
    for row in found:
        key = row.pop(name)
        for field_name, value in row.items():
            if isinstance(value, timedelta):
                row[field_name] = round(value.total_seconds(), 1)
        result[key] = row
    return result


def _fill(
    rows: dict[Any, ComplianceRow],
    total: ComplianceRow,
    tickets: QuerySet[Ticket],
    column: str,
    *,
    now: datetime,
    start: datetime,
    end: datetime,
) -> None:
    """The time paused, per row and for the total; the percentiles of both metrics where
    the database has no percentile_cont (_counts found them where it has); and the
    business-time durations."""
    if not _native_percentiles(tickets):
        _window_percentiles(rows, total, tickets, column)
    paused = ExpressionWrapper(
        Coalesce(F("ended_at"), Value(now)) - F("started_at"), output_field=DurationField()
    )
    pauses = TicketPause.objects.filter(ticket__in=tickets.values("pk")).order_by()
    for key, seconds in pauses.values_list(f"ticket__{column}").annotate(s=Sum(paused)):
        if key in rows and seconds is not None:
            rows[key].paused_seconds = round(seconds.total_seconds(), 1)
    overall = pauses.aggregate(s=Sum(paused))["s"]
    total.paused_seconds = round(overall.total_seconds(), 1) if overall is not None else 0.0
    if _native_percentiles(tickets):
        summaries, overall_summary = business_summaries_in_database(
            tickets, column, now=now, start=start, end=end
        )
    else:
        groups, overall_times = business_times(tickets, column, now=now)
        summaries = {key: summarize(times) for key, times in groups.items()}
        overall_summary = summarize(overall_times)
    for key, summary in summaries.items():
        if key in rows:
            _set_business(rows[key], summary)
    _set_business(total, overall_summary)


def _set_business(row: ComplianceRow, summary: BusinessSummary) -> None:
    row.first_response_business_median_seconds = summary.first_response_median_seconds
    row.first_response_business_p90_seconds = summary.first_response_p90_seconds
    row.resolution_business_median_seconds = summary.resolution_median_seconds
    row.resolution_business_p90_seconds = summary.resolution_p90_seconds
    row.paused_business_seconds = summary.paused_seconds


def _window_percentiles(
    rows: dict[Any, ComplianceRow],
    total: ComplianceRow,
    tickets: QuerySet[Ticket],
    column: str,
) -> None:
    """Both metrics' percentiles, per row and for the total, without percentile_cont."""
    for name, (present, elapsed) in _ELAPSED.items():
        measured = tickets.filter(**{f"{present}__isnull": False})
        for group_column, targets in ((column, rows), (None, {ALL: total})):
            for key, (median, p90) in _percentiles(measured, elapsed, group_column).items():
                row = targets.get(key if group_column else ALL)
                if row is not None:
                    setattr(row, f"{name}_median_seconds", median)
                    setattr(row, f"{name}_p90_seconds", p90)


def _percentiles(
    tickets: QuerySet[Ticket], elapsed: Expression, column: str | None
) -> dict[Any, tuple[float | None, float | None]]:
    """Per group, percentile_cont(0.5) and (0.9) of `elapsed`, in seconds.

    percentile_cont(p) of n sorted values is the value at 0-based position p*(n-1),
    interpolated between the two ranks around it; only rows within one rank of a wanted
    position are read back."""
    partition = [F(column)] if column else []
    ranked = tickets.order_by().annotate(
        elapsed=ExpressionWrapper(elapsed, output_field=DurationField()),
        rank=Window(RowNumber(), partition_by=partition, order_by=[F("elapsed").asc(), F("id")]),
        n=Window(Count("id"), partition_by=partition),
    )
    near = Q()
    for p in PERCENTILES:
        distance = ExpressionWrapper(
            F("rank") - Value(1) - Value(p) * (F("n") - Value(1)), output_field=FloatField()
        )
        near |= Q(**{f"near_{int(p * 100)}__gt": -1, f"near_{int(p * 100)}__lt": 1})
        ranked = ranked.annotate(**{f"near_{int(p * 100)}": distance})
    picked: dict[Any, dict[int, float]] = {}
    sizes: dict[Any, int] = {}
    fields = [column] if column else []
    for found in ranked.filter(near).values(*fields, "elapsed", "rank", "n"):
        key = found[column] if column else ALL
        picked.setdefault(key, {})[found["rank"] - 1] = found["elapsed"].total_seconds()
        sizes[key] = found["n"]
    result: dict[Any, tuple[float | None, float | None]] = {}
    for key, values in picked.items():
        median, p90 = (_interpolate(values, p * (sizes[key] - 1)) for p in PERCENTILES)
        result[key] = (median, p90)
    return result


def _interpolate(values: dict[int, float], position: float) -> float | None:
    low, high = math.floor(position), math.ceil(position)
    if low not in values or high not in values:
        return None
    return round(values[low] + (values[high] - values[low]) * (position - low), 1)


def _decided(tickets: QuerySet[Ticket], *, bucket: str, zone: ZoneInfo) -> dict[date, list[int]]:
    """Per day or week (its first day, in `zone`): [achieved, breached] of `tickets`."""
    starts = (
        TruncDate("created_at", tzinfo=zone)
        if bucket == "day"
        else TruncWeek("created_at", tzinfo=zone)
    )
    found = (
        tickets.order_by()
        .annotate(starts=starts)
        .values("starts")
        .annotate(
            achieved=Count("id", filter=Q(**{_STATE: SlaState.ACHIEVED})),
            breached=Count("id", filter=Q(**{_STATE: SlaState.BREACHED})),
        )
    )
    decided: dict[date, list[int]] = {}
    for row in found:
        starts_on = row["starts"]
        if isinstance(starts_on, datetime):
            starts_on = starts_on.astimezone(zone).date()
        decided[starts_on] = [row["achieved"], row["breached"]]
    return decided


def _add_quarters(
    decided: dict[date, list[int]],
    day: date,
    quarters: dict[str, list[int]],
    *,
    bucket: str,
    zone: ZoneInfo,
) -> None:
    """Add a UTC day's outcomes per quarter of an hour (tickets.rollup) to the days or
    weeks of `zone` they fall in: a UTC day spans two dates of any other zone, split at
    that zone's midnight, which falls on a quarter of an hour in every zone in use."""
    midnight = datetime.combine(day, time(), tzinfo=UTC)
    first = midnight.astimezone(zone).date()
    following = datetime.combine(first + timedelta(days=1), time(), tzinfo=zone)
    split = math.ceil((following.astimezone(UTC) - midnight) / rollup.QUARTER)
    split = min(max(split, 0), rollup.QUARTERS)
    for local_day, part in (
        (first, slice(0, split)),
        (first + timedelta(days=1), slice(split, None)),
    ):
        achieved = sum(quarters.get(SlaState.ACHIEVED, ())[part])
        breached = sum(quarters.get(SlaState.BREACHED, ())[part])
        if achieved or breached:
            pair = decided.setdefault(_bucket_of(local_day, bucket), [0, 0])
            pair[0] += achieved
            pair[1] += breached


def _bucket_of(day: date, bucket: str) -> date:
    return day if bucket == "day" else day - timedelta(days=day.weekday())


def _points(
    decided: dict[date, list[int]], *, bucket: str, start: datetime, end: datetime, zone: ZoneInfo
) -> list[Point]:
    """Every day or week of [start, end) in `zone`, those with nothing decided included
    (None), so that the chart's axis is a calendar."""
    step = timedelta(days=1 if bucket == "day" else 7)
    day = _bucket_of(start.astimezone(zone).date(), bucket)
    last = end.astimezone(zone).date()
    points = []
    while day < last:
        achieved, breached = decided.get(day, (0, 0))
        percent = round(100 * achieved / (achieved + breached), 1) if achieved + breached else None
        points.append(Point(starts_on=day, achieved_percent=percent))
        day += step
    return points


# The rate limit group of every way to ask for a report (API, page, CSV): one budget.
RATELIMIT_GROUP = "reports-compliance"


def compliance_for(
    user: User | AnonymousUser,
    filters: dict[str, Any],
    *,
    now: datetime,
    zone: ZoneInfo | None = None,
) -> ComplianceReport:
    """The report a valid ComplianceFilters asks for, its days in `zone`, else in the
    filters' `tz`, else in settings.TIME_ZONE."""
    zone = zone or filters.get("tz") or default_zone()
    start, end = period_bounds(
        filters["period"], start=filters.get("start"), end=filters.get("end"), now=now, zone=zone
    )
    return compliance(user, start=start, end=end, group_by=filters["group_by"], now=now, zone=zone)


# A row's numbers, in the order of the CSV's columns and the API's fields.
ROW_FIELDS = (
    "key",
    "name",
    "tickets",
    "achieved",
    "breached",
    "achieved_percent",
    "first_response_breached",
    "first_response_median_seconds",
    "first_response_p90_seconds",
    "resolution_median_seconds",
    "resolution_p90_seconds",
    "paused_seconds",
    "first_response_business_median_seconds",
    "first_response_business_p90_seconds",
    "resolution_business_median_seconds",
    "resolution_business_p90_seconds",
    "paused_business_seconds",
)


def csv_lines(report: ComplianceReport) -> Iterable[list[str]]:
    """The CSV's header, a line per row, and the total last: the API's numbers as text
    (an empty cell where the API says null)."""
    yield ["group_by", *ROW_FIELDS, "start", "end", "percentiles"]
    for row in [*report.rows, report.total]:
        values = (getattr(row, name) for name in ROW_FIELDS)
        yield [
            report.group_by,
            *("" if value is None else str(value) for value in values),
            report.start.isoformat(),
            report.end.isoformat(),
            report.percentiles,
        ]
