"""Business calendars and SLA policies as stored: validation, constraints, and to_domain()."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from policies import services
from policies.models import BusinessCalendar, Holiday, OpeningHours, SlaPolicy
from sla.enums import Priority
from tests.durations import HOUR

BERLIN = ZoneInfo("Europe/Berlin")
NINE_TO_FIVE = [(weekday, time(9), time(17)) for weekday in range(5)]


def berlin(year: int, month: int, day: int, hour: int) -> datetime:
    return datetime(year, month, day, hour, tzinfo=BERLIN)


@pytest.fixture
def office(db) -> BusinessCalendar:
    """Monday to Friday, 9 to 17 in Berlin, closed on German public holidays."""
    return services.create_calendar(
        name="Berlin office",
        time_zone="Europe/Berlin",
        holiday_country="DE",
        opening_hours=NINE_TO_FIVE,
    )


def errors_of(exc_info: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc_info.value.message_dict


# --- to_domain() ----------------------------------------------------------------------------


def test_a_nine_to_five_calendar_counts_four_hours_from_friday_16_00_to_monday_noon(office):
    domain = office.to_domain()

    assert domain.add(berlin(2026, 3, 13, 16), 4 * HOUR) == berlin(2026, 3, 16, 12)


def test_german_holidays_close_the_calendar_so_whit_monday_is_skipped(office):
    domain = office.to_domain()

    # Whit Monday 2026 is May 25th.
    assert domain.add(berlin(2026, 5, 22, 16), 4 * HOUR) == berlin(2026, 5, 26, 12)


def test_an_explicit_holiday_row_closes_the_calendar_that_day(office):
    Holiday.objects.create(calendar=office, date=date(2026, 3, 16), name="Office party")

    assert office.to_domain().add(berlin(2026, 3, 13, 16), 4 * HOUR) == berlin(2026, 3, 17, 12)


def test_several_intervals_a_day_leave_the_lunch_break_closed(db):
    calendar = services.create_calendar(
        name="Lunch",
        time_zone="Europe/Berlin",
        opening_hours=[(0, time(9), time(12)), (0, time(13), time(17))],
    )

    assert calendar.to_domain().add(berlin(2026, 3, 16, 11), 2 * HOUR) == berlin(2026, 3, 16, 14)


def test_closing_at_midnight_means_the_end_of_the_day(db):
    calendar = services.create_calendar(
        name="Evenings", time_zone="UTC", opening_hours=[(0, time(20), time(0))]
    )
    monday_20_00 = datetime(2026, 3, 16, 20, tzinfo=UTC)

    assert calendar.to_domain().add(monday_20_00, 4 * HOUR) == monday_20_00 + 4 * HOUR


def test_a_24x7_calendar_counts_every_hour(db):
    calendar = services.create_calendar(name="Always", time_zone="UTC", is_24x7=True)
    start = datetime(2026, 3, 14, 23, tzinfo=UTC)

    assert calendar.to_domain().add(start, 4 * HOUR) == start + 4 * HOUR


# --- Calendar validation ----------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd", "/usr/share/zoneinfo/UTC"])
def test_a_calendar_refuses_a_time_zone_that_is_not_an_iana_zone(db, zone):
    with pytest.raises(ValidationError) as exc_info:
        BusinessCalendar(name="X", time_zone=zone, is_24x7=True).full_clean()

    assert "time_zone" in errors_of(exc_info)


def test_a_calendar_refuses_a_country_the_holidays_package_does_not_know(db):
    with pytest.raises(ValidationError) as exc_info:
        BusinessCalendar(name="X", time_zone="UTC", is_24x7=True, holiday_country="XX").full_clean()

    assert "holiday_country" in errors_of(exc_info)


def test_a_calendar_refuses_an_unknown_subdivision(db):
    calendar = BusinessCalendar(
        name="X", time_zone="UTC", is_24x7=True, holiday_country="DE", holiday_subdivision="XX"
    )

    with pytest.raises(ValidationError) as exc_info:
        calendar.full_clean()

    assert "holiday_subdivision" in errors_of(exc_info)


def test_a_calendar_refuses_a_subdivision_without_a_country(db):
    calendar = BusinessCalendar(name="X", time_zone="UTC", is_24x7=True, holiday_subdivision="BY")

    with pytest.raises(ValidationError) as exc_info:
        calendar.full_clean()

    assert "holiday_subdivision" in errors_of(exc_info)


def test_a_calendar_accepts_a_known_country_and_subdivision(db):
    BusinessCalendar(
        name="Munich", time_zone="Europe/Berlin", holiday_country="DE", holiday_subdivision="BY"
    ).full_clean()


def test_a_saved_calendar_without_opening_hours_that_is_not_24x7_fails_clean(office):
    office.opening_hours.all().delete()

    with pytest.raises(ValidationError, match="opening hours"):
        office.full_clean()


def test_a_saved_calendar_with_overlapping_hours_fails_clean(office):
    OpeningHours.objects.create(calendar=office, weekday=0, opens=time(16), closes=time(18))

    with pytest.raises(ValidationError, match="overlap"):
        office.full_clean()


def test_opening_hours_that_close_before_they_open_fail_clean(office):
    hours = OpeningHours(calendar=office, weekday=5, opens=time(17), closes=time(9))

    with pytest.raises(ValidationError, match="closing must be after opening"):
        hours.full_clean()


def test_opening_hours_that_close_at_midnight_pass_clean(office):
    OpeningHours(calendar=office, weekday=5, opens=time(17), closes=time(0)).full_clean()


@pytest.mark.parametrize(
    ("hours", "says"),
    [
        ([], "opening hours"),
        ([(0, time(9), time(13)), (0, time(12), time(17))], "overlap"),
        ([(0, time(9), time(17)), (0, time(9), time(17))], "overlap"),
        ([(0, time(9), time(0)), (0, time(23), time(0))], "overlap"),
        ([(0, time(9), time(9))], "closing must be after opening"),
        ([(7, time(9), time(17))], "Weekday 7"),
    ],
)
def test_creating_a_calendar_refuses_a_week_it_cannot_use(db, hours, says):
    with pytest.raises(ValidationError, match=says):
        services.create_calendar(name="Bad", time_zone="UTC", opening_hours=hours)

    assert not BusinessCalendar.objects.exists()


def test_hours_that_touch_do_not_overlap(db):
    calendar = services.create_calendar(
        name="Split",
        time_zone="UTC",
        opening_hours=[(0, time(9), time(12)), (0, time(12), time(17))],
    )

    assert calendar.to_domain().weekly_hours[0] == ((time(9), time(17)),)


def test_a_failed_update_leaves_the_calendar_as_it_was(office):
    with pytest.raises(ValidationError):
        services.update_calendar(calendar=office, time_zone="Nowhere/Special", opening_hours=[])

    office.refresh_from_db()
    assert (office.time_zone, len(office.opening_hours_rows())) == ("Europe/Berlin", 5)


# --- Policies --------------------------------------------------------------------------------


def policy(calendar, priority=None, *, name=None, **fields):
    fields.setdefault("resolution_target", 4 * HOUR)
    return services.create_policy(
        name=name or f"policy-{priority}", calendar=calendar, priority=priority, **fields
    )


def test_the_policy_of_a_priority_is_its_own_else_the_default(office):
    urgent = policy(office, Priority.URGENT)
    default = policy(office, None)

    assert SlaPolicy.objects.for_priority(Priority.URGENT) == urgent
    assert SlaPolicy.objects.for_priority(Priority.LOW) == default


def test_without_a_default_a_priority_without_a_policy_has_none(office):
    policy(office, Priority.URGENT)

    assert SlaPolicy.objects.for_priority(Priority.LOW) is None


def test_a_second_default_policy_is_refused(office):
    policy(office, None, name="first")

    with pytest.raises(ValidationError, match="already a default policy"):
        policy(office, None, name="second")


def test_a_second_policy_for_a_priority_is_refused(office):
    policy(office, Priority.HIGH, name="first")

    with pytest.raises(ValidationError, match="already a policy for this priority"):
        policy(office, Priority.HIGH, name="second")


def test_the_database_itself_allows_one_default_policy(office):
    SlaPolicy.objects.create(name="a", calendar=office, resolution_target=HOUR)

    with pytest.raises(IntegrityError), transaction.atomic():
        SlaPolicy.objects.create(name="b", calendar=office, resolution_target=HOUR)


def test_the_database_itself_allows_one_policy_per_priority(office):
    SlaPolicy.objects.create(name="a", calendar=office, priority="low", resolution_target=HOUR)

    with pytest.raises(IntegrityError), transaction.atomic():
        SlaPolicy.objects.create(name="b", calendar=office, priority="low", resolution_target=HOUR)


def test_an_empty_priority_means_the_default_policy(office):
    created = policy(office, "")

    assert created.priority is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"resolution_target": timedelta(0)}, "resolution_target"),
        ({"resolution_target": -HOUR}, "resolution_target"),
        ({"resolution_target": timedelta(days=400)}, "resolution_target"),
        ({"first_response_target": timedelta(0)}, "first_response_target"),
        ({"warning_lead_times": [3600, 0]}, "warning_lead_times"),
        ({"warning_lead_times": [1.5]}, "warning_lead_times"),
        ({"warning_lead_times": [True]}, "warning_lead_times"),
        ({"warning_lead_times": [3600, 3600]}, "warning_lead_times"),
        ({"warning_lead_times": 3600}, "warning_lead_times"),
        ({"warning_percentages": [0]}, "warning_percentages"),
        ({"warning_percentages": [100]}, "warning_percentages"),
        ({"warning_percentages": [75, "90"]}, "warning_percentages"),
        ({"warning_percentages": list(range(1, 20))}, "warning_percentages"),
        ({"priority": "asap"}, "priority"),
    ],
)
def test_a_policy_refuses_values_it_cannot_use(office, fields, field):
    with pytest.raises(ValidationError) as exc_info:
        policy(office, **fields)

    assert field in errors_of(exc_info)


def test_a_policy_stores_lead_times_and_percentages(office):
    created = policy(
        office,
        Priority.URGENT,
        first_response_target=HOUR,
        warning_lead_times=[4 * 3600, 3600],
        warning_percentages=[75, 90.5],
    )

    stored = SlaPolicy.objects.get(pk=created.pk)
    assert (stored.first_response_target, stored.warning_lead_times) == (HOUR, [14400, 3600])
    assert stored.warning_percentages == [75, 90.5]


def test_a_policy_s_resolution_deadline_is_its_target_in_business_time(office):
    urgent = policy(office, Priority.URGENT)

    assert urgent.resolution_deadline(berlin(2026, 3, 13, 16)) == berlin(2026, 3, 16, 12)


def test_a_calendar_in_use_cannot_be_deleted(office):
    policy(office, Priority.URGENT)

    with pytest.raises(services.CalendarInUse, match="policy-urgent"):
        services.delete_calendar(calendar=office)

    assert BusinessCalendar.objects.filter(pk=office.pk).exists()


def test_deleting_an_unused_calendar_deletes_its_hours_and_holidays(office):
    Holiday.objects.create(calendar=office, date=date(2026, 12, 24))

    services.delete_calendar(calendar=office)

    assert not OpeningHours.objects.exists()
    assert not Holiday.objects.exists()
