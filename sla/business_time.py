"""Business time: when a business calendar is open, and durations counted in open time.

Pure arithmetic on aware datetimes: nothing here knows the ORM or reads the clock.

Opening hours are local wall-clock times. DST makes some wall-clock times happen never or
twice, so this module reads a wall-clock time of a given day as *the first instant at which
the local clock shows that time or later*:

- In a gap (spring forward: in Berlin 02:00-03:00 does not exist), a time inside the gap
  means the instant of the jump. An interval 01:00-04:00 is then 2 hours long, 02:00-03:00
  is empty, and 02:30-05:00 opens at the jump (03:00 summer time).
- In a fold (fall back: in Berlin 02:00-03:00 happens twice), a time means its first
  occurrence. An interval 01:00-04:00 is then 4 hours long, 02:00-03:00 is 2 hours (both
  passes), 01:00-02:30 ends at the first 02:30 (1.5 hours) and 02:30-04:00 opens there
  (2.5 hours).

This reading never goes backwards in time, so a day's intervals never overlap and
splitting an interval at any time keeps its total length.

Speed: each local year is turned once into a sorted list of open intervals in UTC
microseconds with running totals of open time (cached per calendar, and shared between
equal calendars). `add` and `between` are then a few bisections, however long the
duration, plus one step per year boundary crossed.

Results come back in the zone of the instant passed in. Compare and store them in UTC:
Python compares two datetimes of one zone by wall clock, ignoring `fold`, and never finds
one inside a repeated hour equal to a datetime of another zone (PEP 495).
"""

from __future__ import annotations

import functools
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from holidays import country_holidays, list_supported_countries

OpenInterval = tuple[time, time]
"""Opening and closing wall-clock time; a closing time of time(0) means midnight at the end."""

WeeklyHours = Mapping[int, Sequence[OpenInterval]]
"""Open intervals by weekday, 0 (Monday) to 6 (Sunday), as date.weekday() counts."""

# Per weekday, open intervals as (start, end) seconds after local midnight, end <= 86,400.
_Week = tuple[tuple[tuple[int, int], ...], ...]

MAX_CLOSED_YEARS = 10
"""Searching for open time gives up after this many years in a row without any.

Open hours on some weekday do not guarantee open time: explicit holidays can cover years,
and hours can lie entirely inside a DST gap. Without a limit such a calendar would make
`add` and `next_open` loop forever.
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WALL_EPOCH = datetime(1970, 1, 1)  # noqa: DTZ001 -- naive on purpose: wall-clock arithmetic
_MICROSECOND = timedelta(microseconds=1)
_SECOND = timedelta(seconds=1)
_ONE_DAY = timedelta(days=1)
_NO_TIME = timedelta(0)
_DAY_S = 86_400
_US_PER_S = 1_000_000
# A local year starts within two days of where the mean Gregorian year puts it, so a year
# estimated with it is off by at most one.
_MEAN_YEAR_US = 31_556_952 * _US_PER_S
_FIRST_YEAR = 1
_LAST_YEAR = 9998  # the last local year whose end (next January 1st) is still a datetime


@dataclass(frozen=True)
class Calendar:
    """When a business is open: weekly wall-clock hours in one time zone, less holidays.

    Immutable and hashable; equal calendars share their precomputed years. Holidays are
    the explicit `holidays` dates plus, when `holiday_country` is set, the public holidays
    the `holidays` package knows for that country (and ISO subdivision).
    """

    time_zone: str
    weekly_hours: WeeklyHours = field(compare=False)
    holidays: frozenset[date] = frozenset()
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    _week: _Week = field(init=False, repr=False)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _years: dict[int, _Year] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown time zone {self.time_zone!r}") from exc
        week = _week_from(self.weekly_hours)
        holidays = _holiday_dates_from(self.holidays)
        if self.holiday_subdivision is not None and self.holiday_country is None:
            raise ValueError("holiday_subdivision needs a holiday_country")
        if self.holiday_country is not None:
            _check_holiday_country(self.holiday_country, self.holiday_subdivision)
        # The normalized forms replace what the caller passed, so that a dict or set the
        # caller keeps cannot change the calendar afterwards.
        readable = MappingProxyType(
            {
                weekday: tuple((_wall_time(start), _wall_time(end)) for start, end in intervals)
                for weekday, intervals in enumerate(week)
                if intervals
            }
        )
        object.__setattr__(self, "weekly_hours", readable)
        object.__setattr__(self, "holidays", holidays)
        object.__setattr__(self, "_week", week)
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_years", {})

    @classmethod
    def always_open(
        cls,
        time_zone: str = "UTC",
        *,
        holidays: Iterable[date] = (),
        holiday_country: str | None = None,
        holiday_subdivision: str | None = None,
    ) -> Calendar:
        """A 24x7 calendar (closed only on the holidays given, if any)."""
        return cls(
            time_zone=time_zone,
            weekly_hours={weekday: [(time(0), time(0))] for weekday in range(7)},
            holidays=frozenset(holidays),
            holiday_country=holiday_country,
            holiday_subdivision=holiday_subdivision,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # A mappingproxy can't be pickled or copied; rebuild from plain data instead.
        return (
            type(self),
            (
                self.time_zone,
                dict(self.weekly_hours),
                self.holidays,
                self.holiday_country,
                self.holiday_subdivision,
            ),
        )

    # --- queries ----------------------------------------------------------------------

    def is_open(self, instant: datetime) -> bool:
        """Whether the business is open at `instant` (opening included, closing excluded)."""
        at = _microseconds(instant)
        return bool(bisect_right(self._year_at(at).bounds, at) & 1)

    def next_open(self, instant: datetime) -> datetime:
        """`instant` if open then, else the next opening; in the time zone of `instant`."""
        at = _microseconds(instant)
        year = self._year_at(at)
        index = bisect_right(year.bounds, at)
        if index & 1:
            return instant
        closed_years = 0
        while index == len(year.bounds):
            closed_years = closed_years + 1 if not year.bounds else 0
            self._give_up_after(closed_years, instant)
            year = self._year(year.year + 1)
            index = 0
        return _instant(year.bounds[index], instant.tzinfo)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant at which `duration` of open time has elapsed since `start`.

        Counting starts at `start` if open, else at the next opening. A positive duration
        ends inside an open interval or exactly at its closing; a zero one returns `start`.
        The result is in the time zone of `start`.
        """
        at = _microseconds(start)
        needed = _duration_microseconds(duration)
        if needed == 0:
            return start
        year = self._year_at(at)
        needed += year.elapsed_at(at)
        closed_years = 0
        while needed > year.total:
            needed -= year.total
            closed_years = closed_years + 1 if year.total == 0 else 0
            self._give_up_after(closed_years, start)
            year = self._year(year.year + 1)
        return _instant(year.instant_after(needed), start.tzinfo)

    def subtract(self, end: datetime, duration: timedelta) -> datetime:
        """The earliest instant from which at most `duration` of open time is left to `end`.

        The inverse of `add`: `between(subtract(end, d), end) == d`, so a warning "one
        business hour before the deadline" falls at the open instant one open hour before
        it (or at the closing before a closed stretch, when that is where the hour starts).
        A zero duration returns `end`. The result is in the time zone of `end`.
        """
        needed = _duration_microseconds(duration)
        if needed == 0:
            return end
        at = _microseconds(end)
        year = self._year_at(at)
        # Open time counted from the start of `year` at which the answer lies.
        needed = year.elapsed_at(at) - needed
        closed_years = 0
        while needed <= 0:
            year = self._year(year.year - 1)
            needed += year.total
            closed_years = closed_years + 1 if year.total == 0 else 0
            self._give_up_after(closed_years, end)
        return _instant(year.instant_after(needed), end.tzinfo)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Open time between two instants; zero if `end` is not after `start`."""
        return timedelta(
            microseconds=self.open_microseconds(_microseconds(start), _microseconds(end))
        )

    def open_microseconds(self, from_at: int, to_at: int) -> int:
        """`between` for instants given as microseconds since 1970-01-01 UTC, in
        microseconds: what a reader of many rows uses, building no datetime per row."""
        if to_at <= from_at:
            return 0
        first = self._year_at(from_at)
        last = self._year_at(to_at)
        if first is last:
            return last.elapsed_at(to_at) - first.elapsed_at(from_at)
        elapsed = first.total - first.elapsed_at(from_at) + last.elapsed_at(to_at)
        for number in range(first.year + 1, last.year):
            elapsed += self._year(number).total
        return elapsed

    def open_spans(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The open intervals between two instants, clipped to them, oldest first, in the
        time zone of `start` (what a timeline shades as open; the rest is closed).

        An interval that runs over a local new year comes as two that touch.
        """
        from_at = _microseconds(start)
        to_at = _microseconds(end)
        spans: list[tuple[datetime, datetime]] = []
        if to_at <= from_at:
            return spans
        year = self._year_at(from_at)
        while True:
            bounds = year.bounds
            for k in range(bisect_right(bounds, from_at) & ~1, len(bounds), 2):
                opens, closes = max(bounds[k], from_at), min(bounds[k + 1], to_at)
                if opens >= to_at:
                    break
                if opens < closes:
                    spans.append((_instant(opens, start.tzinfo), _instant(closes, start.tzinfo)))
            if year.end >= to_at:
                return spans
            year = self._year(year.year + 1)

    # --- precomputed years ------------------------------------------------------------

    def _year(self, number: int) -> _Year:
        year = self._years.get(number)
        if year is None:
            year = _year_table(
                self.time_zone,
                self._week,
                self.holidays,
                self.holiday_country,
                self.holiday_subdivision,
                number,
            )
            self._years[number] = year
        return year

    def _year_at(self, at: int) -> _Year:
        """The local year that contains the instant `at` (microseconds since the epoch)."""
        year = self._year(1970 + at // _MEAN_YEAR_US)
        if at < year.start:
            return self._year(year.year - 1)
        if at >= year.end:
            return self._year(year.year + 1)
        return year

    def _give_up_after(self, closed_years: int, since: datetime) -> None:
        if closed_years > MAX_CLOSED_YEARS:
            raise ValueError(
                f"{self!r} has no open time in the {MAX_CLOSED_YEARS} years after {since}"
            )


class _Year:
    """One local year of a calendar, as open intervals in UTC microseconds."""

    __slots__ = ("bounds", "elapsed", "end", "start", "total", "year")

    def __init__(self, year: int, start: int, end: int, bounds: list[int]) -> None:
        self.year = year
        self.start = start  # local January 1st, 00:00
        self.end = end  # local January 1st of the next year, 00:00
        # Opening and closing instants, alternating and increasing: an instant is open when
        # bisect_right() lands on an odd index.
        self.bounds = bounds
        # elapsed[k]: open time in the year before the k-th interval; its last item is the
        # year's total.
        self.elapsed = [0]
        for k in range(0, len(bounds), 2):
            self.elapsed.append(self.elapsed[-1] + bounds[k + 1] - bounds[k])
        self.total = self.elapsed[-1]

    def elapsed_at(self, at: int) -> int:
        """Open time from the start of the year up to the instant `at`."""
        index = bisect_right(self.bounds, at)
        if index & 1:
            return self.elapsed[index >> 1] + at - self.bounds[index - 1]
        return self.elapsed[index >> 1]

    def instant_after(self, elapsed: int) -> int:
        """The earliest instant at which `elapsed` (0 < elapsed <= total) has elapsed."""
        k = bisect_left(self.elapsed, elapsed) - 1
        return self.bounds[2 * k] + elapsed - self.elapsed[k]


@functools.lru_cache(maxsize=512)
def _year_table(
    time_zone: str,
    week: _Week,
    explicit_holidays: frozenset[date],
    holiday_country: str | None,
    holiday_subdivision: str | None,
    number: int,
) -> _Year:
    if not _FIRST_YEAR <= number <= _LAST_YEAR:
        raise ValueError(f"business time is computed for the years {_FIRST_YEAR}-{_LAST_YEAR}")
    zone = ZoneInfo(time_zone)
    closed = explicit_holidays
    if holiday_country is not None:
        closed = closed | _country_holidays(holiday_country, holiday_subdivision, number)
    bounds: list[int] = []
    day = date(number, 1, 1)
    midnight = datetime(number, 1, 1)  # noqa: DTZ001 -- wall clock
    while day.year == number:
        intervals = week[day.weekday()]
        if intervals and day not in closed:
            for start_s, end_s in intervals:
                opens = _first_instant_showing(zone, midnight + timedelta(seconds=start_s))
                closes = _first_instant_showing(zone, midnight + timedelta(seconds=end_s))
                if closes <= opens:  # entirely inside a DST gap
                    continue
                if bounds and bounds[-1] == opens:  # open across midnight, or up to a gap
                    bounds[-1] = closes
                else:
                    bounds += (opens, closes)
        day += _ONE_DAY
        midnight += _ONE_DAY
    return _Year(
        number,
        start=_first_instant_showing(zone, datetime(number, 1, 1)) * _US_PER_S,  # noqa: DTZ001
        end=_first_instant_showing(zone, midnight) * _US_PER_S,
        bounds=[second * _US_PER_S for second in bounds],
    )


def _first_instant_showing(zone: ZoneInfo, wall: datetime) -> int:
    """Seconds since the epoch of the first instant at which `zone`'s clock shows `wall` or later.

    The module docstring explains why this is the reading of a wall-clock time.
    """
    wall_s = (wall - _WALL_EPOCH) // _SECOND
    # fold=0 gives the offset in force before a transition, fold=1 the one after.
    before = _offset_s(wall.replace(tzinfo=zone))
    after = _offset_s(wall.replace(tzinfo=zone, fold=1))
    if before >= after:
        # Unambiguous, or a fold, where the offset before the change is the first pass.
        return wall_s - before
    # A gap: the clock jumps over `wall` at some instant in (low, high]; find the jump.
    # Transitions fall on whole seconds, so bisecting seconds finds it exactly.
    low, high = wall_s - after, wall_s - before
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_s((_EPOCH + timedelta(seconds=middle)).astimezone(zone)) == before:
            low = middle
        else:
            high = middle
    return high


def _offset_s(aware: datetime) -> int:
    offset = aware.utcoffset()
    assert offset is not None  # noqa: S101 -- a ZoneInfo always has an offset
    return offset // _SECOND


@functools.lru_cache(maxsize=1024)
def _country_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    # Building the holidays of a year takes the `holidays` package about 0.2 ms.
    return frozenset(country_holidays(country, subdiv=subdivision, years=year))


@functools.lru_cache(maxsize=64)
def _check_holiday_country(country: str, subdivision: str | None) -> None:
    try:
        # A name that is not a listed code ("__dict__") is an attribute of the package,
        # not a country, to country_holidays().
        if country not in list_supported_countries():
            raise NotImplementedError(country)
        country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:  # how `holidays` says "unknown country or subdivision"
        raise ValueError(f"no holidays known for {country!r}/{subdivision!r}: {exc}") from exc


def _week_from(weekly_hours: WeeklyHours) -> _Week:
    if not isinstance(weekly_hours, Mapping):
        raise ValueError("weekly_hours must map weekdays (0 = Monday) to open intervals")
    days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for weekday, intervals in weekly_hours.items():
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ValueError(f"weekday {weekday!r} is not 0 (Monday) to 6 (Sunday)")
        for interval in intervals:
            if not isinstance(interval, tuple | list) or len(interval) != 2:
                raise ValueError(f"an open interval is (opens, closes), not {interval!r}")
            opens, closes = interval
            start_s = _seconds_of_day(opens)
            end_s = _seconds_of_day(closes) or _DAY_S
            if start_s >= end_s:
                raise ValueError(
                    f"interval {opens}-{closes} on weekday {weekday} does not end after it "
                    "opens (use time(0) as closing time for midnight, and split intervals "
                    "that run over midnight)"
                )
            days[weekday].append((start_s, end_s))
    if not any(days):
        raise ValueError(
            "a business calendar needs open hours on at least one weekday "
            "(BusinessCalendar.always_open() makes a 24x7 one)"
        )
    return tuple(_merged(sorted(intervals)) for intervals in days)


def _merged(intervals: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sorted intervals with the overlapping and touching ones joined."""
    merged: list[tuple[int, int]] = []
    for start_s, end_s in intervals:
        if merged and start_s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end_s))
        else:
            merged.append((start_s, end_s))
    return tuple(merged)


def _seconds_of_day(wall: object) -> int:
    if not isinstance(wall, time) or wall.tzinfo is not None or wall.microsecond:
        raise ValueError(f"opening hours are naive wall-clock times to the second, not {wall!r}")
    return wall.hour * 3600 + wall.minute * 60 + wall.second


def _wall_time(seconds: int) -> time:
    if seconds == _DAY_S:
        return time(0)
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


def _holiday_dates_from(dates: Iterable[date]) -> frozenset[date]:
    result = frozenset(dates)
    for day in result:
        # datetime is a subclass of date, and hashes differently from the same day.
        if not isinstance(day, date) or isinstance(day, datetime):
            raise ValueError(f"holidays are dates, not {day!r}")
    return result


def _microseconds(instant: datetime) -> int:
    """Microseconds since the epoch; refuses naive datetimes (and anything else)."""
    if not isinstance(instant, datetime) or instant.utcoffset() is None:
        raise ValueError(f"business time needs a timezone-aware datetime, not {instant!r}")
    return (instant - _EPOCH) // _MICROSECOND


def _duration_microseconds(duration: timedelta) -> int:
    if not isinstance(duration, timedelta) or duration < _NO_TIME:
        raise ValueError(f"a business duration is a timedelta of zero or more, not {duration!r}")
    return duration // _MICROSECOND


def _instant(microseconds: int, zone: tzinfo | None) -> datetime:
    result = _EPOCH + timedelta(microseconds=microseconds)
    return result if zone is UTC else result.astimezone(zone)


# What a ticket without a policy is measured on: wall-clock time.
WALL_CLOCK = Calendar.always_open("UTC")
