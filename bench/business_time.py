"""Business-time benchmark: calls/s of Calendar.add, against a day-by-day walk.

    .venv/bin/python bench/business_time.py             # about a minute
    .venv/bin/python bench/business_time.py --quick     # a few seconds

Two calendars: the typical one (Europe/Berlin, Monday to Friday 9-12 and 13-17, German
holidays) and a 24x7 one in Europe/Berlin. A business day is 7 hours on the first and 24
on the second. Each duration runs over the same 1,000 starts spread over 2026-2027, as
UTC datetimes (what the database hands back). The baseline walks the calendar day by day,
as a straightforward implementation would, with the holidays already in a set; its
results are checked against the module's before anything is timed.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from holidays import country_holidays  # noqa: E402

from sla.business_time import Calendar  # noqa: E402

TARGET_CALLS_PER_S = 100_000
STARTS = 1_000
SEED = 20261127


class DayByDay:
    """The baseline: walk local days from the start, summing each day's open intervals."""

    def __init__(self, calendar: Calendar) -> None:
        self.zone = ZoneInfo(calendar.time_zone)
        self.weekly_hours = calendar.weekly_hours
        self.holidays: set[date] = set(calendar.holidays)
        if calendar.holiday_country:
            self.holidays |= set(
                country_holidays(
                    calendar.holiday_country,
                    subdiv=calendar.holiday_subdivision,
                    years=range(2020, 2035),
                )
            )

    def add(self, start: datetime, duration: timedelta) -> datetime:
        if not duration:
            return start
        remaining = duration
        day = start.astimezone(self.zone).date()
        while True:
            if day not in self.holidays:
                for opens, closes in self.weekly_hours.get(day.weekday(), ()):
                    closing_day = day + timedelta(days=1) if closes == time(0) else day
                    # Real elapsed time: compare and subtract in UTC.
                    opening = datetime.combine(day, opens, self.zone).astimezone(UTC)
                    closing = datetime.combine(closing_day, closes, self.zone).astimezone(UTC)
                    opening = max(opening, start)
                    if closing <= opening:
                        continue
                    if remaining <= closing - opening:
                        return (opening + remaining).astimezone(start.tzinfo)
                    remaining -= closing - opening
            day += timedelta(days=1)


def calls_per_second(
    add: Callable[[datetime, timedelta], datetime],
    starts: list[datetime],
    duration: timedelta,
    *,
    budget_s: float,
    repeats: int,
) -> float:
    """Median over `repeats` runs; each run repeats the starts until `budget_s` is spent."""
    rates = []
    for _ in range(repeats):
        calls = 0
        began = clock.perf_counter()
        while True:
            for start in starts:
                add(start, duration)
            calls += len(starts)
            elapsed = clock.perf_counter() - began
            if elapsed >= budget_s:
                break
        rates.append(calls / elapsed)
    return statistics.median(rates)


def random_starts(count: int) -> list[datetime]:
    rng = random.Random(SEED)
    first = datetime(2026, 1, 1, tzinfo=UTC)
    span_s = 2 * 365 * 86_400
    return [first + timedelta(seconds=rng.randrange(span_s)) for _ in range(count)]


def cold_start_ms(calendar: Calendar, start: datetime) -> float:
    """The first add of the process: it builds the year's table and holidays.

    Later calendars equal to this one share the table, so this is paid once per calendar
    and year in a process.
    """
    began = clock.perf_counter()
    calendar.add(start, timedelta(hours=1))
    return (clock.perf_counter() - began) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per run (1.0)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per number (3)")
    parser.add_argument("--quick", action="store_true", help="--budget 0.2 --repeats 1")
    args = parser.parse_args()
    budget_s, repeats = (0.2, 1) if args.quick else (args.budget, args.repeats)

    def typical() -> Calendar:  # a new object each time, as the ORM would build it
        return Calendar(
            time_zone="Europe/Berlin",
            weekly_hours={day: [(time(9), time(12)), (time(13), time(17))] for day in range(5)},
            holiday_country="DE",
        )

    starts = random_starts(STARTS)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores; other work adds noise)")
    print(f"cold start (first add in the process): {cold_start_ms(typical(), starts[0]):.1f} ms")
    berlin_starts = [start.astimezone(ZoneInfo("Europe/Berlin")) for start in starts]
    seven_hours, one_day = timedelta(hours=7), timedelta(hours=24)
    cases = [
        ("Mon-Fri 9-17, lunch, DE", typical(), starts, seven_hours),
        ("24x7", Calendar.always_open("Europe/Berlin"), starts, one_day),
        # The result comes back in the start's zone: converting to Berlin time costs more.
        ("same, starts in Berlin", typical(), berlin_starts, seven_hours),
    ]
    print(f"{budget_s:.1f} s per run, median of {repeats}; {STARTS} starts over 2026-2027, in UTC")
    print()
    header = f"{'calendar':<25} {'duration':<17} {'add() calls/s':>14} {'day by day':>12} {'x':>7}"
    print(header)
    print("-" * len(header))
    slowest = float("inf")
    for name, calendar, case_starts, business_day in cases:
        baseline = DayByDay(calendar)
        for label, duration in [
            ("1 hour", timedelta(hours=1)),
            ("8 hours", timedelta(hours=8)),
            ("5 business days", 5 * business_day),
            ("30 business days", 30 * business_day),
        ]:
            for start in case_starts:
                expected = calendar.add(start, duration)
                assert baseline.add(start, duration) == expected, (name, label, start)
            ours = calls_per_second(
                calendar.add, case_starts, duration, budget_s=budget_s, repeats=repeats
            )
            theirs = calls_per_second(
                baseline.add, case_starts, duration, budget_s=budget_s, repeats=repeats
            )
            slowest = min(slowest, ours)
            print(f"{name:<25} {label:<17} {ours:>14,.0f} {theirs:>12,.0f} {ours / theirs:>6.1f}x")
    print()
    verdict = "met" if slowest >= TARGET_CALLS_PER_S else "MISSED"
    print(f"target {TARGET_CALLS_PER_S:,} add() calls/s: {verdict} (slowest {slowest:,.0f})")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
