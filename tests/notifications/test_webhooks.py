"""Signed webhooks and Slack-style messages, to a real HTTP receiver on loopback.

The receiver verifies signatures as a stranger would, with its own few lines of hmac
(`verified` below), not with the transport's `sign`. Loopback is reached only because
each transport is given it as an allowed network, as WEBHOOK_ALLOWED_NETWORKS would.
"""

import hashlib
import hmac
import ipaddress
import json
import re
import socket
import threading
from collections.abc import Callable

import pytest
from django.conf import settings

from notifications.delivery import deliver_due
from notifications.models import DeliveryStatus, Notification
from notifications.transports.base import SetAside, TransportError
from notifications.transports.slack import SlackTransport
from notifications.transports.webhook import NO_ENDPOINT, WebhookTransport
from tests.conftest import T0
from tests.webhook_receiver import LOOPBACK, Endpoint, send

SECRET = Endpoint.secret
LOOPBACK_ONLY = [ipaddress.ip_network("127.0.0.1/32")]


def verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver writes: the HMAC of "timestamp.body", compared in constant time."""
    timestamp = headers["X-Watchdog-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + expected.hexdigest(), headers["X-Watchdog-Signature"])


@pytest.fixture
def notification(clock, make_ticket) -> Notification:
    make_ticket(title="Printer on fire")
    return Notification.objects.get()


def webhook(url, *, gone=None, timeout=2.0, kind=WebhookTransport, **kwargs):
    return kind(
        endpoint_for=lambda notification: Endpoint(url),
        on_gone=(gone.append if gone is not None else lambda endpoint: None),
        timeout=timeout,
        allowed=kwargs.pop("allowed", LOOPBACK_ONLY),
        **kwargs,
    )


# --- What a receiver gets ---------------------------------------------------------------------


def test_a_receiver_verifies_the_signature_of_what_it_gets(receiver, notification):
    send(webhook(receiver.url()), notification)

    [got] = receiver.received
    assert verified(SECRET, got.headers, got.body)
    assert not verified("another secret", got.headers, got.body)
    assert got.headers["X-Watchdog-Event-Id"] == str(notification.message_key)
    assert got.headers["X-Watchdog-Timestamp"] == str(int(T0.timestamp()))
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["User-Agent"] == "SLA-Watchdog-Webhook/1"
    body = json.loads(got.body)
    assert body["id"] == str(notification.message_key)
    assert body["type"] == "sla.created"
    assert body["ticket"]["title"] == "Printer on fire"
    assert body["ticket"]["owner"] == "alice"


def test_a_tampered_body_or_timestamp_fails_verification(receiver, notification):
    send(webhook(receiver.url()), notification)

    [got] = receiver.received
    later = {**got.headers, "X-Watchdog-Timestamp": str(int(T0.timestamp()) + 1)}
    assert not verified(SECRET, got.headers, got.body.replace(b"fire", b"ice!"))
    assert not verified(SECRET, later, got.body)


def test_a_retry_carries_the_same_event_id_and_body_with_a_new_signature(
    clock, receiver, notification
):
    send(webhook(receiver.url()), notification)
    clock.shift(60)
    send(webhook(receiver.url()), notification)

    first, second = receiver.received
    assert first.headers["X-Watchdog-Event-Id"] == second.headers["X-Watchdog-Event-Id"]
    assert first.body == second.body
    assert first.headers["X-Watchdog-Timestamp"] != second.headers["X-Watchdog-Timestamp"]
    assert verified(SECRET, second.headers, second.body)


def test_one_connection_serves_a_whole_batch(receiver, clock, make_ticket):
    for _ in range(3):
        make_ticket()

    report = deliver_due(transport=lambda: webhook(receiver.url()))

    assert report.sent == 3
    assert len(receiver.received) == 3
    assert receiver.connections == 1
    assert len({got.client_port for got in receiver.received}) == 1
    assert set(Notification.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert set(Notification.objects.values_list("recipient", flat=True)) == {receiver.url()}


def test_a_notification_without_an_endpoint_is_set_aside(notification):
    transport = WebhookTransport(endpoint_for=lambda n: None, allowed=LOOPBACK_ONLY)

    assert transport.recipient(notification) == SetAside(NO_ENDPOINT)


def documented_verifier() -> Callable[..., bool]:
    """The five-line `verified` of docs/webhooks.md, run as a reader would paste it."""
    text = (settings.BASE_DIR / "docs" / "webhooks.md").read_text()
    found = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert found is not None
    namespace: dict[str, object] = {}
    exec(found.group(1), namespace)  # noqa: S102 -- our own documentation
    verifier = namespace["verified"]
    assert callable(verifier)
    return verifier


def test_the_documented_verifier_accepts_what_is_sent_and_refuses_replays(
    clock, receiver, notification
):
    send(webhook(receiver.url()), notification)
    [got] = receiver.received
    verifier = documented_verifier()

    assert verifier(SECRET.encode(), got.headers, got.body)
    assert not verifier(b"another secret", got.headers, got.body)
    assert not verifier(SECRET.encode(), got.headers, got.body + b" ")
    clock.shift(301)  # the same request, replayed five minutes later
    assert not verifier(SECRET.encode(), got.headers, got.body)


# --- How the receiver's answers are taken ------------------------------------------------------


def test_a_410_is_permanent_and_disables_the_endpoint(receiver, notification):
    receiver.answers["/hook"] = 410
    gone: list[Endpoint] = []

    with pytest.raises(TransportError) as refusal:
        send(webhook(receiver.url(), gone=gone), notification)

    assert refusal.value.permanent
    assert [endpoint.url for endpoint in gone] == [receiver.url()]


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (500, False),
        (503, False),
        (429, False),
        (408, False),
        (302, False),  # not followed (past the guard?), tried again later
        (400, True),
        (404, True),
    ],
)
def test_an_error_answer_is_transient_or_permanent(receiver, notification, status, permanent):
    receiver.answers["/hook"] = status
    gone: list[Endpoint] = []

    with pytest.raises(TransportError) as refusal:
        send(webhook(receiver.url(), gone=gone), notification)

    assert refusal.value.permanent is permanent
    assert str(status) in str(refusal.value)
    assert gone == []


def test_a_500_leaves_the_row_to_be_retried_through_the_delivery_loop(receiver, notification):
    receiver.answers["/hook"] = 500

    report = deliver_due(transport=lambda: webhook(receiver.url()))

    row = Notification.objects.get()
    assert (report.retrying, row.status, row.attempts) == (1, DeliveryStatus.PENDING, 1)
    assert row.last_error == "HTTP 500"


def test_a_receiver_that_does_not_answer_in_time_is_a_transient_error(receiver, notification):
    receiver.hang = threading.Event()

    with pytest.raises(TransportError) as refusal:
        send(webhook(receiver.url(), timeout=0.3), notification)

    assert not refusal.value.permanent
    assert "timed out" in str(refusal.value)


def test_a_url_httpx_cannot_parse_is_a_permanent_error_not_a_crash(notification):
    # The API refuses such a URL at save time; a row written before that check still
    # fails alone, instead of ending the batch with an exception.
    with pytest.raises(TransportError) as refusal:
        send(webhook("http://[::1/hook"), notification)

    assert refusal.value.permanent
    assert "not a valid URL" in str(refusal.value)


def test_a_refused_connection_is_a_transient_error(notification):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]

    with pytest.raises(TransportError) as refusal:
        send(webhook(f"http://{LOOPBACK}:{port}/hook"), notification)

    assert not refusal.value.permanent
    assert "cannot connect" in str(refusal.value)


# --- Slack-compatible incoming webhooks ----------------------------------------------------------


def test_a_slack_message_is_block_kit_without_a_signature(receiver, make_ticket, clock):
    make_ticket(title="<!channel> printer & fire")
    notification = Notification.objects.get()

    send(webhook(receiver.url("/slack"), kind=SlackTransport), notification)

    [got] = receiver.received
    body = json.loads(got.body)
    assert "X-Watchdog-Signature" not in got.headers
    assert got.headers["X-Watchdog-Event-Id"] == str(notification.message_key)
    assert [block["type"] for block in body["blocks"]] == ["header", "section", "context"]
    assert body["blocks"][0]["text"]["text"].startswith("Ticket created: #")
    assert "<!channel>" not in body["text"]
    assert "&lt;!channel&gt; printer &amp; fire" in body["text"]
    assert {f["text"].split("\n")[0] for f in body["blocks"][1]["fields"]} == {
        "*Priority*",
        "*Status*",
        "*Deadline*",
        "*Owner*",
    }
