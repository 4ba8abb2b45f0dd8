"""notifications.transports: a channel is one small class, driven by the real delivery loop.

WebhookDouble stands in for the webhook channel of issue 13: it implements the base class
in a few lines and records what it would have posted. Everything around it is real: the
claim, the outcomes written on the rows, the stamp on the tickets; and the email half runs
against the real SMTP server on loopback (tests/smtp_server.py).
"""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core.mail import EmailMessage

from notifications.addresses import Envelope
from notifications.delivery import deliver_due, retry_delay
from notifications.models import DeliveryStatus, Notification
from notifications.transports.base import SetAside, Transport, TransportError
from notifications.transports.email import EmailTransport, Outgoing
from tests.conftest import T0
from tickets import checker
from tickets.engine import run_transitions, stamp_warnings_sent
from tickets.models import Ticket

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
URL = "https://hooks.example.com/sla"


@dataclass
class Endpoint:
    """The far side of the double: what it received, and how it answers."""

    posted: list[dict[str, object]] = field(default_factory=list)
    answer: TransportError | None = None  # raised by send instead of accepting
    down: bool = False  # open() finds nobody
    opened: int = 0
    closed: int = 0


class WebhookDouble(Transport[dict[str, object]]):
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def recipient(self, notification: Notification) -> str | SetAside:
        return URL

    def prepare(self, notification: Notification, *, recipient: str) -> dict[str, object]:
        return {"event": str(notification.message_key), "kind": notification.kind}

    def open(self) -> None:
        self.endpoint.opened += 1
        if self.endpoint.down:
            raise TransportError("connection refused", permanent=False, unreachable=True)

    def send(self, message: dict[str, object], *, recipient: str) -> None:
        if self.endpoint.answer is not None:
            raise self.endpoint.answer
        self.endpoint.posted.append(message)

    def close(self) -> None:
        self.endpoint.closed += 1


@pytest.fixture
def endpoint():
    return Endpoint()


def through(endpoint):
    return lambda: WebhookDouble(endpoint)


def rows():
    return list(Notification.objects.order_by("id"))


def test_a_new_channel_delivers_through_the_same_loop_and_rows(clock, make_ticket, endpoint):
    tickets = [make_ticket(due_in=2 * HOUR) for _ in range(3)]

    report = deliver_due(transport=through(endpoint))

    assert report.sent == 3
    assert sorted(m["event"] for m in endpoint.posted) == sorted(str(n.message_key) for n in rows())
    assert {(n.status, n.recipient, n.sent_at) for n in rows()} == {(DeliveryStatus.SENT, URL, T0)}
    assert {n.ticket_id for n in rows()} == {t.pk for t in tickets}
    assert (endpoint.opened, endpoint.closed) == (1, 1), "one connection for the batch"


def test_the_tickets_side_stamps_a_warning_whatever_channel_delivered_it(
    clock, make_ticket, endpoint
):
    ticket = make_ticket(due_in=2 * HOUR)
    deliver_due(transport=through(endpoint))  # the creation email
    clock.move_to(T0 + HOUR)
    run_transitions()

    deliver_due(transport=through(endpoint), on_sent=stamp_warnings_sent)

    assert [m["kind"] for m in endpoint.posted] == ["created", "warning"]
    assert Ticket.objects.get(pk=ticket.pk).resolution_warning_sent_at == T0 + HOUR


def test_a_permanent_transport_error_fails_the_row_at_once(clock, make_ticket, endpoint):
    make_ticket()
    endpoint.answer = TransportError("HTTP 410 Gone", permanent=True)

    report = deliver_due(transport=through(endpoint))

    [row] = rows()
    assert (report.failed, report.retrying) == (1, 0)
    assert (row.status, row.attempts, row.last_error) == (
        DeliveryStatus.FAILED,
        1,
        "HTTP 410 Gone",
    )
    assert row.failed_at == T0


def test_a_transient_transport_error_is_retried_with_backoff(clock, make_ticket, endpoint):
    make_ticket()
    endpoint.answer = TransportError("HTTP 503", permanent=False)

    report = deliver_due(transport=through(endpoint))

    [row] = rows()
    assert (report.failed, report.retrying) == (0, 1)
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1)
    assert row.next_attempt_at == T0 + retry_delay(1)
    assert endpoint.closed == 2, "closed after the error, and again at the end of the batch"


def test_an_unreachable_channel_fails_no_row_and_counts_no_attempt(clock, make_ticket, endpoint):
    make_ticket()
    make_ticket()
    endpoint.down = True

    report = deliver_due(transport=through(endpoint))

    assert (report.unreachable, report.retrying, report.failed) == (True, 2, 0)
    assert endpoint.opened == 1, "tried once for the batch, not once per row"
    assert {(n.status, n.attempts) for n in rows()} == {(DeliveryStatus.PENDING, 1)}
    assert {n.next_attempt_at for n in rows()} == {T0 + retry_delay(1)}


def test_rows_a_channel_sets_aside_are_skipped_or_held_not_failed(clock, make_ticket, endpoint):
    class Choosy(WebhookDouble):
        def recipient(self, notification: Notification) -> str | SetAside:
            if notification.ticket.title == "nobody":
                return SetAside("no endpoint for this team")
            return SetAside("endpoint not verified yet", held=True)

    skipped = make_ticket(title="nobody")
    held = make_ticket(title="later")

    report = deliver_due(transport=lambda: Choosy(endpoint))

    assert (report.skipped, report.held, report.failed) == (1, 1, 0)
    assert endpoint.posted == []
    assert endpoint.opened == 0, "nothing to send: the channel is never opened"
    by_ticket = {n.ticket_id: n for n in rows()}
    assert (by_ticket[skipped.pk].status, by_ticket[skipped.pk].last_error) == (
        DeliveryStatus.SKIPPED,
        "no endpoint for this team",
    )
    assert (by_ticket[held.pk].status, by_ticket[held.pk].attempts) == (DeliveryStatus.HELD, 0)


def test_email_and_a_new_channel_share_the_outbox(clock, make_ticket, smtp_settings, endpoint):
    by_email = make_ticket(title="by email")
    by_webhook = make_ticket(title="by webhook")

    mailed = deliver_due(transport=EmailTransport, ticket_ids=[by_email.pk])
    posted = deliver_due(transport=through(endpoint), ticket_ids=[by_webhook.pk])

    assert (mailed.sent, posted.sent) == (1, 1)
    [message] = smtp_settings.received()
    assert message.ticket_id == by_email.pk
    assert message.rcpt_tos == ("alice@example.com",)
    assert [m["kind"] for m in endpoint.posted] == ["created"]
    assert {n.ticket_id: n.recipient for n in rows()} == {
        by_email.pk: "alice@example.com",
        by_webhook.pk: URL,
    }


def test_email_is_the_channel_every_check_uses_by_default(clock, make_ticket, smtp_settings):
    ticket = make_ticket()

    report = checker.run_check()

    assert report.delivery.sent == 1
    assert [m.ticket_id for m in smtp_settings.received()] == [ticket.pk]


def test_smtp_lines_starting_with_a_dot_arrive_as_they_were_written(smtp_settings):
    """send_begin quotes leading dots itself (RFC 5321 4.5.2), as smtplib's sendmail did."""
    data = b"Subject: dots\r\n\r\n.one dot\r\n..two dots\r\n.\r\nlast line without an end"
    outgoing = Outgoing(
        message=EmailMessage(),
        envelope=Envelope(from_email="a@example.com", recipients=["b@example.com"], data=data),
    )
    transport = EmailTransport()
    transport.open()
    try:
        transport.send(outgoing, recipient="b@example.com")
    finally:
        transport.close()

    [message] = smtp_settings.received()
    assert message.raw == data + b"\r\n"  # smtplib ends the data with a line end too
    assert message.rcpt_tos == ("b@example.com",)
