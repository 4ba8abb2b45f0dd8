"""Policy edits never strand a ticket: a deleted policy, a policy moved to another priority.

The reproduction of issue 10 through the API, and the rule behind each answer: deleting a
policy keeps its tickets' deadlines, and a paused ticket still leaves `pending` with its
deadline moved by the business time it was paused, on the calendar it was paused on.
"""

from datetime import time, timedelta

import pytest

from policies import services as policy_services
from sla.enums import SlaState
from tests.calendars import berlin_office
from tests.conftest import T0, client_for
from tests.durations import HOUR
from tickets.checker import run_check
from tickets.models import DeadlineSource, SlaEventKind, Ticket

TICKETS = "/api/tickets/"


@pytest.fixture
def always_open(db):
    return policy_services.create_calendar(name="24x7", time_zone="UTC", is_24x7=True)


@pytest.fixture
def staff_api(staff):
    return client_for(staff)


def urgent_policy(calendar, **fields):
    fields.setdefault("resolution_target", 4 * HOUR)
    return policy_services.create_policy(
        name="Urgent", calendar=calendar, priority="urgent", **fields
    )


def paused_ticket(api, clock):
    """An urgent ticket with a policy deadline, pending since an hour after creation."""
    created = api.post(TICKETS, {"title": "Paused", "priority": "urgent"}, format="json")
    assert created.status_code == 201, created.json()
    clock.shift(HOUR)
    api.patch(f"{TICKETS}{created.json()['id']}/", {"status": "pending"}, format="json")
    return Ticket.objects.get(pk=created.json()["id"])


@pytest.mark.parametrize("leaving_to", ["open", "resolved"])
def test_a_paused_ticket_whose_policy_was_deleted_can_leave_pending(
    clock, api, staff_api, always_open, leaving_to
):
    policy = urgent_policy(always_open)
    ticket = paused_ticket(api, clock)
    assert ticket.deadline == T0 + 4 * HOUR
    assert staff_api.delete(f"/api/policies/{policy.pk}/").status_code == 204
    clock.shift(2 * HOUR)

    response = api.patch(f"{TICKETS}{ticket.pk}/", {"status": leaving_to}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["policy"] is None
    assert response.json()["paused_at"] is None
    # Three hours were left when it paused; two hours later, they are left from now.
    assert response.json()["deadline"] == (T0 + 6 * HOUR).isoformat().replace("+00:00", "Z")


def test_the_pause_is_measured_on_the_calendar_it_began_on(clock, api, staff_api):
    office = berlin_office()  # Monday to Friday 9:00-17:00 Berlin (UTC+1 in March)
    policy = urgent_policy(office)
    clock.move_to(T0)  # Tuesday 13:00 Berlin: due 17:00 Berlin, 16:00Z
    ticket = paused_ticket(api, clock)  # pending from 14:00 Berlin, three business hours left
    assert ticket.deadline == T0 + 4 * HOUR
    policy_services.delete_policy(policy=policy)
    clock.move_to(T0 + 22 * HOUR)  # Wednesday 11:00 Berlin

    response = api.patch(f"{TICKETS}{ticket.pk}/", {"status": "open"}, format="json")

    assert response.status_code == 200, response.json()
    # Three business hours from Wednesday 11:00 Berlin: 14:00 Berlin, 13:00Z.
    assert response.json()["deadline"] == "2026-03-11T13:00:00Z"


def test_leaving_pending_after_the_deletion_is_on_the_timeline(clock, api, always_open):
    policy = urgent_policy(always_open)
    ticket = paused_ticket(api, clock)
    policy_services.delete_policy(policy=policy)
    clock.shift(HOUR)

    api.patch(f"{TICKETS}{ticket.pk}/", {"status": "open"}, format="json")

    resumed = ticket.sla_events.get(kind=SlaEventKind.RESUMED)
    assert (resumed.previous_deadline, resumed.deadline) == (T0 + 4 * HOUR, T0 + 5 * HOUR)


def test_a_ticket_of_a_deleted_policy_is_still_watched_after_it_resumes(
    clock, api, always_open, smtp_settings
):
    policy = urgent_policy(always_open)
    ticket = paused_ticket(api, clock)
    policy_services.delete_policy(policy=policy)
    api.patch(f"{TICKETS}{ticket.pk}/", {"status": "open"}, format="json")
    clock.shift(4 * HOUR)

    run_check()

    ticket.refresh_from_db()
    assert ticket.resolution_state == SlaState.BREACHED
    assert [m.kind for m in smtp_settings.received()][-1] == "missed"


def test_a_24x7_calendar_closes_on_its_holidays(db):
    calendar = policy_services.create_calendar(
        name="Always but Christmas",
        time_zone="UTC",
        is_24x7=True,
        holidays=[(T0.date(), "A day off")],
    ).to_domain()

    assert calendar.between(T0.replace(hour=0), T0.replace(hour=0) + 24 * HOUR) == timedelta(0)


# --- A policy moved to another priority ---------------------------------------------------


def test_tickets_follow_their_priority_when_their_policy_moves_to_another(clock, api, always_open):
    high = policy_services.create_policy(
        name="High", calendar=always_open, priority="high", resolution_target=8 * HOUR
    )
    default = policy_services.create_policy(
        name="Default", calendar=always_open, resolution_target=24 * HOUR
    )
    ticket_id = api.post(TICKETS, {"title": "H", "priority": "high"}, format="json").json()["id"]

    policy_services.update_policy(policy=high, priority="low", resolution_target=2 * HOUR)
    run_check()

    ticket = Ticket.objects.get(pk=ticket_id)
    assert ticket.policy == default  # the policy for "high" now
    assert ticket.deadline == T0 + 24 * HOUR
    assert ticket.deadline_source == DeadlineSource.POLICY
    moved = ticket.sla_events.filter(kind=SlaEventKind.POLICY_EDITED).get(metric="resolution")
    assert (moved.previous_deadline, moved.deadline) == (T0 + 8 * HOUR, T0 + 24 * HOUR)
    assert moved.detail.startswith("policy High moved to priority low")
    assert moved.detail.endswith("now has policy Default")


def test_tickets_of_the_new_priority_keep_the_policy_they_have(clock, api, always_open):
    high = policy_services.create_policy(
        name="High", calendar=always_open, priority="high", resolution_target=8 * HOUR
    )
    policy_services.create_policy(name="Default", calendar=always_open, resolution_target=24 * HOUR)
    low_id = api.post(TICKETS, {"title": "L", "priority": "low"}, format="json").json()["id"]

    policy_services.update_policy(policy=high, priority="low", resolution_target=2 * HOUR)
    run_check()

    assert Ticket.objects.get(pk=low_id).deadline == T0 + 24 * HOUR  # as documented


def test_a_moved_policy_with_no_policy_left_for_the_priority_keeps_the_deadline(
    clock, api, always_open
):
    high = policy_services.create_policy(
        name="High", calendar=always_open, priority="high", resolution_target=8 * HOUR
    )
    ticket_id = api.post(TICKETS, {"title": "H", "priority": "high"}, format="json").json()["id"]

    policy_services.update_policy(policy=high, priority="low", resolution_target=2 * HOUR)
    run_check()

    ticket = Ticket.objects.get(pk=ticket_id)
    assert (ticket.policy, ticket.deadline) == (None, T0 + 8 * HOUR)
    assert ticket.next_check_at is not None  # still watched


def test_a_priority_move_with_opening_hours_recomputes_on_the_new_policy(clock, api):
    office = berlin_office()
    always = policy_services.create_calendar(
        name="Weekdays", time_zone="UTC", opening_hours=[(d, time(0), time(0)) for d in range(7)]
    )
    high = policy_services.create_policy(
        name="High", calendar=office, priority="high", resolution_target=8 * HOUR
    )
    policy_services.create_policy(name="Default", calendar=always, resolution_target=HOUR)
    ticket_id = api.post(TICKETS, {"title": "H", "priority": "high"}, format="json").json()["id"]
    clock.shift(3 * HOUR)  # past the default's one hour from creation

    policy_services.update_policy(policy=high, priority="low")
    run_check()

    ticket = Ticket.objects.get(pk=ticket_id)
    assert ticket.deadline == T0 + HOUR
    assert ticket.resolution_state == SlaState.BREACHED
