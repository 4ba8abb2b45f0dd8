"""The SLA engine with a policy: several thresholds, first response, pauses, recompute.

Worked examples checked by hand, on a real database and a real SMTP server on loopback:
the checker (tickets.checker.check_sla) runs at the instants the test moves the frozen
clock to, and the test reads back what reached the server.

The calendar is open Monday to Friday 9:00-17:00 in Europe/Berlin, closed on German
public holidays. The urgent policy: resolution in 4 business hours, first response in 1,
warnings 1 hour before each deadline (lead time 3600 s) and at 50 % of each target.

An urgent ticket created Friday 2026-03-13 at 16:00:
- first response is due Friday 17:00; its thresholds are 1 h left (16:00, so already
  passed at creation) and 50 % of 1 h, 30 min left (16:30);
- resolution is due Monday 2026-03-16 at 12:00 (Friday 16-17, Monday 9-12); its
  thresholds are 50 % of 4 h, 2 h left (Monday 10:00) and 1 h left (Monday 11:00).
"""

from datetime import date, datetime
from typing import Any, NamedTuple
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from notifications.models import DeliveryStatus, Notification
from policies import services as policy_services
from policies.models import BusinessCalendar, SlaPolicy
from sla.enums import Announcement, Metric, Priority, SlaState, Status
from tests.calendars import berlin_office
from tests.durations import HOUR
from tests.smtp_server import SmtpServer
from tickets import services
from tickets.checker import run_check, run_state_changes
from tickets.models import SlaEvent, SlaEventKind, Ticket, TicketPause
from tickets.recompute import run_requested

BERLIN = ZoneInfo("Europe/Berlin")

RES, FR = Metric.RESOLUTION, Metric.FIRST_RESPONSE
CREATED, WARNING, MISSED = Announcement.CREATED, Announcement.WARNING, Announcement.MISSED


def berlin(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


FRIDAY_16 = berlin(3, 13, 16)
FRIDAY_17 = berlin(3, 13, 17)
MONDAY_12 = berlin(3, 16, 12)


class Email(NamedTuple):
    metric: str
    kind: str
    threshold: int
    deadline: datetime


class World:
    """The clock, the checker and the mail server, driven by the test."""

    def __init__(self, clock: time_machine.Traveller, server: SmtpServer) -> None:
        self.clock = clock
        self.server = server
        self.seen = 0

    def at(self, instant: datetime) -> datetime:
        self.clock.move_to(instant)
        return instant

    def check(self, instant: datetime) -> list[Email]:
        """Run the checker at `instant`; the emails that arrived because of it."""
        run_check(now=self.at(instant))
        return self.arrived()

    def arrived(self) -> list[Email]:
        received = self.server.received()
        new, self.seen = received[self.seen :], len(received)
        return [email_of(message.message_id) for message in new]


def email_of(message_id: str) -> Email:
    row = Notification.objects.get(message_key=UUID(message_id[1:37]))
    return Email(row.metric, row.kind, row.threshold, row.deadline)


@pytest.fixture
def world(clock: time_machine.Traveller, smtp_settings: SmtpServer) -> World:
    return World(clock, smtp_settings)


@pytest.fixture
def office(db: None) -> BusinessCalendar:
    return berlin_office()


@pytest.fixture
def urgent(office: BusinessCalendar) -> SlaPolicy:
    return policy_services.create_policy(
        name="Urgent",
        calendar=office,
        priority=Priority.URGENT,
        resolution_target=4 * HOUR,
        first_response_target=HOUR,
        warning_lead_times=[3600],
        warning_percentages=[50],
    )


@pytest.fixture
def ticket(world: World, alice: Any, urgent: SlaPolicy) -> Ticket:
    """The urgent ticket of the worked example, created Friday 16:00."""
    world.at(FRIDAY_16)
    return services.create_ticket(owner=alice, title="Printer on fire", priority=Priority.URGENT)


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def outbox(ticket: Ticket, *, status: str | None = None) -> list[Email]:
    rows = Notification.objects.filter(ticket=ticket).exclude(kind=CREATED).order_by("id")
    if status is not None:
        rows = rows.filter(status=status)
    return [Email(n.metric, n.kind, n.threshold, n.deadline) for n in rows]


def events(ticket: Ticket, *kinds: str) -> list[tuple[str, str, datetime | None, datetime | None]]:
    rows = SlaEvent.objects.filter(ticket=ticket).order_by("at", "id")
    if kinds:
        rows = rows.filter(kind__in=kinds)
    return [(e.kind, e.metric, e.previous_deadline, e.deadline) for e in rows]


# --- The worked example, checker on time --------------------------------------------------


def test_the_worked_example_announces_every_threshold_of_both_metrics_once(world, ticket):
    assert (ticket.deadline, ticket.first_response_due) == (MONDAY_12, FRIDAY_17)

    # Created: the creation email only. The 1 h lead time is as long as the first-response
    # target, so it would be passed at creation: it is dropped for that metric.
    assert world.check(FRIDAY_16) == [Email(RES, CREATED, 0, MONDAY_12)]
    assert fresh(ticket).next_check_at == berlin(3, 13, 16, 30)
    assert world.check(berlin(3, 13, 16, 29)) == []
    assert world.check(berlin(3, 13, 16, 30)) == [Email(FR, WARNING, 1800, FRIDAY_17)]
    assert world.check(berlin(3, 13, 16, 45)) == []
    assert world.check(FRIDAY_17) == [Email(FR, MISSED, 0, FRIDAY_17)]
    # The weekend and Monday's first hour pass no resolution threshold.
    assert fresh(ticket).next_check_at == berlin(3, 16, 10)
    assert world.check(berlin(3, 14, 12)) == []
    assert world.check(berlin(3, 16, 9, 59)) == []
    assert world.check(berlin(3, 16, 10)) == [Email(RES, WARNING, 7200, MONDAY_12)]
    assert world.check(berlin(3, 16, 10, 30)) == []
    assert world.check(berlin(3, 16, 11)) == [Email(RES, WARNING, 3600, MONDAY_12)]
    assert world.check(berlin(3, 16, 11, 59)) == []
    assert world.check(MONDAY_12) == [Email(RES, MISSED, 0, MONDAY_12)]
    assert world.check(berlin(3, 16, 17)) == []

    done = fresh(ticket)
    assert (done.resolution_state, done.resolution_breached_at) == (SlaState.BREACHED, MONDAY_12)
    assert (done.first_response_state, done.first_response_breached_at) == (
        SlaState.BREACHED,
        FRIDAY_17,
    )
    assert done.next_check_at is None


def test_first_response_emails_have_subjects_of_their_own(world, ticket):
    world.check(FRIDAY_16)
    world.check(berlin(3, 13, 16, 30))
    world.check(FRIDAY_17)
    world.check(berlin(3, 16, 11))
    world.check(MONDAY_12)

    subjects = {
        (message.kind, email_of(message.message_id).metric): message.subject
        for message in world.server.received()
    }
    for kind in (WARNING, MISSED):
        assert "first response" in subjects[kind, FR].lower()
        assert "first response" not in subjects[kind, RES].lower()
        assert subjects[kind, FR] != subjects[kind, RES]
        assert subjects[kind, FR].endswith(f"#{ticket.pk} Printer on fire")


def test_a_checker_back_after_the_weekend_announces_only_the_latest_threshold(world, ticket):
    world.check(FRIDAY_17)
    world.arrived()

    # Away from Friday 17:00 to Monday 11:30: both resolution thresholds passed meanwhile.
    assert world.check(berlin(3, 16, 11, 30)) == [Email(RES, WARNING, 3600, MONDAY_12)]
    assert world.check(MONDAY_12) == [Email(RES, MISSED, 0, MONDAY_12)]
    assert [e.threshold for e in outbox(ticket) if e.metric == RES and e.kind == WARNING] == [3600]


def test_responding_in_time_achieves_first_response_and_stops_its_emails(world, ticket):
    world.check(FRIDAY_16)
    world.at(berlin(3, 13, 16, 20))

    services.respond(ticket=ticket)

    assert world.check(berlin(3, 13, 16, 30)) == []
    assert world.check(FRIDAY_17) == []
    assert fresh(ticket).first_response_state == SlaState.ACHIEVED
    # Resolution is not affected.
    assert world.check(berlin(3, 16, 10)) == [Email(RES, WARNING, 7200, MONDAY_12)]


def test_responding_cancels_a_first_response_warning_not_yet_delivered(world, ticket):
    # The checker queues the 30-minute warning but the ticket is answered before delivery.
    world.at(berlin(3, 13, 16, 30))
    run_state_changes(now=berlin(3, 13, 16, 30))
    assert outbox(ticket, status=DeliveryStatus.PENDING)[-1] == Email(FR, WARNING, 1800, FRIDAY_17)

    services.respond(ticket=ticket, now=berlin(3, 13, 16, 31))

    # Answered in time: neither first-response warning is true any more.
    assert outbox(ticket, status=DeliveryStatus.CANCELLED) == [
        Email(FR, WARNING, 1800, FRIDAY_17),
    ]
    assert world.check(berlin(3, 13, 16, 31)) == [Email(RES, CREATED, 0, MONDAY_12)]
    assert world.check(FRIDAY_17) == []
    assert fresh(ticket).first_response_state == SlaState.ACHIEVED


# --- Pending: the resolution clock stops, first response does not ---------------------------


def test_pending_monday_10_to_11_moves_the_deadline_one_hour_without_repeating_a_warning(
    world, ticket
):
    world.check(FRIDAY_17)
    world.arrived()
    assert world.check(berlin(3, 16, 10)) == [Email(RES, WARNING, 7200, MONDAY_12)]

    services.update_ticket(ticket=ticket, status=Status.PENDING)
    paused = fresh(ticket)
    assert (paused.resolution_state, paused.next_check_at) == (SlaState.PAUSED, None)
    assert world.check(berlin(3, 16, 10, 30)) == []
    world.at(berlin(3, 16, 11))
    services.update_ticket(ticket=ticket, status=Status.OPEN)

    # Paused one business hour: due at 13:00. At 11:00 two hours are left again, the
    # threshold already announced; the next is 1 h left, at 12:00.
    resumed = fresh(ticket)
    assert resumed.deadline == berlin(3, 16, 13)
    assert (resumed.resolution_state, resumed.next_check_at) == (SlaState.AT_RISK, MONDAY_12)
    assert world.check(berlin(3, 16, 11)) == []
    assert world.check(berlin(3, 16, 11, 30)) == []
    assert world.check(MONDAY_12) == [Email(RES, WARNING, 3600, berlin(3, 16, 13))]
    assert world.check(berlin(3, 16, 12, 30)) == []
    assert world.check(berlin(3, 16, 13)) == [Email(RES, MISSED, 0, berlin(3, 16, 13))]

    assert [(e.kind, e.threshold) for e in outbox(ticket) if e.metric == RES] == [
        (WARNING, 7200),
        (WARNING, 3600),
        (MISSED, 0),
    ]
    assert list(
        TicketPause.objects.filter(ticket=ticket).values_list("started_at", "ended_at")
    ) == [(berlin(3, 16, 10), berlin(3, 16, 11))]
    assert events(ticket, SlaEventKind.PAUSED, SlaEventKind.RESUMED) == [
        (SlaEventKind.PAUSED, RES, None, MONDAY_12),
        (SlaEventKind.RESUMED, RES, MONDAY_12, berlin(3, 16, 13)),
    ]


def test_a_warning_queued_before_the_pause_is_delivered_once_after_it(world, ticket):
    world.check(FRIDAY_17)
    world.arrived()
    # The checker queues the 2-hour warning; the ticket goes pending before delivery.
    world.at(berlin(3, 16, 10))
    run_state_changes(now=berlin(3, 16, 10))
    services.update_ticket(ticket=ticket, status=Status.PENDING, now=berlin(3, 16, 10, 5))

    # Still true (the clock merely stopped): delivered, once.
    assert world.check(berlin(3, 16, 10, 10)) == [Email(RES, WARNING, 7200, MONDAY_12)]
    services.update_ticket(ticket=ticket, status=Status.OPEN, now=berlin(3, 16, 11))
    assert world.check(berlin(3, 16, 11)) == []
    # Paused 10:05-11:00: 55 minutes, due 12:55; 1 h left at 11:55.
    assert fresh(ticket).deadline == berlin(3, 16, 12, 55)
    assert world.check(berlin(3, 16, 11, 55)) == [Email(RES, WARNING, 3600, berlin(3, 16, 12, 55))]


def test_first_response_is_not_paused_while_resolution_is(world, ticket):
    world.check(FRIDAY_16)
    world.at(berlin(3, 13, 16, 10))
    services.update_ticket(ticket=ticket, status=Status.PENDING)

    # First response keeps running: warned at 16:30, missed at 17:00, due unchanged.
    assert world.check(berlin(3, 13, 16, 30)) == [Email(FR, WARNING, 1800, FRIDAY_17)]
    assert world.check(FRIDAY_17) == [Email(FR, MISSED, 0, FRIDAY_17)]
    # Resolution is stopped: Monday 10:00 and 11:00 pass no threshold.
    assert world.check(berlin(3, 16, 9, 20)) == []

    world.at(berlin(3, 16, 9, 30))
    services.update_ticket(ticket=ticket, status=Status.OPEN)

    # 10 minutes ran before the pause; 3 h 50 min left from Monday 9:30: 13:20.
    resumed = fresh(ticket)
    assert (resumed.deadline, resumed.first_response_due) == (berlin(3, 16, 13, 20), FRIDAY_17)
    assert resumed.first_response_state == SlaState.BREACHED
    assert world.check(berlin(3, 16, 11, 20)) == [Email(RES, WARNING, 7200, berlin(3, 16, 13, 20))]


# --- Recompute after a policy edit -----------------------------------------------------------


def test_a_shorter_target_recomputes_the_deadline_and_sends_the_warning_now_due(
    world, ticket, urgent
):
    world.check(FRIDAY_17)
    world.arrived()
    world.at(berlin(3, 16, 9, 30))

    policy_services.update_policy(policy=urgent, resolution_target=2 * HOUR)
    assert SlaPolicy.objects.get(pk=urgent.pk).recompute_requested_at is not None

    # Two business hours from Friday 16:00: Monday 10:00. Its thresholds (1 h, and 50 %
    # of 2 h) are both one hour left: from Friday 17:00 on. Passed: the warning is due.
    assert world.check(berlin(3, 16, 9, 30)) == [Email(RES, WARNING, 3600, berlin(3, 16, 10))]
    edited = fresh(ticket)
    assert (edited.deadline, edited.resolution_state) == (berlin(3, 16, 10), SlaState.AT_RISK)
    assert SlaPolicy.objects.get(pk=urgent.pk).recompute_requested_at is None
    assert events(ticket, SlaEventKind.POLICY_EDITED) == [
        (SlaEventKind.POLICY_EDITED, RES, MONDAY_12, berlin(3, 16, 10))
    ]
    assert world.check(berlin(3, 16, 10)) == [Email(RES, MISSED, 0, berlin(3, 16, 10))]
    assert world.check(MONDAY_12) == []


def test_a_longer_target_cancels_the_undelivered_warning_that_no_longer_holds(
    world, ticket, urgent
):
    world.check(FRIDAY_17)
    world.arrived()
    # Monday 10:00: the 2-hour warning is queued, not delivered yet.
    world.at(berlin(3, 16, 10))
    run_state_changes(now=berlin(3, 16, 10))
    assert outbox(ticket, status=DeliveryStatus.PENDING) == [Email(RES, WARNING, 7200, MONDAY_12)]

    world.at(berlin(3, 16, 10, 15))
    policy_services.update_policy(policy=urgent, resolution_target=8 * HOUR)

    # Eight hours from Friday 16:00: Monday 16:00, with 5 h 45 min left at 10:15 and
    # thresholds of 4 h (50 % of 8 h: 12:00) and 1 h (15:00). On track: nothing to say.
    assert world.check(berlin(3, 16, 10, 15)) == []
    edited = fresh(ticket)
    assert (edited.deadline, edited.resolution_state) == (berlin(3, 16, 16), SlaState.ON_TRACK)
    cancelled = outbox(ticket, status=DeliveryStatus.CANCELLED)
    assert [e for e in cancelled if e.metric == RES] == [Email(RES, WARNING, 7200, MONDAY_12)]
    assert edited.next_check_at == MONDAY_12
    assert world.check(MONDAY_12) == [Email(RES, WARNING, 14_400, berlin(3, 16, 16))]
    assert world.check(berlin(3, 16, 15)) == [Email(RES, WARNING, 3600, berlin(3, 16, 16))]
    assert world.check(berlin(3, 16, 16)) == [Email(RES, MISSED, 0, berlin(3, 16, 16))]


def test_a_breach_that_happened_is_kept_and_not_announced_again_after_a_longer_target(
    world, ticket, urgent
):
    for instant in (FRIDAY_16, FRIDAY_17, berlin(3, 16, 11), MONDAY_12):
        world.check(instant)
    assert world.arrived() == []
    world.at(berlin(3, 16, 12, 30))

    # Both targets longer: first response 3 h (Monday 11:00), resolution 8 h (16:00).
    # Both deadlines now lie after the moment the target was missed; the breaches stay.
    policy_services.update_policy(
        policy=urgent, resolution_target=8 * HOUR, first_response_target=3 * HOUR
    )
    assert world.check(berlin(3, 16, 12, 30)) == []

    edited = fresh(ticket)
    assert (edited.deadline, edited.first_response_due) == (berlin(3, 16, 16), berlin(3, 16, 11))
    assert (edited.resolution_state, edited.resolution_breached_at) == (
        SlaState.BREACHED,
        MONDAY_12,
    )
    assert (edited.first_response_state, edited.first_response_breached_at) == (
        SlaState.BREACHED,
        FRIDAY_17,
    )
    assert edited.next_check_at is None
    assert world.check(berlin(3, 16, 16)) == []
    assert world.check(berlin(3, 16, 17)) == []
    # One miss per metric, for the deadline it was missed against.
    assert [e for e in outbox(ticket) if e.kind == MISSED] == [
        Email(FR, MISSED, 0, FRIDAY_17),
        Email(RES, MISSED, 0, MONDAY_12),
    ]
    assert events(ticket, SlaEventKind.POLICY_EDITED) == [
        (SlaEventKind.POLICY_EDITED, RES, MONDAY_12, berlin(3, 16, 16)),
        (SlaEventKind.POLICY_EDITED, FR, FRIDAY_17, berlin(3, 16, 11)),
    ]
    # And resolving it now is a late resolution, not an achievement.
    services.update_ticket(ticket=ticket, status=Status.RESOLVED)
    assert fresh(ticket).resolution_state == SlaState.BREACHED


def test_new_thresholds_apply_to_open_tickets_once_each(world, ticket, urgent):
    world.check(FRIDAY_17)
    world.arrived()
    world.at(berlin(3, 16, 9, 30))

    # 3 h left is Friday 17:00 (see tests/sla/test_sla_metrics.py), so passed at 9:30: one
    # warning. 30 min left (11:30) comes later. The deadline does not move.
    policy_services.update_policy(policy=urgent, warning_lead_times=[10_800, 1800])
    assert world.check(berlin(3, 16, 9, 30)) == [Email(RES, WARNING, 10_800, MONDAY_12)]
    assert world.check(berlin(3, 16, 10)) == [Email(RES, WARNING, 7200, MONDAY_12)]
    assert world.check(berlin(3, 16, 11, 30)) == [Email(RES, WARNING, 1800, MONDAY_12)]
    assert events(ticket, SlaEventKind.POLICY_EDITED) == []  # no deadline moved

    # Editing it again to the same thresholds repeats nothing.
    policy_services.update_policy(policy=urgent, warning_lead_times=[10_800, 1800])
    assert world.check(berlin(3, 16, 11, 40)) == []


def test_a_missed_first_response_stays_missed_when_the_policy_drops_its_target(
    world, ticket, urgent
):
    world.check(FRIDAY_16)
    world.check(FRIDAY_17)
    world.at(berlin(3, 16, 9, 30))

    policy_services.update_policy(policy=urgent, first_response_target=None)
    world.check(berlin(3, 16, 9, 30))

    edited = fresh(ticket)
    assert (edited.first_response_due, edited.first_response_state) == (
        FRIDAY_17,
        SlaState.BREACHED,
    )
    assert edited.first_response_breached_at == FRIDAY_17
    assert [e for e in outbox(ticket) if e.metric == FR and e.kind == MISSED] == [
        Email(FR, MISSED, 0, FRIDAY_17)
    ]


def test_a_first_response_not_yet_due_is_no_longer_tracked_when_the_policy_drops_its_target(
    world, ticket, urgent
):
    world.check(FRIDAY_16)
    world.at(berlin(3, 13, 16, 10))

    policy_services.update_policy(policy=urgent, first_response_target=None)
    world.check(berlin(3, 13, 16, 10))

    edited = fresh(ticket)
    assert (edited.first_response_due, edited.first_response_state) == (None, "")
    assert world.check(FRIDAY_17) == []
    assert edited.next_breach_at == MONDAY_12


def test_a_policy_edit_in_the_admin_is_recomputed_by_the_next_check(world, ticket, urgent):
    admin = Client()
    admin.force_login(type(ticket.owner).objects.create_superuser("root", "root@example.com", "x"))
    world.at(berlin(3, 16, 9, 30))
    form = {
        "name": "Urgent",
        "calendar": str(urgent.calendar_id),
        "priority": "urgent",
        "resolution_target": "02:00:00",
        "first_response_target": "01:00:00",
        "warning_lead_times": "[3600]",
        "warning_percentages": "[50]",
    }

    response = admin.post(f"/admin/policies/slapolicy/{urgent.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert fresh(ticket).deadline == MONDAY_12  # not yet: the check does it
    run_requested(now=berlin(3, 16, 9, 30))
    assert fresh(ticket).deadline == berlin(3, 16, 10)
    assert events(ticket, SlaEventKind.POLICY_EDITED)[0][2:] == (MONDAY_12, berlin(3, 16, 10))


# --- Recompute after a calendar edit ---------------------------------------------------------


def test_a_holiday_added_to_the_calendar_moves_the_deadline_of_open_tickets(
    world, ticket, office, alice
):
    world.check(FRIDAY_16)
    resolved = services.create_ticket(
        owner=alice, title="Done", priority=Priority.URGENT, now=FRIDAY_16
    )
    services.update_ticket(ticket=resolved, status=Status.RESOLVED, now=berlin(3, 13, 16, 10))
    world.at(berlin(3, 13, 16, 20))

    policy_services.update_calendar(calendar=office, holidays=[(date(2026, 3, 16), "Closed")])
    world.check(berlin(3, 13, 16, 20))

    # Monday closed: Friday 16-17, then Tuesday 9-12.
    moved = fresh(ticket)
    assert (moved.deadline, moved.first_response_due) == (berlin(3, 17, 12), FRIDAY_17)
    assert events(ticket, SlaEventKind.CALENDAR_EDITED) == [
        (SlaEventKind.CALENDAR_EDITED, RES, MONDAY_12, berlin(3, 17, 12))
    ]
    assert "Berlin office" in SlaEvent.objects.get(ticket=ticket, kind="calendar_edited").detail
    # A resolved ticket keeps the deadline it was judged by.
    assert fresh(resolved).deadline == MONDAY_12
    assert events(resolved, SlaEventKind.CALENDAR_EDITED) == []
    # Nothing is due on the Monday holiday; the thresholds follow the new deadline.
    assert [e for e in world.check(berlin(3, 16, 11)) if e.metric == RES] == []
    assert world.check(berlin(3, 17, 10)) == [Email(RES, WARNING, 7200, berlin(3, 17, 12))]


def _calendar_change_form(calendar: BusinessCalendar, holiday: date) -> dict[str, str]:
    hours = list(calendar.opening_hours.order_by("weekday", "opens"))
    data = {
        "name": calendar.name,
        "time_zone": calendar.time_zone,
        "holiday_country": calendar.holiday_country,
        "holiday_subdivision": calendar.holiday_subdivision,
        "opening_hours-TOTAL_FORMS": str(len(hours)),
        "opening_hours-INITIAL_FORMS": str(len(hours)),
        "holidays-TOTAL_FORMS": "1",
        "holidays-INITIAL_FORMS": "0",
        "holidays-0-date": holiday.isoformat(),
        "holidays-0-name": "Office move",
    }
    for n, row in enumerate(hours):
        data |= {
            f"opening_hours-{n}-id": str(row.pk),
            f"opening_hours-{n}-calendar": str(calendar.pk),
            f"opening_hours-{n}-weekday": str(row.weekday),
            f"opening_hours-{n}-opens": row.opens.strftime("%H:%M"),
            f"opening_hours-{n}-closes": row.closes.strftime("%H:%M"),
        }
    return data


def test_a_calendar_edit_in_the_admin_is_recomputed_by_the_next_check(
    world, ticket, office, urgent
):
    admin = Client()
    admin.force_login(type(ticket.owner).objects.create_superuser("root", "root@example.com", "x"))
    world.at(berlin(3, 13, 16, 20))

    response = admin.post(
        f"/admin/policies/businesscalendar/{office.pk}/change/",
        _calendar_change_form(office, date(2026, 3, 16)),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert SlaPolicy.objects.get(pk=urgent.pk).recompute_reason == "calendar_edited"
    world.check(berlin(3, 13, 16, 20))
    assert fresh(ticket).deadline == berlin(3, 17, 12)
    assert events(ticket, SlaEventKind.CALENDAR_EDITED) == [
        (SlaEventKind.CALENDAR_EDITED, RES, MONDAY_12, berlin(3, 17, 12))
    ]


def test_a_recompute_counts_the_pauses_of_the_tickets_it_moves(world, ticket, urgent):
    # Paused Friday 16:30 to Monday 10:00 (1.5 business hours): due 13:30.
    services.update_ticket(ticket=ticket, status=Status.PENDING, now=berlin(3, 13, 16, 30))
    services.update_ticket(ticket=ticket, status=Status.OPEN, now=berlin(3, 16, 10))
    assert fresh(ticket).deadline == berlin(3, 16, 13, 30)
    world.at(berlin(3, 16, 10, 5))

    policy_services.update_policy(policy=urgent, resolution_target=5 * HOUR)
    world.check(berlin(3, 16, 10, 5))

    # Half an hour on Friday, then 4.5 h from Monday 10:00: 14:30.
    assert fresh(ticket).deadline == berlin(3, 16, 14, 30)


def test_the_recompute_reads_in_bulk_whatever_the_number_of_tickets(world, alice, urgent):
    def statements_to_recompute(count: int) -> list[str]:
        for n in range(count):
            services.create_ticket(
                owner=alice, title=f"Ticket {n}", priority=Priority.URGENT, now=FRIDAY_16
            )
        policy_services.update_policy(policy=urgent, resolution_target=2 * HOUR)
        with CaptureQueriesContext(connection) as captured:
            recomputed = run_requested(now=berlin(3, 16, 9, 30))
        assert recomputed == Ticket.objects.count()
        policy_services.update_policy(policy=urgent, resolution_target=4 * HOUR)
        run_requested(now=berlin(3, 16, 9, 30))
        # SQLite caps the parameters of one INSERT, so Django splits large bulk inserts.
        # (and the test runner shows an executemany as "N times: UPDATE ...").
        statements = [q["sql"].split(" times: ")[-1].split(" ")[0] for q in captured]
        return [statement for statement in statements if statement != "INSERT"]

    world.at(FRIDAY_16)
    few = statements_to_recompute(3)
    many = statements_to_recompute(60)

    assert many == few
    assert len(few) < 25
    assert set(Ticket.objects.values_list("deadline", flat=True)) == {MONDAY_12}
