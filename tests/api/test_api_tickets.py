"""The ticket API: who sees what, what a client may set, and how lists page, filter and sort."""

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from notifications.models import Notification
from sla.enums import Priority, SlaState, Status
from tests.conftest import T0, client_for
from tests.durations import HOUR
from tickets.models import Ticket

LIST = "/api/tickets/"


def detail(ticket: Ticket) -> str:
    return f"/api/tickets/{ticket.pk}/"


def titles(response) -> list[str]:
    return [row["title"] for row in response.json()["results"]]


# --- Authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", LIST),
        ("post", LIST),
        ("get", "/api/tickets/1/"),
        ("put", "/api/tickets/1/"),
        ("patch", "/api/tickets/1/"),
        ("delete", "/api/tickets/1/"),
        ("get", "/api/tickets/1/notifications/"),
        ("post", "/api/logout/"),
    ],
)
def test_it_answers_401_to_a_request_without_credentials(db, method, path):
    response = getattr(APIClient(), method)(path, {}, format="json")

    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication credentials were not provided."
    assert response["WWW-Authenticate"] == "Token"


def test_it_answers_401_to_an_unknown_token(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    response = client.get(LIST)

    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


# --- Owner isolation ------------------------------------------------------------------------


def test_alice_sees_her_own_ticket_in_the_list_and_in_detail(clock, api, make_ticket):
    ticket = make_ticket(title="Alice's printer")

    listed = api.get(LIST)
    fetched = api.get(detail(ticket))

    assert titles(listed) == ["Alice's printer"]
    assert fetched.status_code == 200
    assert fetched.json()["owner"] == "alice"


def test_bob_does_not_see_alice_s_ticket_in_his_list(clock, bob, make_ticket):
    make_ticket(title="Alice's printer")
    make_ticket(owner=bob, title="Bob's stapler")

    response = client_for(bob).get(LIST)

    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert titles(response) == ["Bob's stapler"]


def test_bob_gets_404_for_alice_s_ticket(clock, bob, make_ticket):
    ticket = make_ticket()

    response = client_for(bob).get(detail(ticket))

    assert response.status_code == 404
    assert "detail" in response.json()


def test_bob_gets_404_for_a_put_to_alice_s_ticket_and_it_stays_unchanged(clock, bob, make_ticket):
    ticket = make_ticket(title="Printer on fire", priority=Priority.LOW)
    body = {
        "title": "Hijacked",
        "deadline": (T0 + timedelta(days=3)).isoformat(),
        "status": "closed",
        "priority": "urgent",
    }

    response = client_for(bob).put(detail(ticket), body, format="json")

    assert response.status_code == 404
    after = Ticket.objects.get(pk=ticket.pk)
    assert (after.title, after.deadline, after.status, after.priority) == (
        "Printer on fire",
        ticket.deadline,
        Status.OPEN,
        Priority.LOW,
    )


def test_bob_gets_404_for_a_patch_to_alice_s_ticket_and_it_stays_unchanged(clock, bob, make_ticket):
    ticket = make_ticket(title="Printer on fire")

    response = client_for(bob).patch(detail(ticket), {"title": "Hijacked"}, format="json")

    assert response.status_code == 404
    assert Ticket.objects.get(pk=ticket.pk).title == "Printer on fire"


def test_bob_gets_404_for_deleting_alice_s_ticket_and_it_still_exists(clock, bob, make_ticket):
    ticket = make_ticket()

    response = client_for(bob).delete(detail(ticket))

    assert response.status_code == 404
    assert Ticket.objects.filter(pk=ticket.pk).exists()


def test_bob_gets_404_for_alice_s_ticket_notifications(clock, bob, make_ticket):
    ticket = make_ticket()
    assert Notification.objects.filter(ticket=ticket).exists()

    response = client_for(bob).get(f"{detail(ticket)}notifications/")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_alice_reads_the_notifications_of_her_ticket(clock, api, make_ticket):
    ticket = make_ticket()

    response = api.get(f"{detail(ticket)}notifications/")

    assert response.status_code == 200
    assert [row["kind"] for row in response.json()] == ["created"]


def test_alice_updates_her_ticket_with_put_and_patch(clock, api, make_ticket):
    ticket = make_ticket()
    body = {"title": "Replaced", "deadline": (T0 + timedelta(days=3)).isoformat()}

    put = api.put(detail(ticket), body, format="json")
    patch = api.patch(detail(ticket), {"priority": "high"}, format="json")

    assert put.status_code == 200
    assert patch.status_code == 200
    after = Ticket.objects.get(pk=ticket.pk)
    assert (after.title, after.deadline, after.priority) == (
        "Replaced",
        T0 + timedelta(days=3),
        "high",
    )


def test_alice_deletes_her_ticket(clock, api, make_ticket):
    ticket = make_ticket()

    response = api.delete(detail(ticket))

    assert response.status_code == 204
    assert not Ticket.objects.filter(pk=ticket.pk).exists()


def test_staff_see_every_ticket_in_the_list(clock, bob, staff, make_ticket):
    make_ticket(title="Alice's printer", due_in=timedelta(hours=1))
    make_ticket(owner=bob, title="Bob's stapler", due_in=timedelta(hours=2))

    response = client_for(staff).get(LIST)

    assert titles(response) == ["Alice's printer", "Bob's stapler"]


def test_staff_read_anyone_s_ticket_in_detail(clock, bob, staff, make_ticket):
    ticket = make_ticket(owner=bob, title="Bob's stapler")

    response = client_for(staff).get(detail(ticket))

    assert response.status_code == 200
    assert response.json()["owner"] == "bob"


# --- Creating, and fields a client may not set ----------------------------------------------


def test_it_creates_a_ticket_owned_by_the_caller(clock, api, alice):
    response = api.post(
        LIST, {"title": "Printer on fire", "deadline": "2026-03-10T14:00:00Z"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    ticket = Ticket.objects.get(pk=body["id"])
    assert ticket.owner == alice
    assert body["owner"] == "alice"
    assert body["status"] == Status.OPEN
    assert body["priority"] == Priority.NORMAL
    assert body["sla_state"] == SlaState.ON_TRACK


def test_it_reads_a_deadline_with_an_offset_as_that_moment(clock, api):
    response = api.post(
        LIST, {"title": "Printer", "deadline": "2026-03-10T15:00:00+01:00"}, format="json"
    )

    assert response.status_code == 201
    assert Ticket.objects.get().deadline == T0 + timedelta(hours=2)


FORGED: dict[str, Any] = {
    "id": 999_999,
    "owner": "bob",
    "created_at": "2001-01-01T00:00:00Z",
    "updated_at": "2001-01-01T00:00:00Z",
    "resolved_at": "2001-01-01T00:00:00Z",
    "sla_state": "breached",
    "warning_sent_at": "2001-01-01T00:00:00Z",
    "breached_at": "2001-01-01T00:00:00Z",
    "sla_warning_sent": True,
    "sla_missed": True,
    "next_check_at": None,
    "first_response_due": "2001-01-01T00:00:00Z",
    "first_responded_at": "2001-01-01T00:00:00Z",
    "first_response_state": "breached",
    "paused_at": "2001-01-01T00:00:00Z",
    "next_breach_at": "2001-01-01T00:00:00Z",
}


def assert_not_forged(ticket: Ticket, body: dict[str, Any]) -> None:
    assert ticket.pk != FORGED["id"]
    assert ticket.owner.username == body["owner"] == "alice"
    assert ticket.created_at == T0
    assert ticket.updated_at == T0
    assert ticket.resolved_at is None
    assert ticket.resolution_state == body["sla_state"] == SlaState.ON_TRACK
    assert ticket.resolution_warning_sent_at is None
    assert ticket.resolution_breached_at is None
    assert ticket.next_check_at is not None
    assert body["sla_warning_sent"] is False
    assert body["sla_missed"] is False
    assert (ticket.first_response_due, ticket.first_responded_at) == (None, None)
    assert ticket.first_response_state == body["first_response_state"] == ""
    assert (ticket.paused_at, body["paused_at"]) == (None, None)
    assert ticket.next_breach_at == ticket.deadline


def test_it_ignores_read_only_fields_forged_on_create(clock, api, bob):
    body = {**FORGED, "title": "Printer", "deadline": "2026-03-11T12:00:00Z"}

    response = api.post(LIST, body, format="json")

    assert response.status_code == 201
    assert not Ticket.objects.filter(pk=FORGED["id"]).exists()
    assert_not_forged(Ticket.objects.get(pk=response.json()["id"]), response.json())


def test_it_ignores_read_only_fields_forged_on_patch(clock, api, bob, make_ticket):
    ticket = make_ticket(due_in=timedelta(days=1))

    response = api.patch(detail(ticket), {**FORGED, "title": "Renamed"}, format="json")

    assert response.status_code == 200
    after = Ticket.objects.get(pk=ticket.pk)
    assert after.title == "Renamed"
    assert_not_forged(after, response.json())


def test_it_ignores_read_only_fields_forged_on_put(clock, api, bob, make_ticket):
    ticket = make_ticket(due_in=timedelta(days=1))
    body = {**FORGED, "title": "Renamed", "deadline": "2026-03-11T12:00:00Z"}

    response = api.put(detail(ticket), body, format="json")

    assert response.status_code == 200
    after = Ticket.objects.get(pk=ticket.pk)
    assert after.title == "Renamed"
    assert_not_forged(after, response.json())


# --- Pagination -----------------------------------------------------------------------------


def test_it_pages_the_list_with_count_next_and_previous(clock, api, make_ticket):
    for hour in range(1, 6):
        make_ticket(title=f"T{hour}", due_in=timedelta(hours=hour))

    first = api.get(LIST, {"page_size": 2})
    second = api.get(first.json()["next"])
    last = api.get(second.json()["next"])

    assert first.json()["count"] == 5
    assert first.json()["previous"] is None
    assert titles(first) == ["T1", "T2"]
    assert titles(second) == ["T3", "T4"]
    assert second.json()["previous"] is not None
    assert titles(last) == ["T5"]
    assert last.json()["next"] is None


def test_it_caps_page_size_at_api_max_page_size(clock, api, alice):
    deadline = T0 + timedelta(days=1)
    Ticket.objects.bulk_create(
        Ticket(owner=alice, title=f"T{n}", deadline=deadline)
        for n in range(settings.API_MAX_PAGE_SIZE + 1)
    )

    response = api.get(LIST, {"page_size": settings.API_MAX_PAGE_SIZE + 100})

    assert response.json()["count"] == settings.API_MAX_PAGE_SIZE + 1
    assert len(response.json()["results"]) == settings.API_MAX_PAGE_SIZE
    assert response.json()["next"] is not None


# --- Ordering and filters -------------------------------------------------------------------


def test_it_lists_tickets_by_deadline_soonest_first(clock, api, make_ticket):
    make_ticket(title="Later", due_in=timedelta(hours=5))
    make_ticket(title="Soonest", due_in=timedelta(hours=1))
    make_ticket(title="Middle", due_in=timedelta(hours=3))

    response = api.get(LIST)

    assert titles(response) == ["Soonest", "Middle", "Later"]


@pytest.fixture
def three_tickets(clock, make_ticket):
    """Created in the order A, B, C; deadlines C < A < B; priorities B < C < A by urgency."""
    make_ticket(title="A", due_in=timedelta(hours=2), priority=Priority.URGENT)
    clock.shift(timedelta(minutes=1))
    make_ticket(title="B", due_in=timedelta(hours=3), priority=Priority.LOW)
    clock.shift(timedelta(minutes=1))
    make_ticket(title="C", due_in=timedelta(minutes=30), priority=Priority.HIGH)


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("deadline", ["C", "A", "B"]),
        ("-deadline", ["B", "A", "C"]),
        ("created_at", ["A", "B", "C"]),
        ("-created_at", ["C", "B", "A"]),
        ("priority", ["B", "C", "A"]),
        ("-priority", ["A", "C", "B"]),
    ],
)
def test_it_orders_the_list_on_request(three_tickets, api, ordering, expected):
    response = api.get(LIST, {"ordering": ordering})

    assert response.status_code == 200
    assert titles(response) == expected


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [(",", ["C", "A", "B"]), ("-priority,", ["A", "C", "B"]), (",created_at", ["A", "B", "C"])],
)
def test_it_skips_blank_entries_in_the_ordering(three_tickets, api, ordering, expected):
    response = api.get(LIST, {"ordering": ordering})

    assert response.status_code == 200
    assert titles(response) == expected


def test_it_orders_priorities_by_urgency_not_alphabetically(clock, api, make_ticket):
    for priority in [Priority.URGENT, Priority.NORMAL, Priority.HIGH, Priority.LOW]:
        make_ticket(title=priority.value, priority=priority)

    response = api.get(LIST, {"ordering": "priority"})

    assert titles(response) == ["low", "normal", "high", "urgent"]


@pytest.fixture
def assorted_tickets(clock, make_ticket):
    make_ticket(title="open-low", priority=Priority.LOW, due_in=timedelta(hours=5))
    make_ticket(title="pending-urgent", status=Status.PENDING, priority=Priority.URGENT)
    make_ticket(title="resolved", status=Status.RESOLVED, due_in=timedelta(hours=3))
    make_ticket(title="at-risk", due_in=timedelta(minutes=30))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "open"}, ["at-risk", "open-low"]),
        ({"status": ["pending", "resolved"]}, ["pending-urgent", "resolved"]),
        ({"priority": "urgent"}, ["pending-urgent"]),
        ({"priority": ["low", "urgent"]}, ["pending-urgent", "open-low"]),
        ({"sla_state": "at_risk"}, ["at-risk"]),
        ({"sla_state": "achieved"}, ["resolved"]),
        ({"deadline_after": "2026-03-10T14:00:00Z"}, ["pending-urgent", "resolved", "open-low"]),
        ({"deadline_before": "2026-03-10T14:00:00Z"}, ["at-risk"]),
        (
            {"deadline_after": "2026-03-10T15:00:00+01:00", "deadline_before": "2026-03-10T17:00Z"},
            ["pending-urgent", "resolved"],
        ),
        ({"status": "open", "priority": "low"}, ["open-low"]),
        ({"status": "closed"}, []),
    ],
)
def test_it_filters_the_list(assorted_tickets, api, query, expected):
    response = api.get(LIST, query)

    assert response.status_code == 200
    assert titles(response) == expected


def test_the_deadline_filter_includes_its_lower_bound_and_excludes_its_upper(
    clock, api, make_ticket
):
    make_ticket(title="exactly", deadline=timezone.now() + timedelta(hours=2))

    after = api.get(LIST, {"deadline_after": "2026-03-10T14:00:00Z"})
    before = api.get(LIST, {"deadline_before": "2026-03-10T14:00:00Z"})

    assert titles(after) == ["exactly"]
    assert titles(before) == []


def test_tickets_of_equal_priority_are_listed_by_deadline(clock, api, make_ticket):
    for hours in [3, 1, 2]:
        make_ticket(title=f"low due in {hours}h", priority=Priority.LOW, due_in=hours * HOUR)
    make_ticket(title="urgent", priority=Priority.URGENT)

    response = api.get(LIST, {"ordering": "priority"})

    assert titles(response) == ["low due in 1h", "low due in 2h", "low due in 3h", "urgent"]


def test_paging_through_a_priority_ordering_lists_every_ticket_once(clock, api, alice):
    deadlines = [T0 + (n % 7 + 1) * HOUR for n in range(30)]
    Ticket.objects.bulk_create(
        Ticket(owner=alice, title=f"T{n}", deadline=deadline, priority=Priority.NORMAL)
        for n, deadline in enumerate(deadlines)
    )

    pages = [
        api.get(LIST, {"ordering": "-priority", "page_size": 4, "page": n}) for n in range(1, 9)
    ]

    listed = [title for page in pages for title in titles(page)]
    assert sorted(listed) == sorted(f"T{n}" for n in range(30))
