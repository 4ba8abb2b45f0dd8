"""The compliance report's numbers against the small dataset of tests/reports/march.py,
computed by hand there."""

import statistics
from datetime import UTC, datetime, timedelta

import pytest

from sla.enums import SlaState
from tests.conftest import T0
from tests.reports.march import MARCH
from tickets import services
from tickets.models import Ticket
from tickets.reports import compliance

pytestmark = pytest.mark.django_db


def report(user, group_by="priority"):
    return compliance(user, start=MARCH[0], end=MARCH[1], group_by=group_by, now=T0)


def by_key(found):
    return {row.key: row for row in found.rows}


def test_the_dataset_stands_as_the_table_says(march):
    states = [Ticket.objects.get(pk=t.pk).resolution_state for t in march["alice"]]
    assert states == [SlaState.ACHIEVED, SlaState.ACHIEVED, SlaState.BREACHED, SlaState.ACHIEVED]


def test_counts_per_priority_and_in_total(alice, march):
    found = report(alice)
    rows = by_key(found)

    assert [row.key for row in found.rows] == ["urgent", "normal"]
    normal, urgent = rows["normal"], rows["urgent"]
    assert (normal.tickets, normal.achieved, normal.breached) == (4, 2, 1)
    assert (urgent.tickets, urgent.achieved, urgent.breached) == (2, 1, 1)
    assert (normal.first_response_breached, urgent.first_response_breached) == (1, 1)
    assert (normal.achieved_percent, urgent.achieved_percent) == (66.7, 50.0)
    total = found.total
    assert (total.tickets, total.achieved, total.breached, total.achieved_percent) == (
        6,
        3,
        2,
        60.0,
    )
    assert total.first_response_breached == 2


def test_percentiles_interpolate_as_percentile_cont(alice, march):
    found = report(alice)
    normal, urgent = by_key(found)["normal"], by_key(found)["urgent"]

    # normal first responses 300, 600, 1800, 7200: positions 1.5 and 2.7.
    assert normal.first_response_median_seconds == 600 + 0.5 * 1200
    assert normal.first_response_p90_seconds == 1800 + 0.7 * 5400
    # normal resolutions 7200, 10800, 25200: positions 1 and 1.8.
    assert normal.resolution_median_seconds == 10800
    assert normal.resolution_p90_seconds == 10800 + 0.8 * 14400
    # urgent: one first response, one resolution.
    assert urgent.first_response_median_seconds == urgent.first_response_p90_seconds == 1200
    assert urgent.resolution_median_seconds == urgent.resolution_p90_seconds == 3600
    # all first responses 300, 600, 1200, 1800, 7200; all resolutions 3600 ... 25200.
    assert found.total.first_response_median_seconds == 1200
    assert found.total.first_response_p90_seconds == 1800 + 0.6 * 5400
    assert found.total.resolution_median_seconds == 7200 + 0.5 * 3600
    assert found.total.resolution_p90_seconds == 10800 + 0.7 * 14400


def test_time_paused_counts_a_running_pause_up_to_now(alice, march):
    found = report(alice)

    assert by_key(found)["normal"].paused_seconds == 3600 + 7200
    assert by_key(found)["urgent"].paused_seconds == 0
    assert found.total.paused_seconds == 3600 + 7200


def test_another_users_tickets_count_for_staff_only(alice, bob, staff, march):
    assert report(bob).total.tickets == 1
    assert report(bob).total.paused_seconds == 5 * 3600
    everyone = report(staff)
    assert everyone.total.tickets == 7
    assert by_key(everyone)["normal"].tickets == 5
    assert everyone.total.paused_seconds == 3600 + 7200 + 5 * 3600


def test_grouped_by_policy(alice, march):
    found = report(alice, group_by="policy")

    assert [(row.name, row.tickets) for row in found.rows] == [("Default", 4), ("Urgent", 2)]
    assert found.total.tickets == 6


def test_achieved_percent_over_time_per_day(alice, march):
    found = report(alice)

    assert found.bucket == "day"
    assert [p.starts_on.day for p in found.over_time] == list(range(1, 32))
    percents = {p.starts_on.day: p.achieved_percent for p in found.over_time}
    assert [percents[day] for day in range(1, 11)] == [
        None,  # no ticket
        100.0,
        100.0,
        0.0,
        100.0,
        0.0,
        None,
        None,
        None,  # ticket 6, paused: neither met nor missed yet
        None,
    ]


def test_achieved_percent_over_time_per_week_for_a_longer_period(alice, march):
    found = compliance(
        alice,
        start=datetime(2026, 2, 1, tzinfo=UTC),
        end=datetime(2026, 4, 1, tzinfo=UTC),
        group_by="priority",
        now=T0,
    )

    assert found.bucket == "week"
    weeks = {p.starts_on.isoformat(): p.achieved_percent for p in found.over_time}
    assert next(iter(weeks)) == "2026-01-26"  # the Monday of 1 February's week
    # Alice's February ticket (28 February, in the week of the 23rd), open: missed by T0.
    assert weeks["2026-02-23"] == 0.0
    assert weeks["2026-02-16"] is None  # no ticket
    assert weeks["2026-03-02"] == 60.0  # tickets 1-5: three met, two missed
    assert weeks["2026-03-09"] is None
    assert len(weeks) == 10


def test_a_period_with_no_tickets_has_empty_rows_and_a_zero_total(alice, march):
    found = compliance(
        alice,
        start=datetime(2025, 1, 1, tzinfo=UTC),
        end=datetime(2025, 2, 1, tzinfo=UTC),
        group_by="priority",
        now=T0,
    )

    assert found.rows == []
    assert found.total.tickets == 0
    assert found.total.achieved_percent is None
    assert {p.achieved_percent for p in found.over_time} == {None}


def test_percentiles_match_pythons_inclusive_quantiles_on_more_tickets(alice):
    """percentile_cont is statistics.quantiles(method="inclusive"): with 23 tickets
    responded to after uneven delays, PostgreSQL and SQLite both find its numbers."""
    delays = [(7 * i * i + 3 * i) % 500 + 1 for i in range(23)]
    for number, minutes in enumerate(delays):
        created = datetime(2026, 3, 1 + number, 9, tzinfo=UTC)
        made = services.create_ticket(owner=alice, now=created, title="t", deadline=T0)
        services.respond(ticket=made, now=created + timedelta(minutes=minutes))

    found = report(alice).total

    seconds = [60.0 * minutes for minutes in delays]
    deciles = statistics.quantiles(seconds, n=10, method="inclusive")
    assert found.first_response_median_seconds == round(statistics.median(seconds), 1)
    assert found.first_response_p90_seconds == round(deciles[8], 1)
