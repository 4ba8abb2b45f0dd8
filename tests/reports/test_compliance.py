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
    # alice's six, bob's and dana's.
    assert everyone.total.tickets == 8
    assert by_key(everyone)["normal"].tickets == 6
    assert everyone.total.paused_seconds == 3600 + 7200 + 5 * 3600


def test_grouped_by_policy(alice, march):
    found = report(alice, group_by="policy")

    assert [(row.name, row.tickets) for row in found.rows] == [("Default", 4), ("Urgent", 2)]
    assert found.total.tickets == 6


def test_grouped_by_team_with_a_row_for_tickets_without_one(alice, march):
    found = report(alice, group_by="team")
    rows = by_key(found)

    support = str(march["support"].pk)
    assert [(row.key, row.name) for row in found.rows] == [(support, "Support"), ("", "No team")]
    # Support: tickets 1, 2, 4. First responses 1200, 1800, 7200; resolutions 3600,
    # 7200, 10800: medians at position 1, p90s at 1.8.
    team = rows[support]
    assert (team.tickets, team.achieved, team.breached, team.achieved_percent) == (3, 3, 0, 100.0)
    assert team.first_response_breached == 1
    assert team.first_response_median_seconds == 1800
    assert team.first_response_p90_seconds == 1800 + 0.8 * 5400
    assert team.resolution_median_seconds == 7200
    assert team.resolution_p90_seconds == 7200 + 0.8 * 3600
    assert team.paused_seconds == 0
    # No team: tickets 3, 5, 6. First responses 300, 600 (5 has none); one resolution.
    none = rows[""]
    assert (none.tickets, none.achieved, none.breached, none.achieved_percent) == (3, 0, 2, 0.0)
    assert none.first_response_breached == 1
    assert none.first_response_median_seconds == 300 + 0.5 * 300
    assert none.first_response_p90_seconds == 300 + 0.9 * 300
    assert none.resolution_median_seconds == none.resolution_p90_seconds == 25200
    assert none.paused_seconds == 3600 + 7200
    assert found.total.tickets == 6


def test_grouped_by_assignee_with_a_row_for_unassigned_tickets(alice, march):
    found = report(alice, group_by="assignee")

    dana = march["dana"]
    assert [(row.key, row.name, row.tickets) for row in found.rows] == [
        (str(alice.pk), "alice", 2),  # tickets 1 and 3
        (str(dana.pk), "dana", 1),  # ticket 2
        ("", "Unassigned", 3),  # tickets 4, 5, 6
    ]
    rows = by_key(found)
    mine = rows[str(alice.pk)]
    assert (mine.achieved, mine.breached, mine.achieved_percent) == (1, 1, 50.0)
    # Resolutions 7200 and 25200: the median halfway, p90 at position 0.9.
    assert mine.resolution_median_seconds == 7200 + 0.5 * 18000
    assert mine.resolution_p90_seconds == 7200 + 0.9 * 18000
    assert mine.paused_seconds == 3600
    assert rows[str(dana.pk)].first_response_breached == 1
    unassigned = rows[""]
    assert (unassigned.achieved, unassigned.breached) == (1, 1)
    assert unassigned.paused_seconds == 7200


def test_a_team_counts_only_the_tickets_the_reader_may_see(alice, bob, staff, march):
    billing = str(march["billing"].pk)
    # Dana's Billing ticket: alice (in Support only) and bob (in no team) never count it.
    assert billing not in by_key(report(alice, group_by="team"))
    assert [(row.key, row.tickets) for row in report(bob, group_by="team").rows] == [("", 1)]
    assert str(march["dana"].pk) not in by_key(report(bob, group_by="assignee"))
    # Dana sees her own ticket and Support's three, not alice's tickets without a team.
    danas = report(march["dana"], group_by="team")
    assert [(row.name, row.tickets) for row in danas.rows] == [("Billing", 1), ("Support", 3)]
    assert (danas.total.tickets, danas.total.breached) == (4, 1)
    everyone = by_key(report(staff, group_by="team"))
    assert (everyone[billing].tickets, everyone[""].tickets) == (1, 4)


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
