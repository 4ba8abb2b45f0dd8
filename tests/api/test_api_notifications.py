"""GET /api/tickets/<id>/notifications/: the emails a ticket caused and how each fared.

Deliveries go to a real SMTP server on loopback, so the states shown are real outcomes.
"""

from datetime import timedelta

from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from sla.enums import Status
from tests.conftest import T0, client_for
from tests.durations import HOUR, MINUTE
from tickets import services
from tickets.checker import deliver_due

FIELDS = [
    "id",
    "kind",
    "metric",
    "level",  # 0: the owner's email (and the team endpoints' copies); 1, 2...: escalation
    "repeat",
    "endpoint",  # null for the email; a webhook or Slack endpoint id otherwise
    "recipient_user",  # an escalation email's person; null for the owner's
    "deadline",
    "status",
    "held_until",  # held for the recipient's quiet hours until then
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "sent_at",
]


def url(ticket):
    return f"/api/tickets/{ticket.pk}/notifications/"


def at(value):
    return None if value is None else parse_datetime(value)


def test_the_owner_sees_each_email_queued_for_their_ticket(clock, api, make_ticket):
    ticket = make_ticket(due_in=30 * MINUTE)

    response = api.get(url(ticket))

    assert response.status_code == 200
    body = response.json()
    assert [sorted(row) for row in body] == [sorted(FIELDS)] * 2
    assert [(row["kind"], row["status"], row["attempts"]) for row in body] == [
        ("created", "pending", 0),
        ("warning", "pending", 0),
    ]
    for row in body:
        assert at(row["deadline"]) == T0 + 30 * MINUTE
        assert at(row["next_attempt_at"]) == T0
        assert at(row["created_at"]) == T0
        assert row["sent_at"] is None
        assert row["last_error"] == ""


def test_delivered_emails_are_shown_as_sent_with_their_time(clock, api, make_ticket, smtp_settings):
    ticket = make_ticket(due_in=-MINUTE)
    clock.move_to(T0 + 5 * MINUTE)
    deliver_due()

    body = api.get(url(ticket)).json()

    assert [(row["kind"], row["status"], row["attempts"]) for row in body] == [
        ("created", "sent", 1),
        ("missed", "sent", 1),
    ]
    assert {at(row["sent_at"]) for row in body} == {T0 + 5 * MINUTE}
    assert {row["next_attempt_at"] for row in body} == {None}


def test_a_refused_attempt_shows_its_error_and_when_it_will_be_retried(
    clock, api, make_ticket, smtp_settings
):
    ticket = make_ticket(due_in=2 * HOUR)
    smtp_settings.refusing_temporarily = True
    deliver_due()

    [row] = api.get(url(ticket)).json()

    assert (row["status"], row["attempts"], row["sent_at"]) == ("pending", 1, None)
    assert "451" in row["last_error"]
    assert T0 < at(row["next_attempt_at"]) <= T0 + timedelta(seconds=30)


def test_a_permanently_refused_email_is_shown_as_failed(clock, api, make_ticket, smtp_settings):
    ticket = make_ticket(due_in=2 * HOUR)
    smtp_settings.refused_recipients.add("alice@example.com")
    deliver_due()

    [row] = api.get(url(ticket)).json()

    assert (row["status"], row["next_attempt_at"], row["sent_at"]) == ("failed", None, None)
    assert "550" in row["last_error"]


def test_an_email_for_an_owner_without_an_address_is_shown_as_skipped(
    clock, make_user, make_ticket, smtp_settings
):
    owner = make_user("nomail", email="")
    ticket = make_ticket(due_in=2 * HOUR, owner=owner)
    deliver_due()

    [row] = client_for(owner).get(url(ticket)).json()

    assert row["status"] == "skipped"
    assert row["last_error"] == "owner has no email address"


def test_emails_dropped_by_a_resolution_are_shown_as_cancelled(clock, api, make_ticket):
    ticket = make_ticket(due_in=30 * MINUTE)
    services.update_ticket(ticket=ticket, status=Status.RESOLVED)

    body = api.get(url(ticket)).json()

    assert [(row["kind"], row["status"]) for row in body] == [
        ("created", "pending"),
        ("warning", "cancelled"),
    ]


def test_a_moved_deadline_lists_the_emails_of_both_deadlines_oldest_first(clock, api, make_ticket):
    ticket = make_ticket(due_in=30 * MINUTE)
    clock.shift(MINUTE)
    services.update_ticket(ticket=ticket, deadline=T0 + 20 * MINUTE)

    body = api.get(url(ticket)).json()

    assert [(row["kind"], row["status"], at(row["deadline"])) for row in body] == [
        ("created", "pending", T0 + 30 * MINUTE),
        ("warning", "cancelled", T0 + 30 * MINUTE),
        ("warning", "pending", T0 + 20 * MINUTE),
    ]


def test_only_that_tickets_emails_are_listed(clock, api, make_ticket):
    ticket = make_ticket(due_in=2 * HOUR)
    make_ticket(due_in=-MINUTE)

    body = api.get(url(ticket)).json()

    assert [row["kind"] for row in body] == ["created"]


def test_another_user_cannot_see_them(clock, make_ticket, bob):
    ticket = make_ticket(due_in=2 * HOUR)

    response = client_for(bob).get(url(ticket))

    assert response.status_code == 404


def test_staff_can_see_any_tickets_emails(clock, make_ticket, staff):
    ticket = make_ticket(due_in=2 * HOUR)

    response = client_for(staff).get(url(ticket))

    assert response.status_code == 200
    assert [row["kind"] for row in response.json()] == ["created"]


def test_an_anonymous_caller_is_refused(clock, make_ticket):
    ticket = make_ticket(due_in=2 * HOUR)

    response = APIClient().get(url(ticket))

    assert response.status_code == 401


def test_an_unknown_ticket_is_not_found(clock, api, make_ticket):
    ticket = make_ticket(due_in=2 * HOUR)

    response = api.get(f"/api/tickets/{ticket.pk + 1000}/notifications/")

    assert response.status_code == 404


def test_the_list_is_read_only(clock, api, make_ticket):
    ticket = make_ticket(due_in=2 * HOUR)

    response = api.post(url(ticket), {"kind": "warning"}, format="json")

    assert response.status_code == 405
    assert [row["kind"] for row in api.get(url(ticket)).json()] == ["created"]
