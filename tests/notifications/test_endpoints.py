"""Webhook and Slack endpoints of a team, end to end: the API, the outbox, delivery.

The receiver is real HTTP on loopback (tests/webhook_receiver.py), reached because each
test allows 127.0.0.1/32 as WEBHOOK_ALLOWED_NETWORKS would; signatures are checked with
the receiver's own few lines of hmac, not the transport's.
"""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.delivery import deliver_due
from notifications.models import DeliveryStatus, Endpoint, EndpointKind, Notification
from people.models import Team
from tests.conftest import client_for
from tests.factories import TeamFactory
from tickets.checker import check_ticket, run_check, run_state_changes

LOOPBACK = ["127.0.0.1/32"]
MINUTE = timedelta(minutes=1)


def verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["X-Watchdog-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + expected.hexdigest(), headers["X-Watchdog-Signature"])


@pytest.fixture
def loopback_allowed(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = LOOPBACK


@pytest.fixture
def team(db) -> Team:
    return TeamFactory.create()


@pytest.fixture
def endpoints(team, receiver, loopback_allowed) -> tuple[Endpoint, Endpoint]:
    webhook = Endpoint.objects.create(
        kind=EndpointKind.WEBHOOK, url=receiver.url("/hook"), team=team
    )
    slack = Endpoint.objects.create(
        kind=EndpointKind.SLACK, url=receiver.url("/slack"), team=team, secret=""
    )
    return webhook, slack


def posts(receiver, path):
    return [got for got in receiver.received if got.path == path]


def warn(clock, make_ticket, **fields):
    """A ticket due in 2 hours, then the clock at 10 minutes before its deadline."""
    ticket = make_ticket(due_in=timedelta(hours=2), **fields)
    clock.shift(timedelta(hours=1, minutes=50))
    return ticket


# --- Routing and delivery -----------------------------------------------------------------------


def test_a_warning_reaches_each_endpoint_of_the_team_once(
    clock, make_ticket, team, endpoints, receiver
):
    webhook, _ = endpoints
    ticket = warn(clock, make_ticket, team=team)

    run_check()
    run_check()

    [hook] = posts(receiver, "/hook")
    [slack] = posts(receiver, "/slack")
    assert verified(webhook.secret, hook.headers, hook.body)
    assert not verified("another secret", hook.headers, hook.body)
    body = json.loads(hook.body)
    assert body["type"] == "sla.warning"
    assert body["ticket"]["id"] == ticket.pk
    assert "X-Watchdog-Signature" not in slack.headers
    assert "SLA" in json.loads(slack.body)["text"]
    copies = Notification.objects.filter(ticket=ticket, endpoint__isnull=False)
    assert sorted(copies.values_list("kind", "status")) == [
        ("warning", DeliveryStatus.SENT),
        ("warning", DeliveryStatus.SENT),
    ]
    # The email is as before: created and warning, once each, to the owner.
    emails = Notification.objects.filter(ticket=ticket, endpoint__isnull=True)
    assert sorted(emails.values_list("kind", flat=True)) == ["created", "warning"]


def test_a_ticket_without_a_team_sends_no_webhook(clock, make_ticket, endpoints, receiver):
    ticket = warn(clock, make_ticket)

    run_check()

    assert receiver.received == []
    assert not Notification.objects.filter(ticket=ticket, endpoint__isnull=False).exists()
    assert Notification.objects.filter(ticket=ticket, kind="warning").count() == 1


def test_a_disabled_endpoint_gets_nothing(clock, make_ticket, team, endpoints, receiver):
    webhook, _ = endpoints
    Endpoint.objects.filter(pk=webhook.pk).update(enabled=False)

    warn(clock, make_ticket, team=team)
    run_check()

    assert posts(receiver, "/hook") == []
    assert len(posts(receiver, "/slack")) == 1


def test_an_endpoint_disabled_after_queueing_skips_its_rows(
    clock, make_ticket, team, endpoints, receiver
):
    webhook, _ = endpoints
    ticket = warn(clock, make_ticket, team=team)
    run_state_changes()
    Endpoint.objects.filter(pk=webhook.pk).update(enabled=False)
    run_check()

    assert posts(receiver, "/hook") == []
    row = Notification.objects.get(ticket=ticket, endpoint=webhook)
    assert row.status == DeliveryStatus.SKIPPED
    assert row.last_error == "endpoint disabled: by staff"


def test_410_disables_the_endpoint_and_skips_its_other_rows(
    clock, make_ticket, team, endpoints, receiver
):
    webhook, _ = endpoints
    receiver.answers["/hook"] = 410
    first = warn(clock, make_ticket, team=team)
    second = make_ticket(due_in=5 * MINUTE, team=team)

    run_check()

    assert len(posts(receiver, "/hook")) == 1  # the second never goes
    webhook.refresh_from_db()
    assert not webhook.enabled
    assert webhook.disabled_reason == "the receiver answered 410 Gone"
    rows = Notification.objects.filter(endpoint=webhook, ticket__in=[first, second])
    statuses = sorted(rows.values_list("status", flat=True))
    assert statuses == [DeliveryStatus.FAILED, DeliveryStatus.SKIPPED]
    assert rows.get(status=DeliveryStatus.FAILED).last_error == "HTTP 410 Gone: endpoint disabled"
    skipped = rows.get(status=DeliveryStatus.SKIPPED)
    assert skipped.last_error == "endpoint disabled: the receiver answered 410 Gone"
    assert len(posts(receiver, "/slack")) == 2  # the other endpoint is not affected


def test_500_is_retried_later_through_the_outbox(
    clock, make_ticket, team, endpoints, receiver, settings
):
    webhook, _ = endpoints
    receiver.answers["/hook"] = 500
    ticket = warn(clock, make_ticket, team=team)

    run_check()

    row = Notification.objects.get(ticket=ticket, endpoint=webhook)
    assert row.status == DeliveryStatus.PENDING
    assert row.attempts == 1
    assert row.last_error == "HTTP 500"
    assert row.next_attempt_at is not None
    assert row.next_attempt_at > timezone.now()
    run_check()  # not due yet: nothing sent again
    assert len(posts(receiver, "/hook")) == 1

    receiver.answers["/hook"] = 200
    clock.shift(timedelta(seconds=settings.SLA_RETRY_BASE_SECONDS + 1))
    run_check()

    row.refresh_from_db()
    assert row.status == DeliveryStatus.SENT
    hooks = posts(receiver, "/hook")
    assert len(hooks) == 2
    assert hooks[0].headers["X-Watchdog-Event-Id"] == hooks[1].headers["X-Watchdog-Event-Id"]


def test_an_smtp_outage_does_not_hold_back_the_endpoints(
    clock, make_ticket, team, endpoints, receiver, smtp_settings, settings
):
    tickets = [make_ticket(due_in=timedelta(hours=2), team=team) for _ in range(3)]
    clock.shift(timedelta(hours=1, minutes=50))
    run_state_changes()  # per ticket: the owner's warning email and the two endpoints' copies
    smtp_settings.stop()

    report = deliver_due(batch_size=2)  # emails first: the first batch finds no mail server

    assert (report.unreachable, report.sent) == (True, 6)
    assert len(posts(receiver, "/hook")) == len(posts(receiver, "/slack")) == 3
    rows = Notification.objects.filter(ticket__in=tickets)
    copies = rows.filter(endpoint__isnull=False)
    assert set(copies.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    emails = rows.filter(endpoint__isnull=True)
    assert set(emails.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    assert emails.filter(attempts=0).exists(), "the mail server tried once, not per batch"

    smtp_settings.start()
    clock.shift(timedelta(seconds=settings.SLA_RETRY_BASE_SECONDS))
    deliver_due()
    assert set(emails.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert len(receiver.received) == 6, "no endpoint told twice"


def test_a_resolved_ticket_cancels_its_undelivered_webhooks_too(
    clock, make_ticket, team, endpoints, receiver
):
    ticket = warn(clock, make_ticket, team=team)
    run_state_changes()
    assert Notification.objects.filter(ticket=ticket, endpoint__isnull=False).count() == 2
    ticket.status = "resolved"
    ticket.save()
    check_ticket(ticket_id=ticket.pk)

    assert receiver.received == []
    rows = Notification.objects.filter(ticket=ticket, kind="warning")
    assert set(rows.values_list("status", flat=True)) == {DeliveryStatus.CANCELLED}


# --- The API ------------------------------------------------------------------------------------


def test_only_staff_manage_endpoints(alice, team):
    api = client_for(alice)
    assert api.get("/api/endpoints/").status_code == 403
    created = api.post(
        "/api/endpoints/", {"kind": "webhook", "url": "https://example.com/h", "team": team.pk}
    )
    assert created.status_code == 403
    assert not Endpoint.objects.exists()


def test_the_secret_is_shown_once_on_create(staff, team, loopback_allowed):
    api = client_for(staff)
    created = api.post(
        "/api/endpoints/",
        {"kind": "webhook", "url": "http://127.0.0.1:9/hook", "team": team.pk},
        format="json",
    )

    assert created.status_code == 201, created.content
    endpoint = Endpoint.objects.get()
    assert created.json()["secret"] == endpoint.secret
    assert len(endpoint.secret) >= 40
    shown = api.get(f"/api/endpoints/{endpoint.pk}/").json()
    assert "secret" not in shown
    assert shown["enabled"] is True
    assert all("secret" not in row for row in api.get("/api/endpoints/").json()["results"])
    patched = api.patch(
        f"/api/endpoints/{endpoint.pk}/", {"secret": "mine", "enabled": False}, format="json"
    )
    assert patched.status_code == 200
    endpoint.refresh_from_db()
    assert endpoint.secret == created.json()["secret"]
    assert endpoint.enabled is False


def test_a_slack_endpoint_has_no_secret(staff, team, loopback_allowed):
    created = client_for(staff).post(
        "/api/endpoints/",
        {"kind": "slack", "url": "http://127.0.0.1:9/slack", "team": team.pk},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["secret"] == ""


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/hook", "http://169.254.169.254/", "ftp://example.com/"]
)
def test_the_ssrf_guard_refuses_a_url_at_create_time(staff, team, url):
    answer = client_for(staff).post(
        "/api/endpoints/", {"kind": "webhook", "url": url, "team": team.pk}, format="json"
    )
    assert answer.status_code == 400
    assert "url" in answer.json()
    assert not Endpoint.objects.exists()


def test_kind_cannot_change(staff, team, endpoints):
    webhook, _ = endpoints
    answer = client_for(staff).patch(
        f"/api/endpoints/{webhook.pk}/", {"kind": "slack"}, format="json"
    )
    assert answer.status_code == 400
    assert "kind" in answer.json()


def test_a_row_shows_its_endpoint_and_error_in_the_ticket_notifications(
    clock, make_ticket, team, endpoints, receiver, api
):
    webhook, _ = endpoints
    receiver.answers["/hook"] = 500
    ticket = warn(clock, make_ticket, team=team)
    run_check()

    rows = api.get(f"/api/tickets/{ticket.pk}/notifications/").json()

    [row] = [row for row in rows if row["endpoint"] == webhook.pk]
    assert row["last_error"] == "HTTP 500"
    assert row["status"] == "pending"


def test_the_admin_refuses_a_loopback_url(staff, team):
    from django.test import Client

    staff.is_superuser = True
    staff.save()
    browser = Client()
    browser.force_login(staff)
    answer = browser.post(
        "/admin/notifications/endpoint/add/",
        {"kind": "webhook", "url": "http://127.0.0.1/hook", "team": team.pk, "enabled": "on"},
    )
    assert answer.status_code == 200  # the form again, with its error
    assert b"is not a public address" in answer.content
    assert not Endpoint.objects.exists()
