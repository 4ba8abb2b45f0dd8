"""sla.quiet_hours: when a person's quiet time ends, across midnight and DST. Pure."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from sla.business_time import Calendar
from sla.quiet_hours import QuietHours

BERLIN = ZoneInfo("Europe/Berlin")
NIGHTS = QuietHours(zone=BERLIN, start=time(22), end=time(7))


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (berlin(2026, 6, 10, 21, 59), None),
        (berlin(2026, 6, 10, 22, 0), berlin(2026, 6, 11, 7, 0)),
        (berlin(2026, 6, 10, 23, 30), berlin(2026, 6, 11, 7, 0)),
        (berlin(2026, 6, 11, 3, 0), berlin(2026, 6, 11, 7, 0)),
        (berlin(2026, 6, 11, 7, 0), None),
        (berlin(2026, 6, 11, 12, 0), None),
    ],
)
def test_nights_in_berlin_end_at_seven_local_time(now, until):
    assert NIGHTS.until(now) == until


def test_the_night_the_clocks_go_forward_ends_at_seven_local_an_hour_sooner_in_utc():
    """29 March 2026: Berlin goes from UTC+1 to UTC+2 at 02:00. Quiet from 22:00 on the
    28th (21:00 UTC) ends at 07:00 local on the 29th, 05:00 UTC: 8 hours, not 9."""
    evening = datetime(2026, 3, 28, 21, 30, tzinfo=UTC)
    ends = NIGHTS.until(evening)
    assert ends == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)
    assert ends is not None
    assert ends.astimezone(BERLIN).hour == 7


def test_the_night_the_clocks_go_back_ends_at_seven_local_an_hour_later_in_utc():
    """25 October 2026: back from UTC+2 to UTC+1. 07:00 local is 06:00 UTC."""
    evening = datetime(2026, 10, 24, 20, 30, tzinfo=UTC)  # 22:30 in Berlin
    assert NIGHTS.until(evening) == datetime(2026, 10, 25, 6, 0, tzinfo=UTC)


def test_a_span_within_one_day():
    lunch = QuietHours(zone=BERLIN, start=time(12), end=time(13))
    assert lunch.until(berlin(2026, 6, 10, 12, 30)) == berlin(2026, 6, 10, 13, 0)
    assert lunch.until(berlin(2026, 6, 10, 13, 30)) is None


def test_quiet_whenever_a_calendar_is_closed():
    weekdays = Calendar(
        time_zone="Europe/Berlin", weekly_hours={d: [(time(8), time(18))] for d in range(5)}
    )
    hours = QuietHours(zone=BERLIN, calendar=weekdays)
    saturday = berlin(2026, 6, 13, 10, 0)
    assert hours.until(saturday) == berlin(2026, 6, 15, 8, 0)
    assert hours.until(berlin(2026, 6, 15, 9, 0)) is None


def test_no_quiet_hours_is_never_quiet():
    assert QuietHours(zone=BERLIN).until(berlin(2026, 6, 10, 3, 0)) is None
