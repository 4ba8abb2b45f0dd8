"""The compliance report's numbers against a small dataset computed by hand.

Alice's tickets in March 2026 (the clock at T0, Tuesday 10 March 12:00 UTC); the default
policy: 1 hour to first response, 4 hours to resolution, around the clock; urgent: 30
minutes and 2 hours. Wall-time durations, in seconds:

| # | priority | first response | resolution | paused | resolution state |
| 1 | normal   | 1800           | 7200       |        | achieved |
| 2 | normal   | 7200 (missed)  | 10800      |        | achieved |
| 3 | normal   | 600            | 25200      | 3600   | breached (due 14:00, done 16:00) |
| 4 | urgent   | 1200           | 3600       |        | achieved |
| 5 | urgent   | none (missed)  | open       |        | breached |
| 6 | normal   | 300            | open       | 7200 (still pending) | paused |

Plus a ticket of alice's from February and one of bob's in March, which never count for
alice. percentile_cont(p) of n sorted values is the value at position p*(n-1).
"""

from datetime import UTC, datetime, timedelta

import pytest

from sla.enums import Priority, SlaState, Status
from tests.conftest import T0
from tests.durations import HOUR, MINUTE
from tests.factories import CalendarFactory, PolicyFactory, urgent_policy
from tickets import services
from tickets.checker import run_check
from tickets.models import Ticket
from tickets.reports import compliance

pytestmark = pytest.mark.django_db

MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def ticket(owner, created: datetime, *, priority=Priority.NORMAL) -> Ticket:
    return services.create_ticket(owner=owner, now=created, title="t", priority=priority)


def respond(t: Ticket, after: timedelta) -> None:
    services.respond(ticket=t, now=t.created_at + after)


def set_status(t: Ticket, status: Status, when: datetime) -> None:
    services.update_ticket(ticket=t, now=when, status=status)


@pytest.fixture
def march(alice, bob):
    calendar = CalendarFactory.create()
    PolicyFactory.create(name="Default", calendar=calendar, first_response_target=HOUR)
    urgent_policy(calendar, first_response_target=30 * MINUTE, resolution_target=2 * HOUR)
    one = ticket(alice, at(2, 9))
    respond(one, 30 * MINUTE)
    set_status(one, Status.RESOLVED, at(2, 11))
    two = ticket(alice, at(3, 9))
    respond(two, 2 * HOUR)
    set_status(two, Status.RESOLVED, at(3, 12))
    three = ticket(alice, at(4, 9))
    respond(three, 10 * MINUTE)
    set_status(three, Status.PENDING, at(4, 10))
    set_status(three, Status.OPEN, at(4, 11))
    set_status(three, Status.RESOLVED, at(4, 16))
    four = ticket(alice, at(5, 9), priority=Priority.URGENT)
    respond(four, 20 * MINUTE)
    set_status(four, Status.RESOLVED, at(5, 10))
    ticket(alice, at(6, 9), priority=Priority.URGENT)
    six = ticket(alice, at(9, 12))
    respond(six, 5 * MINUTE)
    set_status(six, Status.PENDING, at(10, 10))
    ticket(alice, datetime(2026, 2, 28, 9, tzinfo=UTC))
    bobs = ticket(bob, at(5, 9))
    respond(bobs, 3 * HOUR)
    set_status(bobs, Status.PENDING, at(5, 13))
    set_status(bobs, Status.RESOLVED, at(5, 18))
    run_check(now=T0)
    return {"alice": [one, two, three, four], "bob": bobs}


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

    assert [(row.label, row.tickets) for row in found.rows] == [("Default", 4), ("Urgent", 2)]
    assert found.total.tickets == 6


def test_achieved_percent_over_time_per_day(alice, march):
    found = report(alice)

    assert found.bucket == "day"
    assert [(p.starts_on.day, p.achieved_percent) for p in found.over_time] == [
        (2, 100.0),
        (3, 100.0),
        (4, 0.0),
        (5, 100.0),
        (6, 0.0),
        (9, None),
    ]


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
    assert found.over_time == []
