"""Checkers side by side over tickets with several thresholds and two metrics.

Four checker threads (a connection each) run `check_sla` at the same instants over the
same tickets, and one policy edit is recomputed by whichever of them gets there first.
Every warning, every miss and every creation email must be created once and delivered
once. Real database (run it on PostgreSQL: SKIP LOCKED; on SQLite the checkers take turns)
and a real SMTP server on loopback.
"""

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from notifications.models import DeliveryStatus, Notification
from policies import services as policy_services
from sla.enums import Announcement, Metric, Priority, SlaState
from tests.calendars import berlin_office
from tests.checker_processes import side_by_side
from tests.durations import HOUR
from tests.factories import urgent_policy
from tickets import services
from tickets.checker import run_check
from tickets.models import Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BERLIN = ZoneInfo("Europe/Berlin")
CHECKERS = 4
TICKETS = 60
RES, FR = Metric.RESOLUTION, Metric.FIRST_RESPONSE


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN)


FRIDAY_16, FRIDAY_17, MONDAY_12 = berlin(13, 16), berlin(13, 17), berlin(16, 12)


def test_four_checkers_announce_every_threshold_of_both_metrics_exactly_once(
    alice, smtp_settings, settings
):
    settings.SLA_DELIVERY_BATCH_SIZE = 7
    office = berlin_office()
    urgent = urgent_policy(
        office,
        first_response_target=HOUR,
        warning_lead_times=[3600],
        warning_percentages=[50],
    )
    tickets = [
        services.create_ticket(
            owner=alice, title=f"Ticket {n}", priority=Priority.URGENT, now=FRIDAY_16
        )
        for n in range(TICKETS)
    ]

    def race(now: datetime) -> None:
        side_by_side(*[lambda: run_check(now=now)] * CHECKERS)

    # First response (the 1 h lead time is the whole target, so it does not apply): 30 min
    # left (50 %) at 16:30, missed at 17:00. Resolution,
    # due Monday 12:00: 2 h left (50 %) at 10:00, 1 h left at 11:00, missed at noon.
    for instant in (FRIDAY_16, berlin(13, 16, 30), FRIDAY_17, berlin(16, 10)):
        race(instant)
    # A new threshold of 1.5 h left (10:30), recomputed by whichever checker comes first.
    policy_services.update_policy(policy=urgent, warning_lead_times=[3600, 5400])
    for instant in (berlin(16, 10, 15), berlin(16, 10, 30), berlin(16, 11), MONDAY_12):
        race(instant)

    each = [
        (RES, Announcement.CREATED, MONDAY_12, 0),
        (FR, Announcement.WARNING, FRIDAY_17, 1800),
        (FR, Announcement.MISSED, FRIDAY_17, 0),
        (RES, Announcement.WARNING, MONDAY_12, 7200),
        (RES, Announcement.WARNING, MONDAY_12, 5400),
        (RES, Announcement.WARNING, MONDAY_12, 3600),
        (RES, Announcement.MISSED, MONDAY_12, 0),
    ]
    expected = {(ticket.pk, *email) for ticket in tickets for email in each}
    rows = list(
        Notification.objects.values_list("ticket_id", "metric", "kind", "deadline", "threshold")
    )
    assert Counter(rows) == Counter(expected)
    assert set(Notification.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    delivered = Counter(smtp_settings.message_ids())
    assert [message_id for message_id, count in delivered.items() if count > 1] == []
    assert set(delivered) == {n.message_id for n in Notification.objects.all()}
    assert set(Ticket.objects.values_list("resolution_state", "first_response_state")) == {
        (SlaState.BREACHED, SlaState.BREACHED)
    }
