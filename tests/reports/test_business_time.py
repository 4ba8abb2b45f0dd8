"""The compliance report's business-time durations, computed by hand on a desk open
Monday to Friday 9:00-17:00 UTC, closed on Thursday 5 March 2026 (a holiday). The clock
at T0, Tuesday 10 March 12:00 UTC. Seconds:

A, created Fri 6 16:00:
- first response Mon 9 10:00: business 3600 + 3600 = 7200, wall 237600;
- resolved Mon 9 15:00, pending 11:00-12:00: business 3600 + 21600 - 3600 = 21600,
  wall 255600; paused 3600 (business and wall).

B, created Wed 4 16:30:
- first response Fri 6 9:30: business 1800 + 0 (holiday) + 1800 = 3600, wall 147600;
- resolved Fri 6 12:00: business 1800 + 10800 = 12600, wall 156600.

C, created Sat 7 10:00, never answered, pending since Sat 7 11:00: paused business
Mon 28800 + Tue 10800 = 39600, wall 262800.
"""

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection

from sla.enums import Priority, Status
from tests.conftest import T0, client_for
from tests.factories import CalendarFactory, PolicyFactory
from tests.reports.march import MARCH, at, respond, set_status, ticket
from tickets.business_durations import (
    business_summaries_in_database,
    business_times,
    percentile_cont,
    summarize,
)
from tickets.reports import compliance, report_tickets

pytestmark = pytest.mark.django_db


@pytest.fixture
def office(alice):
    calendar = CalendarFactory.create(
        name="Office",
        is_24x7=False,
        opening_hours=[(day, time(9), time(17)) for day in range(5)],
        holidays=[(date(2026, 3, 5), "Founders' day")],
    )
    PolicyFactory.create(name="Office hours", calendar=calendar)
    a = ticket(alice, at(6, 16))
    respond(a, at(9, 10) - at(6, 16))
    set_status(a, Status.PENDING, at(9, 11))
    set_status(a, Status.OPEN, at(9, 12))
    set_status(a, Status.RESOLVED, at(9, 15))
    b = ticket(alice, datetime(2026, 3, 4, 16, 30, tzinfo=UTC))
    respond(b, at(6, 9, 30) - b.created_at)
    set_status(b, Status.RESOLVED, at(6, 12))
    c = ticket(alice, at(7, 10))
    set_status(c, Status.PENDING, at(7, 11))
    return {"a": a, "b": b, "c": c}


def report(user, group_by="priority"):
    return compliance(user, start=MARCH[0], end=MARCH[1], group_by=group_by, now=T0)


def test_durations_count_the_policy_calendars_open_hours(alice, office):
    total = report(alice).total

    assert total.first_response_business_median_seconds == (3600 + 7200) / 2
    assert total.first_response_business_p90_seconds == 3600 + 0.9 * 3600
    assert total.first_response_median_seconds == (147600 + 237600) / 2
    assert total.resolution_business_median_seconds == (12600 + 21600) / 2
    assert total.resolution_business_p90_seconds == 12600 + 0.9 * 9000
    assert total.resolution_median_seconds == (156600 + 255600) / 2


def test_time_paused_in_business_and_wall_time_with_a_running_pause(alice, office):
    total = report(alice).total

    assert total.paused_business_seconds == 3600 + 39600
    assert total.paused_seconds == 3600 + 262800


def test_each_row_has_its_own_business_times(alice, office):
    rows = {row.key: row for row in report(alice, group_by="policy").rows}

    (policy_row,) = rows.values()
    assert policy_row.name == "Office hours"
    assert policy_row.first_response_business_median_seconds == 5400
    assert policy_row.paused_business_seconds == 43200


def test_the_api_and_the_csv_carry_the_business_times(client, alice, office, clock):
    clock.move_to(T0)
    query = "period=custom&start=2026-03-01&end=2026-04-01&tz=UTC"
    api = client_for(alice).get(f"/api/reports/compliance/?{query}").json()
    total = api["total"]
    assert total["first_response_business_median_seconds"] == 5400
    assert total["resolution_business_p90_seconds"] == 20700
    assert total["paused_business_seconds"] == 43200

    client.force_login(alice)
    page = client.get(f"/reports/compliance/?{query}&format=csv")
    lines = list(csv.DictReader(io.StringIO(b"".join(page.streaming_content).decode())))
    assert lines[-1]["first_response_business_median_seconds"] == "5400.0"
    assert lines[-1]["paused_business_seconds"] == "43200.0"


def test_the_march_tickets_around_the_clock_subtract_only_their_pause(alice, march):
    found = report(alice)
    normal = {row.key: row for row in found.rows}["normal"]

    # First responses: a 24x7 calendar counts every second, as the wall clock does.
    assert normal.first_response_business_median_seconds == normal.first_response_median_seconds
    assert normal.first_response_business_p90_seconds == normal.first_response_p90_seconds
    # Resolutions 7200, 10800 and 25200 - 3600 (ticket 3's pause): 21600.
    assert normal.resolution_business_median_seconds == 10800
    assert normal.resolution_business_p90_seconds == 10800 + 0.8 * 10800
    assert found.total.resolution_business_median_seconds == (7200 + 10800) / 2
    assert normal.paused_business_seconds == normal.paused_seconds == 3600 + 7200


def test_percentile_cont_interpolates_between_ranks():
    assert percentile_cont([], 0.5) is None
    assert percentile_cont([5.0], 0.9) == 5.0
    assert percentile_cont([300.0, 600.0, 1800.0, 7200.0], 0.9) == pytest.approx(5580)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the database's count is PostgreSQL's"
)
def test_the_databases_count_is_pythons_over_new_year_and_dst(alice):
    berlin_24x7 = CalendarFactory.create(name="Berlin 24x7", time_zone="Europe/Berlin")
    PolicyFactory.create(name="Around Berlin", calendar=berlin_24x7, priority=Priority.URGENT)
    office = CalendarFactory.create(
        name="Berlin office",
        time_zone="Europe/Berlin",
        is_24x7=False,
        holiday_country="DE",
        opening_hours=[(day, time(9), time(17)) for day in range(5)],
    )
    PolicyFactory.create(name="Office", calendar=office)
    start = datetime(2025, 12, 1, tzinfo=UTC)
    for n in range(40):
        created = start + n * timedelta(days=3, hours=7, minutes=13)
        t = ticket(alice, created, priority=[Priority.URGENT, Priority.NORMAL][n % 2])
        if n % 5:
            respond(t, timedelta(hours=n * 5 + 1))
        if n % 3 == 0:
            set_status(t, Status.PENDING, created + timedelta(hours=n + 2))
            if n % 2:
                set_status(t, Status.OPEN, created + timedelta(hours=2 * n + 3))
        if n % 4 == 0:
            set_status(t, Status.RESOLVED, created + timedelta(days=n % 9, hours=n))
    end = datetime(2026, 5, 1, tzinfo=UTC)
    now = datetime(2026, 5, 20, tzinfo=UTC)
    tickets = report_tickets(alice, start=start, end=end)

    in_database = business_summaries_in_database(tickets, "priority", now=now, start=start, end=end)
    groups, total = business_times(tickets, "priority", now=now)

    assert in_database[0] == {key: summarize(times) for key, times in groups.items()}
    assert in_database[1] == summarize(total)
    assert summarize(total).resolution_median_seconds is not None
