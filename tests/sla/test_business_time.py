"""sla.business_time: a calendar's open hours, and durations counted in them.

No database. The worked examples are checked by hand, with the reasoning in comments. The
properties compare the module with a reference written straight from the definitions: it
walks day by day and finds each DST change by sampling UTC offsets, so it shares neither
the module's year tables nor its reading of gap and fold times.
"""

import copy
import pickle
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays as holiday_data
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sla.business_time import MAX_CLOSED_YEARS, Calendar
from tests.durations import HOUR, MINUTE

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
SECOND = timedelta(seconds=1)
MICROSECOND = timedelta(microseconds=1)
MONDAY_TO_FRIDAY = range(5)
SATURDAY, SUNDAY = 5, 6

# Mon-Fri 9-17, German national holidays.
NINE_TO_FIVE = Calendar(
    time_zone="Europe/Berlin",
    weekly_hours={day: [(time(9), time(17))] for day in MONDAY_TO_FRIDAY},
    holiday_country="DE",
)
# The typical calendar: Mon-Fri 9-12 and 13-17 (7 hours a day), Berlin's holidays.
OFFICE = Calendar(
    time_zone="Europe/Berlin",
    weekly_hours={day: [(time(9), time(12)), (time(13), time(17))] for day in MONDAY_TO_FRIDAY},
    holiday_country="DE",
    holiday_subdivision="BE",
)


def wall_clock(zone: ZoneInfo) -> Callable[..., datetime]:
    def at(
        year: int,
        month: int,
        day: int,
        hour: int = 0,
        minute: int = 0,
        second: int = 0,
        microsecond: int = 0,
    ) -> datetime:
        return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)

    return at


berlin = wall_clock(BERLIN)
new_york = wall_clock(NEW_YORK)
lord_howe = wall_clock(LORD_HOWE)


def night_desk(time_zone: str) -> Calendar:
    """Open from Saturday 22:00 to Sunday 06:00: over the night the clocks change."""
    return Calendar(
        time_zone=time_zone,
        weekly_hours={SATURDAY: [(time(22), time(0))], SUNDAY: [(time(0), time(6))]},
    )


def sundays(opens: time, closes: time, time_zone: str) -> Calendar:
    return Calendar(time_zone=time_zone, weekly_hours={SUNDAY: [(opens, closes)]})


def open_time_on(calendar: Calendar, day: date, zone: ZoneInfo) -> timedelta:
    midnight = datetime.combine(day, time(0), zone)
    return calendar.between(midnight, datetime.combine(day + timedelta(days=1), time(0), zone))


# --- Worked examples, office hours and holidays -------------------------------------------


def test_four_hours_from_friday_afternoon_end_on_monday_at_noon():
    # Friday 16-17 is the first hour; Monday 9-12 the other three.
    assert NINE_TO_FIVE.add(berlin(2027, 3, 19, 16), 4 * HOUR) == berlin(2027, 3, 22, 12)


def test_easter_moves_four_hours_from_maundy_thursday_to_tuesday_noon():
    # Thursday 2027-03-25 16-17 is one hour. Good Friday (26th) is a holiday, then the
    # weekend (Easter Sunday the 28th is also the night Berlin moves to summer time), then
    # Easter Monday (29th) is a holiday. Tuesday 9-12 is the other three hours.
    start = berlin(2027, 3, 25, 16)

    deadline = NINE_TO_FIVE.add(start, 4 * HOUR)

    assert deadline == berlin(2027, 3, 30, 12)
    assert deadline.utcoffset() == 2 * HOUR  # summer time by then
    assert NINE_TO_FIVE.between(start, deadline) == 4 * HOUR


def test_counting_from_good_friday_starts_on_tuesday_morning():
    # Friday 2027-03-26 is Good Friday: closed all day, and so are the weekend and Easter
    # Monday. Counting starts Tuesday at 9: four hours end at 13.
    assert NINE_TO_FIVE.add(berlin(2027, 3, 26, 16), 4 * HOUR) == berlin(2027, 3, 30, 13)
    assert NINE_TO_FIVE.next_open(berlin(2027, 3, 26, 10)) == berlin(2027, 3, 30, 9)


def test_a_holiday_of_berlin_only_counts_when_the_subdivision_is_given():
    # Monday 2027-03-08 is Women's Day, a holiday in Berlin but not nationwide.
    friday = berlin(2027, 3, 5, 16)

    assert NINE_TO_FIVE.add(friday, 4 * HOUR) == berlin(2027, 3, 8, 12)
    # OFFICE has Berlin's holidays: Friday 16-17, then Tuesday 9-12.
    assert OFFICE.add(friday, 4 * HOUR) == berlin(2027, 3, 9, 12)


def test_a_lunch_break_is_not_counted():
    monday = berlin(2026, 3, 9, 11)

    # 11-12, lunch, 13-14.
    assert OFFICE.add(monday, 2 * HOUR) == berlin(2026, 3, 9, 14)
    assert OFFICE.between(monday, berlin(2026, 3, 9, 14)) == 2 * HOUR
    assert OFFICE.between(berlin(2026, 3, 9, 12), berlin(2026, 3, 9, 13)) == timedelta(0)


def test_an_hour_that_runs_out_at_lunch_ends_at_noon_not_after_lunch():
    assert OFFICE.add(berlin(2026, 3, 9, 11), HOUR) == berlin(2026, 3, 9, 12)


def test_the_calendar_is_closed_over_lunch_and_opens_again_at_one():
    assert OFFICE.is_open(berlin(2026, 3, 9, 11, 59))
    assert not OFFICE.is_open(berlin(2026, 3, 9, 12))
    assert OFFICE.is_open(berlin(2026, 3, 9, 13))
    assert OFFICE.next_open(berlin(2026, 3, 9, 12, 30)) == berlin(2026, 3, 9, 13)
    assert OFFICE.next_open(berlin(2026, 3, 9, 10)) == berlin(2026, 3, 9, 10)


def test_four_hours_from_new_years_eve_afternoon_end_on_monday_at_noon():
    # Thursday 2026-12-31 16-17 counts (New Year's Eve is a working day in Germany), Friday
    # 2027-01-01 is a holiday, then the weekend: Monday 9-12 gives the other three hours.
    assert NINE_TO_FIVE.add(berlin(2026, 12, 31, 16), 4 * HOUR) == berlin(2027, 1, 4, 12)


def test_thirty_business_days_end_on_the_thirtieth_working_day_at_closing():
    # 30 business days of OFFICE are 210 hours. From Monday 2026-11-02, with no holiday in
    # Berlin until Christmas: 20 days in the four weeks of November 2-27, Monday 30 is the
    # 21st, December 1-4 make 25, December 7-11 make 30.
    start = berlin(2026, 11, 2, 9)
    thirty_days = 30 * 7 * HOUR

    deadline = OFFICE.add(start, thirty_days)

    assert deadline == berlin(2026, 12, 11, 17)
    assert OFFICE.between(start, deadline) == thirty_days


def test_thirty_business_days_over_christmas_and_the_new_year():
    # From Monday 2026-12-07: December 7-11 (5), 14-18 (10), 21-24 (14; Christmas Eve is
    # a working day), Friday 25th and Saturday 26th are holidays, December 28-31 (18),
    # Friday January 1st is a holiday, January 4-8 (23), 11-15 (28), Monday 18th (29) and
    # Tuesday 19th (30).
    start = berlin(2026, 12, 7, 9)

    assert OFFICE.add(start, 30 * 7 * HOUR) == berlin(2027, 1, 19, 17)


def test_a_duration_of_years_lands_where_adding_it_in_steps_does():
    start = berlin(2026, 5, 4, 10)
    step = 100 * 7 * HOUR

    in_steps = start
    for _ in range(10):
        in_steps = OFFICE.add(in_steps, step)

    assert OFFICE.add(start, 10 * step) == in_steps
    assert in_steps.year == 2030  # about 250 business days a year


def test_microseconds_are_counted_exactly():
    before_closing = berlin(2026, 3, 9, 16, 59, 59, 999_999)

    assert OFFICE.add(before_closing, 3 * MICROSECOND) == berlin(2026, 3, 10, 9, 0, 0, 2)


def test_zero_duration_returns_the_start_even_when_closed():
    saturday = berlin(2026, 3, 14, 10)

    assert OFFICE.add(saturday, timedelta(0)) == saturday
    assert OFFICE.add(saturday, MICROSECOND) == berlin(2026, 3, 16, 9, 0, 0, 1)


def test_the_result_is_in_the_time_zone_of_the_start():
    in_utc = OFFICE.add(datetime(2026, 3, 9, 8, tzinfo=UTC), HOUR)
    in_new_york = OFFICE.add(new_york(2026, 3, 9, 4), HOUR)

    assert in_utc == berlin(2026, 3, 9, 10)
    assert in_utc.tzinfo is UTC
    assert in_new_york.tzinfo is NEW_YORK
    assert OFFICE.next_open(datetime(2026, 3, 14, tzinfo=UTC)).tzinfo is UTC


# --- 24x7 ---------------------------------------------------------------------------------


def test_a_24x7_calendar_adds_real_elapsed_time():
    always = Calendar.always_open()
    start = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)

    assert always.add(start, HOUR) == datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
    assert always.add(start, timedelta(days=400)) == start + timedelta(days=400)
    assert always.between(start, start + timedelta(days=400)) == timedelta(days=400)
    assert always.is_open(start)


def test_a_24x7_calendar_in_berlin_counts_real_hours_over_a_clock_change():
    always = Calendar.always_open("Europe/Berlin")

    # Saturday noon (UTC+1) plus 24 real hours is Sunday 13:00 summer time (UTC+2).
    assert always.add(berlin(2027, 3, 27, 12), 24 * HOUR) == berlin(2027, 3, 28, 13)
    assert open_time_on(always, date(2027, 3, 28), BERLIN) == 23 * HOUR
    assert open_time_on(always, date(2027, 10, 31), BERLIN) == 25 * HOUR


def test_a_24x7_calendar_can_still_close_on_holidays():
    always = Calendar.always_open("Europe/Berlin", holiday_country="DE")

    # Two hours on Christmas Eve, closed on the 25th and 26th, two more on the 27th.
    assert always.add(berlin(2026, 12, 24, 22), 4 * HOUR) == berlin(2026, 12, 27, 2)


# --- DST ----------------------------------------------------------------------------------


def test_the_berlin_night_desk_is_open_seven_real_hours_on_the_spring_forward_night():
    desk = night_desk("Europe/Berlin")
    # 22:00 is UTC+1 (21:00 UTC); at 02:00 the clocks jump to 03:00.
    saturday = berlin(2027, 3, 27, 22)

    assert desk.between(berlin(2027, 3, 27, 20), berlin(2027, 3, 28, 8)) == 7 * HOUR
    # 21:00 UTC + 5 hours = 02:00 UTC = 04:00 summer time.
    assert desk.add(saturday, 5 * HOUR) == berlin(2027, 3, 28, 4)
    assert desk.add(saturday, 7 * HOUR) == berlin(2027, 3, 28, 6)


def test_an_interval_over_a_spring_forward_gap_is_an_hour_shorter():
    # The example: 01:00-04:00 on a day where 02:00-03:00 does not exist.
    calendar = sundays(time(1), time(4), "Europe/Berlin")

    assert open_time_on(calendar, date(2027, 3, 28), BERLIN) == 2 * HOUR
    # 01:00 UTC+1 is 00:00 UTC; 90 minutes later is 01:30 UTC = 03:30 summer time.
    assert calendar.add(berlin(2027, 3, 28), 90 * MINUTE) == berlin(2027, 3, 28, 3, 30)


def test_a_time_inside_a_gap_means_the_instant_of_the_jump():
    opens_in_gap = sundays(time(2, 30), time(5), "Europe/Berlin")
    wholly_in_gap = Calendar(
        time_zone="Europe/Berlin", weekly_hours={SUNDAY: [(time(2), time(3)), (time(9), time(10))]}
    )
    sunday = date(2027, 3, 28)

    assert opens_in_gap.next_open(berlin(2027, 3, 28)) == berlin(2027, 3, 28, 3)
    assert open_time_on(opens_in_gap, sunday, BERLIN) == 2 * HOUR
    assert open_time_on(wholly_in_gap, sunday, BERLIN) == HOUR
    assert wholly_in_gap.next_open(berlin(2027, 3, 28)) == berlin(2027, 3, 28, 9)


def test_an_interval_over_a_fall_back_fold_is_an_hour_longer():
    calendar = sundays(time(1), time(4), "Europe/Berlin")

    assert open_time_on(calendar, date(2027, 10, 31), BERLIN) == 4 * HOUR
    assert open_time_on(calendar, date(2027, 11, 7), BERLIN) == 3 * HOUR


def test_the_new_york_night_desk_is_open_nine_real_hours_on_the_fall_back_night():
    desk = night_desk("America/New_York")
    # Saturday 22:00 EDT is 02:00 UTC; at 02:00 EDT the clocks go back to 01:00 EST.
    saturday = new_york(2027, 11, 6, 22)

    assert desk.between(saturday, new_york(2027, 11, 7, 6)) == 9 * HOUR
    # 02:00 UTC + 8 hours = 10:00 UTC = 05:00 EST: the desk has one more hour to go.
    assert desk.add(saturday, 8 * HOUR) == new_york(2027, 11, 7, 5)


def test_a_time_inside_a_fold_means_its_first_occurrence():
    # On 2027-11-07 New York's clocks show 01:00-02:00 twice: EDT (UTC-4), then EST (UTC-5).
    until_half_past_one = sundays(time(0), time(1, 30), "America/New_York")
    from_half_past_one = sundays(time(1, 30), time(3), "America/New_York")
    sunday = date(2027, 11, 7)

    # 00:00 EDT (04:00 UTC) to the first 01:30 (05:30 UTC).
    assert open_time_on(until_half_past_one, sunday, NEW_YORK) == 90 * MINUTE
    # The first 01:30 (05:30 UTC) to 03:00 EST (08:00 UTC).
    assert open_time_on(from_half_past_one, sunday, NEW_YORK) == 150 * MINUTE
    assert from_half_past_one.next_open(new_york(2027, 11, 7)).utcoffset() == -4 * HOUR
    # Split at 01:30 or not, the day is open for the same four hours.
    whole = sundays(time(0), time(3), "America/New_York")
    assert open_time_on(whole, sunday, NEW_YORK) == 4 * HOUR


def test_lord_howe_springs_forward_by_half_an_hour():
    # On 2027-10-03 Lord Howe's clocks jump from 02:00 (UTC+10:30) to 02:30 (UTC+11).
    calendar = sundays(time(1), time(4), "Australia/Lord_Howe")

    assert open_time_on(calendar, date(2027, 10, 3), LORD_HOWE) == 150 * MINUTE
    # 01:00 UTC+10:30 is 14:30 UTC; two hours later, 16:30 UTC, is 03:30 UTC+11.
    assert calendar.add(lord_howe(2027, 10, 3), 2 * HOUR) == lord_howe(2027, 10, 3, 3, 30)


def test_lord_howe_falls_back_by_half_an_hour():
    # On 2027-04-04 Lord Howe's clocks go back from 02:00 (UTC+11) to 01:30 (UTC+10:30).
    calendar = sundays(time(1), time(4), "Australia/Lord_Howe")

    assert open_time_on(calendar, date(2027, 4, 4), LORD_HOWE) == 210 * MINUTE
    # 01:00 UTC+11 is 14:00 UTC; three hours later, 17:00 UTC, is 03:30 UTC+10:30.
    assert calendar.add(lord_howe(2027, 4, 4), 3 * HOUR) == lord_howe(2027, 4, 4, 3, 30)


# --- Building a calendar ------------------------------------------------------------------


@pytest.mark.parametrize("weekly_hours", [{}, {0: []}, {day: [] for day in range(7)}])
def test_a_calendar_with_no_open_hours_is_rejected(weekly_hours):
    with pytest.raises(ValueError, match="open hours on at least one weekday"):
        Calendar(time_zone="Europe/Berlin", weekly_hours=weekly_hours)


@pytest.mark.parametrize(
    ("weekly_hours", "message"),
    [
        ({0: [(time(17), time(9))]}, "does not end after it opens"),
        ({0: [(time(22), time(6))]}, "does not end after it opens"),
        ({0: [(time(9), time(9))]}, "does not end after it opens"),
        ({7: [(time(9), time(17))]}, "weekday 7"),
        ({0: [(time(9, tzinfo=UTC), time(17))]}, "naive wall-clock times"),
        ({0: [(time(9, 0, 0, 5), time(17))]}, "to the second"),
        ({0: [(9, 17)]}, "naive wall-clock times"),
        ({0: [(time(9),)]}, "an open interval is"),
    ],
)
def test_malformed_opening_hours_are_rejected(weekly_hours, message):
    with pytest.raises(ValueError, match=message):
        Calendar(time_zone="Europe/Berlin", weekly_hours=weekly_hours)


def test_unknown_time_zones_and_holiday_sources_are_rejected():
    hours = {0: [(time(9), time(17))]}
    with pytest.raises(ValueError, match="unknown time zone"):
        Calendar(time_zone="Europe/Atlantis", weekly_hours=hours)
    with pytest.raises(ValueError, match="no holidays known"):
        Calendar(time_zone="UTC", weekly_hours=hours, holiday_country="XX")
    with pytest.raises(ValueError, match="no holidays known"):
        Calendar(time_zone="UTC", weekly_hours=hours, holiday_country="__dict__")
    with pytest.raises(ValueError, match="no holidays known"):
        Calendar(
            time_zone="UTC", weekly_hours=hours, holiday_country="DE", holiday_subdivision="XX"
        )
    with pytest.raises(ValueError, match="needs a holiday_country"):
        Calendar(time_zone="UTC", weekly_hours=hours, holiday_subdivision="BE")
    with pytest.raises(ValueError, match="holidays are dates"):
        Calendar(
            time_zone="UTC",
            weekly_hours=hours,
            holidays=frozenset({datetime(2026, 12, 24, tzinfo=UTC)}),
        )


def test_naive_datetimes_and_negative_durations_are_rejected():
    naive = datetime(2026, 3, 9, 10)  # noqa: DTZ001 -- the point of the test
    aware = berlin(2026, 3, 9, 10)

    for call in (
        lambda: OFFICE.add(naive, HOUR),
        lambda: OFFICE.between(naive, aware),
        lambda: OFFICE.between(aware, naive),
        lambda: OFFICE.is_open(naive),
        lambda: OFFICE.next_open(naive),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()
    with pytest.raises(ValueError, match="zero or more"):
        OFFICE.add(aware, -SECOND)


def test_a_calendar_closed_for_years_by_its_holidays_gives_up_instead_of_looping():
    first_monday = date(2027, 1, 4)
    every_monday = frozenset(
        first_monday + timedelta(weeks=week) for week in range(52 * (MAX_CLOSED_YEARS + 4))
    )
    mondays_only = Calendar(
        time_zone="Europe/Berlin",
        weekly_hours={0: [(time(9), time(17))]},
        holidays=every_monday,
    )
    start = berlin(2027, 1, 1)

    with pytest.raises(ValueError, match=f"no open time in the {MAX_CLOSED_YEARS} years after"):
        mondays_only.add(start, HOUR)
    with pytest.raises(ValueError, match="no open time"):
        mondays_only.next_open(start)
    assert mondays_only.between(start, berlin(2031, 1, 1)) == timedelta(0)


def test_calendars_built_from_equivalent_data_are_equal_and_hash_alike():
    from_lists = Calendar(
        time_zone="Europe/Berlin",
        weekly_hours={1: [[time(13), time(17)], [time(9), time(12)], [time(11), time(12, 30)]]},  # type: ignore[list-item]
        holidays={date(2026, 12, 24)},  # type: ignore[arg-type]
    )
    from_tuples = Calendar(
        time_zone="Europe/Berlin",
        weekly_hours={1: ((time(9), time(12, 30)), (time(13), time(17))), 3: ()},
        holidays=frozenset({date(2026, 12, 24)}),
    )

    assert from_lists == from_tuples
    assert hash(from_lists) == hash(from_tuples)
    assert len({from_lists, from_tuples, OFFICE}) == 2
    assert from_lists.weekly_hours == {1: ((time(9), time(12, 30)), (time(13), time(17)))}


def test_changing_the_data_a_calendar_was_built_from_does_not_change_it():
    hours = {0: [(time(9), time(17))]}
    days_off = {date(2026, 3, 9)}
    calendar = Calendar(time_zone="UTC", weekly_hours=hours, holidays=days_off)  # type: ignore[arg-type]

    hours[1] = [(time(9), time(17))]
    hours[0].append((time(18), time(19)))
    days_off.add(date(2026, 3, 16))

    assert calendar.weekly_hours == {0: ((time(9), time(17)),)}
    assert calendar.holidays == {date(2026, 3, 9)}
    with pytest.raises(TypeError):
        calendar.weekly_hours[1] = ()  # type: ignore[index]


def test_a_calendar_survives_pickling_and_copying():
    for clone in (pickle.loads(pickle.dumps(OFFICE)), copy.deepcopy(OFFICE)):  # noqa: S301
        assert clone == OFFICE
        assert clone.add(berlin(2027, 3, 25, 16), 4 * HOUR) == berlin(2027, 3, 30, 12)


# --- A reference, straight from the definitions -------------------------------------------

REFERENCE_YEARS = range(2023, 2033)


@cache
def offset_changes(time_zone: str) -> tuple[tuple[float, int], ...]:
    """(from, UTC offset) pairs, in seconds, for every offset a zone has over REFERENCE_YEARS.

    Sampling every six hours finds each change (none of these zones changes twice within
    six hours); bisecting whole seconds then finds its exact instant.
    """
    zone = ZoneInfo(time_zone)

    def offset_at(second: int) -> int:
        return int(datetime.fromtimestamp(second, zone).utcoffset().total_seconds())  # type: ignore[union-attr]

    second = int(datetime(REFERENCE_YEARS[0], 1, 1, tzinfo=UTC).timestamp())
    last = int(datetime(REFERENCE_YEARS[-1] + 1, 1, 1, tzinfo=UTC).timestamp())
    pieces: list[tuple[float, int]] = [(float("-inf"), offset_at(second))]
    while second < last:
        later = second + 6 * 3600
        if offset_at(later) != pieces[-1][1]:
            low, high = second, later
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if offset_at(middle) == pieces[-1][1] else (low, middle)
            pieces.append((high, offset_at(high)))
        second = later
    return tuple(pieces)


def first_instant_showing(time_zone: str, wall: datetime) -> int:
    """The first second at which the zone's clock shows `wall` or later: between two
    changes the clock is the instant plus a fixed offset, so each piece has an answer."""
    wall_s = int((wall - datetime(1970, 1, 1)).total_seconds())  # noqa: DTZ001
    pieces = offset_changes(time_zone)
    candidates = []
    for (since, offset), (until, _) in zip(pieces, [*pieces[1:], (float("inf"), 0)], strict=True):
        earliest = max(since, wall_s - offset)
        if earliest < until:
            candidates.append(earliest)
    return int(min(candidates))


@cache
def country_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holiday_data.country_holidays(country, subdiv=subdivision, years=year))


def reference_intervals(calendar: Calendar, day: date) -> list[tuple[int, int]]:
    closed = set(calendar.holidays)
    if calendar.holiday_country:
        closed |= country_holidays(calendar.holiday_country, calendar.holiday_subdivision, day.year)
    if day in closed:
        return []
    intervals = []
    for opens, closes in calendar.weekly_hours.get(day.weekday(), ()):
        closing_day = day + timedelta(days=1) if closes == time(0) else day
        start = first_instant_showing(calendar.time_zone, datetime.combine(day, opens))
        end = first_instant_showing(calendar.time_zone, datetime.combine(closing_day, closes))
        if end > start:
            intervals.append((start, end))
    return intervals


def reference_days(calendar: Calendar, instant: datetime, days: int) -> list[date]:
    first = instant.astimezone(ZoneInfo(calendar.time_zone)).date() - timedelta(days=1)
    return [first + timedelta(days=n) for n in range(days)]


def seconds(instant: datetime) -> int:
    return int((instant - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())


def utc(second: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=second)


def in_utc(instant: datetime) -> datetime:
    """For comparing: datetimes that share a tzinfo compare by wall clock, ignoring fold, and
    one inside a fold never equals a datetime in another zone (PEP 495)."""
    return instant.astimezone(UTC)


def later(instant: datetime, second: int) -> datetime:
    """`instant` plus real seconds, in its own zone (aware + timedelta adds wall-clock time)."""
    return (instant.astimezone(UTC) + timedelta(seconds=second)).astimezone(instant.tzinfo)


def reference_add(calendar: Calendar, start: datetime, duration: timedelta) -> datetime:
    at, needed = seconds(start), int(duration.total_seconds())
    if needed == 0:
        return start
    for day in reference_days(calendar, start, 400):
        for opens, closes in reference_intervals(calendar, day):
            opens = max(opens, at)
            if closes <= opens:
                continue
            if needed <= closes - opens:
                return utc(opens + needed)
            needed -= closes - opens
    assume(False)  # too sparse a calendar for this duration: not worth walking further
    raise AssertionError


def reference_between(calendar: Calendar, start: datetime, end: datetime) -> timedelta:
    total = 0
    days = (seconds(end) - seconds(start)) // 86_400 + 3
    for day in reference_days(calendar, start, max(days, 2)):
        for opens, closes in reference_intervals(calendar, day):
            total += max(0, min(closes, seconds(end)) - max(opens, seconds(start)))
    return timedelta(seconds=total)


def reference_is_open(calendar: Calendar, instant: datetime) -> bool:
    return any(
        opens <= seconds(instant) < closes
        for day in reference_days(calendar, instant, 3)
        for opens, closes in reference_intervals(calendar, day)
    )


def weekly_open_seconds(calendar: Calendar) -> int:
    def second_of_day(wall: time) -> int:
        return wall.hour * 3600 + wall.minute * 60

    return sum(
        (second_of_day(closes) or 86_400) - second_of_day(opens)
        for intervals in calendar.weekly_hours.values()
        for opens, closes in intervals
    )


# --- Properties ---------------------------------------------------------------------------

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
NAMED_CALENDARS = [
    OFFICE,
    night_desk("America/New_York"),
    Calendar(
        # Open over the clock changes every day, with New South Wales' holidays.
        time_zone="Australia/Lord_Howe",
        weekly_hours={day: [(time(1), time(2, 45)), (time(8, 30), time(17))] for day in range(7)},
        holiday_country="AU",
        holiday_subdivision="NSW",
    ),
    Calendar(
        # Open across midnight, and a quarter of an hour inside Berlin's gap and fold.
        time_zone="Europe/Berlin",
        weekly_hours={
            SUNDAY: [(time(2, 30), time(2, 45)), (time(22), time(0))],
            0: [(time(0), time(6))],
            3: [(time(10), time(11))],
        },
        holidays=frozenset({date(2026, 12, 28), date(2027, 12, 27), date(2028, 1, 3)}),
    ),
    Calendar(
        time_zone="America/New_York",
        weekly_hours={day: [(time(8), time(20))] for day in range(6)},
        holiday_country="US",
        holiday_subdivision="NY",
    ),
    Calendar.always_open("Europe/Berlin", holiday_country="DE"),
    Calendar.always_open(),
]


@st.composite
def open_intervals(draw: st.DrawFn) -> tuple[time, time]:
    # Whole quarters of an hour half of the time: they line up with DST changes.
    step = draw(st.sampled_from([1, 15]))
    opens = draw(st.integers(0, 1440 // step - 1)) * step
    closes = draw(st.integers(opens // step + 1, 1440 // step)) * step
    return time(opens // 60, opens % 60), time(closes // 60 % 24, closes % 60)


random_calendars = st.builds(
    Calendar,
    time_zone=st.sampled_from(ZONES),
    weekly_hours=st.dictionaries(
        st.integers(0, 6), st.lists(open_intervals(), min_size=1, max_size=3), min_size=1
    ),
    holidays=st.frozensets(
        st.sampled_from([date(year, 12, 31) for year in range(2025, 2029)])
        | st.dates(date(2025, 1, 1), date(2029, 12, 31)),
        max_size=5,
    ),
)
calendars = st.one_of(st.sampled_from(NAMED_CALENDARS), random_calendars)


EASTER_SUNDAYS = [date(2025, 4, 20), date(2026, 4, 5), date(2027, 3, 28), date(2028, 4, 16)]


@cache
def anchors(time_zone: str) -> tuple[datetime, ...]:
    """Instants worth starting near: each DST change, each New Year, each Easter."""
    zone = ZoneInfo(time_zone)
    changes = [utc(int(since)) for since, _ in offset_changes(time_zone)[1:]]
    new_years = [datetime(year, 1, 1, tzinfo=zone) for year in range(2025, 2030)]
    easters = [datetime.combine(sunday, time(0), zone) for sunday in EASTER_SUNDAYS]
    return tuple(moment for moment in changes + new_years + easters if 2025 <= moment.year <= 2029)


@st.composite
def calendar_and_start(draw: st.DrawFn) -> tuple[Calendar, datetime]:
    calendar = draw(calendars)
    zone = ZoneInfo(calendar.time_zone)
    near = draw(st.sampled_from(anchors(calendar.time_zone)))
    offset = draw(st.integers(-4 * 86_400, 4 * 86_400))
    return calendar, later(near, offset).astimezone(draw(st.sampled_from([UTC, zone])))


def short_durations(calendar: Calendar) -> st.SearchStrategy[timedelta]:
    """Up to about two weeks of the calendar's open time, so the reference walk stays short."""
    most = 2 * weekly_open_seconds(calendar)
    return st.one_of(
        st.integers(0, most).map(lambda n: timedelta(seconds=n)),
        st.integers(0, most // 900).map(lambda n: timedelta(minutes=15 * n)),
    )


REFERENCE_SETTINGS = settings(max_examples=150, deadline=None)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


@REFERENCE_SETTINGS
@given(case=calendar_and_start(), data=st.data())
def test_add_agrees_with_a_day_by_day_walk_from_the_definition(case, data):
    calendar, start = case
    duration = data.draw(short_durations(calendar))

    assert in_utc(calendar.add(start, duration)) == in_utc(reference_add(calendar, start, duration))


@REFERENCE_SETTINGS
@given(case=calendar_and_start(), span=st.integers(-3600, 5 * 86_400))
def test_between_agrees_with_the_reference(case, span):
    calendar, start = case
    end = later(start, span)

    assert calendar.between(start, end) == reference_between(calendar, start, end)


@REFERENCE_SETTINGS
@given(case=calendar_and_start())
def test_is_open_and_next_open_agree_with_the_reference(case):
    calendar, instant = case

    assert calendar.is_open(instant) == reference_is_open(calendar, instant)
    opening = calendar.next_open(instant)
    assert in_utc(opening) >= in_utc(instant)
    assert reference_is_open(calendar, opening)
    assert reference_between(calendar, instant, opening) == timedelta(0)


@PROPERTY_SETTINGS
@given(
    case=calendar_and_start(),
    first=st.integers(0, 30 * 86_400).map(lambda n: timedelta(seconds=n)),
    second=st.integers(0, 30 * 86_400).map(lambda n: timedelta(seconds=n)),
)
def test_adding_in_two_steps_is_adding_once(case, first, second):
    calendar, start = case

    in_two_steps = calendar.add(calendar.add(start, first), second)

    assert in_utc(in_two_steps) == in_utc(calendar.add(start, first + second))


@PROPERTY_SETTINGS
@given(case=calendar_and_start(), data=st.data())
def test_a_positive_duration_ends_inside_or_at_the_end_of_open_time(case, data):
    calendar, start = case
    duration = data.draw(short_durations(calendar))
    assume(duration > timedelta(0))

    result = calendar.add(start, duration)

    assert result.tzinfo is start.tzinfo
    assert in_utc(result) > in_utc(start)
    assert calendar.is_open(in_utc(result) - MICROSECOND)


@PROPERTY_SETTINGS
@given(case=calendar_and_start(), days=st.integers(0, 60), rest=st.integers(0, 86_399))
def test_between_a_start_and_add_is_the_duration_added(case, days, rest):
    calendar, start = case
    duration = timedelta(days=days, seconds=rest)

    assert calendar.between(start, calendar.add(start, duration)) == duration


@PROPERTY_SETTINGS
@given(case=calendar_and_start(), span=st.integers(-86_400, 40 * 86_400))
def test_adding_the_time_between_two_instants_reaches_the_last_open_moment_before_the_end(
    case, span
):
    calendar, start = case
    end = later(start, span)

    reached = calendar.add(start, calendar.between(start, end))

    assert in_utc(start) <= in_utc(reached) <= max(in_utc(start), in_utc(end))
    assert calendar.between(reached, end) == timedelta(0)
    if calendar.is_open(end) and span > 0:
        assert in_utc(reached) == in_utc(end)


@PROPERTY_SETTINGS
@given(case=calendar_and_start(), first=st.integers(0, 20 * 86_400), second=st.integers(0, 86_400))
def test_between_adds_up_over_consecutive_spans(case, first, second):
    calendar, start = case
    middle = later(start, first)
    end = later(middle, second)

    assert calendar.between(start, end) == (
        calendar.between(start, middle) + calendar.between(middle, end)
    )
    assert calendar.between(end, start) == timedelta(0)


# --- subtract: counting back from a deadline (warning thresholds) -----------------------------


def test_four_hours_before_monday_noon_is_friday_at_four():
    assert NINE_TO_FIVE.subtract(berlin(2026, 3, 16, 12), 4 * HOUR) == berlin(2026, 3, 13, 16)


def test_an_hour_that_starts_at_monday_opening_is_counted_from_friday_closing():
    # The earliest instant from which one business hour is left to Monday 10:00.
    assert NINE_TO_FIVE.subtract(berlin(2026, 3, 16, 10), HOUR) == berlin(2026, 3, 13, 17)


def test_counting_back_over_easter_and_the_clock_change():
    # The inverse of the Maundy Thursday example above.
    assert NINE_TO_FIVE.subtract(berlin(2027, 3, 30, 12), 4 * HOUR) == berlin(2027, 3, 25, 16)


def test_counting_back_over_new_year():
    # Monday 2027-01-04 9-10 is one hour; New Year's Day (Friday) is closed; Thursday
    # 2026-12-31 16-17 is the other.
    assert NINE_TO_FIVE.subtract(berlin(2027, 1, 4, 10), 2 * HOUR) == berlin(2026, 12, 31, 16)


def test_counting_back_skips_lunch():
    assert OFFICE.subtract(berlin(2026, 3, 9, 14), 2 * HOUR) == berlin(2026, 3, 9, 11)


def test_subtracting_nothing_returns_the_end_even_when_closed():
    saturday = berlin(2026, 3, 14, 12)

    assert NINE_TO_FIVE.subtract(saturday, timedelta(0)) is saturday


@PROPERTY_SETTINGS
@given(case=calendar_and_start(), data=st.data())
def test_between_what_subtract_gives_and_the_end_is_the_duration(case, data):
    calendar, end = case
    duration = data.draw(short_durations(calendar))

    start = calendar.subtract(end, duration)

    assert start.tzinfo is end.tzinfo
    assert in_utc(start) <= in_utc(end)
    assert calendar.between(start, end) == duration
    if duration > timedelta(0):
        # The earliest such instant: open time (or its closing) right before it.
        assert calendar.is_open(in_utc(start) - MICROSECOND)
        assert calendar.between(in_utc(start) - MICROSECOND, end) == duration + MICROSECOND


@PROPERTY_SETTINGS
@given(case=calendar_and_start(), data=st.data())
def test_subtract_after_add_lands_at_or_before_the_start_with_no_open_time_between(case, data):
    calendar, start = case
    duration = data.draw(short_durations(calendar))
    assume(duration > timedelta(0))

    back = calendar.subtract(calendar.add(start, duration), duration)

    assert in_utc(back) <= in_utc(start)
    assert calendar.between(back, start) == timedelta(0)
    if calendar.is_open(in_utc(start) - MICROSECOND):
        assert in_utc(back) == in_utc(start)


@PROPERTY_SETTINGS
@given(case=calendar_and_start(), data=st.data())
def test_add_after_subtract_reaches_the_last_open_moment_before_the_end(case, data):
    calendar, end = case
    duration = data.draw(short_durations(calendar))
    assume(duration > timedelta(0))

    reached = calendar.add(calendar.subtract(end, duration), duration)

    assert in_utc(reached) <= in_utc(end)
    assert calendar.between(reached, end) == timedelta(0)
    if calendar.is_open(in_utc(end) - MICROSECOND):
        assert in_utc(reached) == in_utc(end)


def test_open_spans_are_the_open_hours_clipped_to_the_range():
    # Friday 16:00 to Tuesday 12:00 on Mon-Fri 9-17: Friday's last hour, Monday, Tuesday's
    # morning; the weekend is closed.
    spans = NINE_TO_FIVE.open_spans(
        datetime(2026, 3, 13, 16, tzinfo=BERLIN), datetime(2026, 3, 17, 12, tzinfo=BERLIN)
    )

    assert spans == [
        (datetime(2026, 3, 13, 16, tzinfo=BERLIN), datetime(2026, 3, 13, 17, tzinfo=BERLIN)),
        (datetime(2026, 3, 16, 9, tzinfo=BERLIN), datetime(2026, 3, 16, 17, tzinfo=BERLIN)),
        (datetime(2026, 3, 17, 9, tzinfo=BERLIN), datetime(2026, 3, 17, 12, tzinfo=BERLIN)),
    ]
    assert NINE_TO_FIVE.open_spans(spans[-1][1], spans[0][0]) == []


@REFERENCE_SETTINGS
@given(case=calendar_and_start(), span=st.integers(-3600, 9 * 86_400))
def test_open_spans_add_up_to_between_and_are_open_inside(case, span):
    calendar, start = case
    end = later(start, span)

    # In UTC: two datetimes of one zone subtract as wall clocks, across a DST change too.
    spans = [(in_utc(opens), in_utc(closes)) for opens, closes in calendar.open_spans(start, end)]

    assert sum((closes - opens for opens, closes in spans), timedelta(0)) == calendar.between(
        start, end
    )
    for opens, closes in spans:
        assert in_utc(start) <= opens < closes <= in_utc(end)
        assert calendar.is_open(opens)
        assert calendar.between(opens, closes) == closes - opens
    assert spans == sorted(spans)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Friday 16:00 CET to Tuesday 10:30 CEST over Berlin's spring-forward weekend:
        # an hour on Friday, Monday's eight, an hour and a half on Tuesday.
        (
            datetime(2026, 3, 27, 15, tzinfo=UTC),
            datetime(2026, 3, 31, 8, 30, tzinfo=UTC),
            timedelta(hours=10, minutes=30),
        ),
        # Backwards: none.
        (datetime(2026, 3, 31, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC), timedelta(0)),
    ],
)
def test_open_microseconds_counts_instants_given_as_integers(start, end, expected):
    calendar = Calendar(
        time_zone="Europe/Berlin",
        weekly_hours={day: [(time(9), time(17))] for day in range(5)},
        holiday_country="DE",
    )
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    as_us = [(instant - epoch) // timedelta(microseconds=1) for instant in (start, end)]

    assert timedelta(microseconds=calendar.open_microseconds(*as_us)) == expected
