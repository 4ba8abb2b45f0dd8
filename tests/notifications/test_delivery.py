"""notifications.delivery against a real SMTP server on loopback (tests/smtp_server.py).

The clock is frozen (time-machine) for the database side: leases, backoff and
`next_attempt_at` follow it. The mail servers and socket timeouts run on real time,
which time-machine leaves alone (it does not patch time.monotonic()).
"""

import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from django.conf import settings as django_settings
from django.core.mail.backends import locmem as locmem_backend
from django.db import connection
from django.db.models import Max
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone as dj_timezone

from notifications import delivery, outbox
from notifications.delivery import claim, retry_delay, send_batch
from notifications.models import DeliveryStatus, Notification
from notifications.transports.base import TransportError
from notifications.transports.email import EmailTransport
from sla.enums import Status
from tests.conftest import T0
from tests.durations import HOUR, MINUTE
from tests.smtp_server import smtp_settings_for
from tickets import services
from tickets.checker import deliver_due
from tickets.engine import run_transitions, stamp_warnings_sent
from tickets.models import Ticket

SECOND = timedelta(seconds=1)
ALICE = "alice@example.com"


def row(ticket, kind):
    return Notification.objects.exclude(status=DeliveryStatus.CANCELLED).get(
        ticket_id=ticket.pk, kind=kind
    )


def statuses():
    return list(Notification.objects.order_by("id").values_list("kind", "status"))


def plain(text):
    # Django's timesince keeps "2 hours" together with a no-break space.
    return text.replace("\xa0", " ")


# --- What arrives -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "due_in", "headline", "relative", "sentence"),
    [
        ("created", 2 * HOUR, "Ticket created", "due in 2 hours", None),
        ("warning", 30 * MINUTE, "SLA at risk", "due in 30 minutes", "will miss its SLA unless"),
        ("missed", -90 * MINUTE, "SLA missed", "missed 1 hour, 30 minutes ago", "has missed"),
    ],
)
def test_each_kind_of_email_arrives_once_with_its_headers_and_both_parts(
    clock, make_ticket, smtp_settings, kind, due_in, headline, relative, sentence
):
    ticket = make_ticket(due_in=due_in, title="Printer on fire")

    deliver_due()

    [message] = [m for m in smtp_settings.received() if m.kind == kind]
    email = message.parsed
    assert message.rcpt_tos == (ALICE,)
    assert email["From"] == django_settings.DEFAULT_FROM_EMAIL
    assert email["To"] == ALICE
    assert email["Subject"] == f"[SLA Watchdog] {headline}: #{ticket.pk} Printer on fire"
    assert email["Message-ID"] == row(ticket, kind).message_id
    assert email["X-SLA-Watchdog-Ticket"] == str(ticket.pk)
    assert email.get_content_type() == "multipart/alternative"
    deadline_iso = (T0 + due_in).isoformat()
    for subtype in ("plain", "html"):
        body = plain(message.body(subtype))
        assert "Printer on fire" in body
        assert deadline_iso in body
        assert f"({relative})" in body
        if sentence:
            assert sentence in body


def test_the_creation_email_arrives_before_the_warning(clock, make_ticket, smtp_settings):
    make_ticket(due_in=30 * MINUTE)

    deliver_due()

    assert smtp_settings.kinds() == ["created", "warning"]


def test_the_deadline_is_written_in_iso_form_with_its_zone(clock, make_ticket, smtp_settings):
    kolkata = timezone(timedelta(hours=5, minutes=30))
    deadline = datetime(2026, 3, 10, 20, 0, tzinfo=kolkata)  # 14:30 UTC

    make_ticket(deadline=deadline)
    deliver_due()

    [message] = smtp_settings.received()
    written = re.search(r"Deadline: (\S+)", message.body("plain"))
    assert written is not None
    parsed = datetime.fromisoformat(written.group(1))
    assert parsed.tzinfo is not None, "a deadline without its zone is ambiguous"
    assert parsed == deadline


def test_every_notification_has_its_own_message_id(clock, make_ticket, smtp_settings):
    make_ticket(due_in=30 * MINUTE)
    make_ticket(due_in=-MINUTE)

    deliver_due()

    ids = smtp_settings.message_ids()
    assert len(ids) == 4
    assert len(set(ids)) == 4
    assert set(ids) == {n.message_id for n in Notification.objects.all()}


# (title, as the subject shows it): line breaks of every kind become plain spaces.
INJECTIONS = [
    ("Printer\r\nBcc: mallory@evil.example", "Printer Bcc: mallory@evil.example"),
    ("Printer\nBcc: mallory@evil.example", "Printer Bcc: mallory@evil.example"),
    ("Printer\rBcc: mallory@evil.example", "Printer Bcc: mallory@evil.example"),
    ("Printer\u2028Bcc: mallory@evil.example", "Printer Bcc: mallory@evil.example"),
    ("Printer\u2029Bcc: mallory@evil.example", "Printer Bcc: mallory@evil.example"),
    ("Printer\x85Bcc: mallory@evil.example", "Printer Bcc: mallory@evil.example"),
    ("Printer\r\n\r\nBcc: mallory@evil.example", "Printer Bcc: mallory@evil.example"),
    ("Bcc: mallory@evil.example", "Bcc: mallory@evil.example"),
    ("Printer\r\n X-Injected: yes", "Printer X-Injected: yes"),
]
HEADERS = [
    "Content-Type",
    "Date",
    "From",
    "MIME-Version",
    "Message-ID",
    "Subject",
    "To",
    "X-SLA-Watchdog-Kind",
    "X-SLA-Watchdog-Level",
    "X-SLA-Watchdog-Metric",
    "X-SLA-Watchdog-Ticket",
]


@pytest.mark.parametrize(("title", "shown"), INJECTIONS)
def test_a_title_cannot_add_a_header_or_a_recipient(
    clock, make_ticket, smtp_settings, title, shown
):
    # The API refuses multi-line titles; the service and the ORM do not, so test here.
    ticket = make_ticket(due_in=-MINUTE, title=title)

    deliver_due()

    messages = smtp_settings.received()
    assert [m.kind for m in messages] == ["created", "missed"]
    for message in messages:
        assert message.rcpt_tos == (ALICE,)
        assert sorted(message.parsed.keys()) == HEADERS
        assert message.subject.endswith(f": #{ticket.pk} {shown}")
        assert b"\nBcc:" not in message.raw
        assert b"\nX-Injected:" not in message.raw


def test_a_non_ascii_title_survives_in_the_subject(clock, make_ticket, smtp_settings):
    ticket = make_ticket(due_in=2 * HOUR, title="Drucker brennt: Größe 🔥, Grüße")

    deliver_due()

    [message] = smtp_settings.received()
    assert (
        message.subject
        == f"[SLA Watchdog] Ticket created: #{ticket.pk} Drucker brennt: Größe 🔥, Grüße"
    )


@pytest.mark.parametrize(
    "title",
    [
        "=?utf-8?b?WW91ciBhY2NvdW50IGlzIGxvY2tlZA==?=",  # "Your account is locked"
        "Pay =?utf-8?q?now_at_evil=2Eexample?= please",
        "=?iso-8859-1?q?caf=E9?= and Größe",
        "=?utf-8?b?" + "QUFB" * 25 + "?=",  # longer than a header line
    ],
)
def test_an_encoded_word_in_a_title_arrives_as_typed_not_decoded(
    clock, make_ticket, smtp_settings, title
):
    ticket = make_ticket(due_in=2 * HOUR, title=title)

    deliver_due()

    [message] = smtp_settings.received()
    assert message.subject == f"[SLA Watchdog] Ticket created: #{ticket.pk} {title}"
    assert f"  {title}" in message.body("plain").splitlines()
    assert title in message.body("html")


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("invoice\u202egnp.exe", "invoice<U+202E>gnp.exe"),
        ("\u202dabc\u202c and \u2067def\u2069", "<U+202D>abc<U+202C> and <U+2067>def<U+2069>"),
    ],
)
def test_a_bidirectional_override_in_a_title_is_shown_not_obeyed(
    clock, make_ticket, smtp_settings, title, shown
):
    ticket = make_ticket(due_in=2 * HOUR, title=title)

    deliver_due()

    [message] = smtp_settings.received()
    assert message.subject == f"[SLA Watchdog] Ticket created: #{ticket.pk} {shown}"
    assert f"  {shown}" in message.body("plain").splitlines()
    assert shown.replace("<", "&lt;").replace(">", "&gt;") in message.body("html")
    for text in (message.subject, message.body("plain"), message.body("html")):
        assert not re.search("[\u202a-\u202e\u2066-\u2069]", text)


def test_the_html_part_escapes_the_title(clock, make_ticket, smtp_settings):
    make_ticket(due_in=2 * HOUR, title="<script>alert(1)</script> & co")

    deliver_due()

    [message] = smtp_settings.received()
    html = message.body("html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "<script>alert(1)</script> & co" in message.body("plain")


# --- Transient failures and backoff -------------------------------------------------------


def test_the_backoff_doubles_from_the_first_retry_up_to_its_cap(settings):
    settings.SLA_RETRY_BASE_SECONDS = 15
    settings.SLA_RETRY_MAX_SECONDS = 3600

    delays = [retry_delay(attempts).total_seconds() for attempts in range(1, 11)]

    assert delays == [15, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_a_451_is_retried_with_backoff_and_delivered_once_after_recovery(
    clock, make_ticket, smtp_settings
):
    ticket = make_ticket(due_in=2 * HOUR)
    smtp_settings.refusing_temporarily = True

    first = deliver_due()

    notification = row(ticket, "created")
    assert (first.sent, first.retrying, first.failed) == (0, 1, 0)
    assert notification.status == DeliveryStatus.PENDING
    assert notification.attempts == 1
    assert "451" in notification.last_error
    assert T0 < notification.next_attempt_at <= T0 + 30 * SECOND, "first retry within 30 s"
    first_retry_at = notification.next_attempt_at

    clock.move_to(first_retry_at - SECOND)
    assert deliver_due().retrying == 0, "not due yet"
    clock.move_to(first_retry_at)
    assert deliver_due().retrying == 1
    second_retry_at = row(ticket, "created").next_attempt_at
    assert second_retry_at - first_retry_at == 2 * (first_retry_at - T0), "exponential"

    smtp_settings.refusing_temporarily = False
    clock.move_to(second_retry_at)
    assert deliver_due().sent == 1
    clock.move_to(T0 + 5 * HOUR)
    deliver_due()

    notification = row(ticket, "created")
    assert notification.status == DeliveryStatus.SENT
    assert notification.attempts == 3
    assert notification.sent_at == second_retry_at
    assert notification.last_error == ""
    assert len(smtp_settings.refused) == 2
    assert smtp_settings.message_ids() == [notification.message_id]


def test_the_message_id_is_the_same_on_every_attempt(clock, make_ticket, smtp_settings):
    ticket = make_ticket(due_in=2 * HOUR)
    smtp_settings.refusing_temporarily = True
    deliver_due()
    smtp_settings.refusing_temporarily = False
    clock.move_to(row(ticket, "created").next_attempt_at)

    deliver_due()

    [refused] = smtp_settings.refused
    [delivered] = smtp_settings.received()
    assert refused.message_id == delivered.message_id == row(ticket, "created").message_id


def test_a_recipient_refused_with_550_fails_for_good_without_holding_up_others(
    clock, make_ticket, make_user, smtp_settings
):
    bob = make_user("bob")
    refused = make_ticket(due_in=2 * HOUR)
    accepted = make_ticket(due_in=2 * HOUR, owner=bob)
    smtp_settings.refused_recipients.add(ALICE)

    report = deliver_due()
    clock.move_to(T0 + 24 * HOUR)
    later = deliver_due()

    assert (report.sent, report.failed, report.retrying) == (1, 1, 0)
    assert (later.sent, later.failed, later.retrying) == (0, 0, 0)
    failed = row(refused, "created")
    assert failed.status == DeliveryStatus.FAILED
    assert failed.attempts == 1
    assert failed.next_attempt_at is None
    assert "550" in failed.last_error
    assert row(accepted, "created").status == DeliveryStatus.SENT
    assert [m.rcpt_tos for m in smtp_settings.received()] == [("bob@example.com",)]


def test_nothing_is_lost_while_the_mail_server_is_down(clock, make_ticket, smtp_settings):
    smtp_settings.stop()
    for due_in in (2 * HOUR, 30 * MINUTE, -MINUTE):
        make_ticket(due_in=due_in)

    down = deliver_due()

    assert (down.sent, down.retrying, down.failed) == (0, 5, 0)
    for notification in Notification.objects.all():
        assert notification.status == DeliveryStatus.PENDING
        assert notification.attempts == 1
        assert notification.last_error.startswith("cannot connect")

    smtp_settings.start()
    clock.move_to(T0 + MINUTE)
    back = deliver_due()
    clock.move_to(T0 + HOUR)
    again = deliver_due()

    assert (back.sent, again.sent) == (5, 0)
    assert set(Notification.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert sorted(smtp_settings.message_ids()) == sorted(
        n.message_id for n in Notification.objects.all()
    )


def test_a_hanging_mail_server_times_out_and_nothing_is_lost(
    clock, make_ticket, smtp_settings, hanging_smtp_server
):
    make_ticket(due_in=30 * MINUTE)

    with smtp_settings_for(hanging_smtp_server.port, timeout=1.0):
        started = time.monotonic()
        hung = deliver_due()
        waited = time.monotonic() - started

    assert hanging_smtp_server.connections == 1, "one connection attempt for the whole batch"
    assert 0.9 <= waited < 5, "EMAIL_TIMEOUT must end the wait"
    assert (hung.sent, hung.retrying) == (0, 2)
    assert smtp_settings.received() == []

    clock.move_to(T0 + MINUTE)
    recovered = deliver_due()
    clock.move_to(T0 + HOUR)
    deliver_due()

    assert recovered.sent == 2
    assert smtp_settings.kinds() == ["created", "warning"]


def test_an_unreachable_server_is_tried_once_per_run_not_once_per_batch(
    clock, make_ticket, smtp_settings, hanging_smtp_server
):
    for _ in range(5):
        make_ticket(due_in=2 * HOUR)

    with smtp_settings_for(hanging_smtp_server.port, timeout=0.5):
        report = deliver_due(batch_size=2)

    assert hanging_smtp_server.connections == 1, "not one timeout per batch of the backlog"
    assert (report.unreachable, report.retrying, report.more_due) == (True, 2, False)
    untried = Notification.objects.filter(attempts=0, next_attempt_at=T0)
    assert untried.count() == 3, "left due for the next run"


def test_an_outage_however_long_never_uses_up_an_emails_attempts(
    clock, make_ticket, smtp_settings, settings
):
    settings.SLA_DELIVERY_MAX_ATTEMPTS = 3
    settings.SLA_RETRY_BASE_SECONDS = 15
    ticket = make_ticket(due_in=2 * HOUR)
    smtp_settings.stop()

    waits = []
    for _ in range(6):
        assert deliver_due().retrying == 1
        notification = row(ticket, "created")
        waits.append((notification.next_attempt_at - dj_timezone.now()).total_seconds())
        clock.move_to(notification.next_attempt_at)

    assert waits == [15.0] * 6, "the base delay every time, not a growing backoff"
    assert (notification.status, notification.attempts) == (DeliveryStatus.PENDING, 1)
    smtp_settings.start()
    assert deliver_due().sent == 1
    assert row(ticket, "created").status == DeliveryStatus.SENT


def test_exhausted_attempts_fail_visibly_and_the_admin_retry_requeues_them(
    clock, make_ticket, make_user, smtp_settings, settings, client
):
    settings.SLA_DELIVERY_MAX_ATTEMPTS = 3
    ticket = make_ticket(due_in=-MINUTE)  # created and missed
    created = row(ticket, "created")
    smtp_settings.refusing_temporarily = True

    reports = []
    for _ in range(3):
        reports.append(deliver_due())
        retry_at = Notification.objects.aggregate(at=Max("next_attempt_at"))["at"]
        if retry_at is not None:
            clock.move_to(retry_at)
    # Two rows: the first two attempts reschedule both, the third gives up on both.
    assert [(r.retrying, r.failed) for r in reports] == [(2, 0), (2, 0), (0, 2)]
    created.refresh_from_db()
    assert created.status == DeliveryStatus.FAILED
    assert created.attempts == 3
    assert "451" in created.last_error
    clock.move_to(T0 + 24 * HOUR)
    assert deliver_due().failed == 0, "given up: no more attempts"

    missed = row(ticket, "missed")
    Notification.objects.filter(pk=missed.pk).update(status=DeliveryStatus.SENT)  # say, by hand
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:notifications_notification_changelist"),
        {"action": "retry", "_selected_action": [created.pk, missed.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 notification(s) queued" in response.content.decode()
    created.refresh_from_db()
    assert (created.status, created.attempts, created.last_error) == (
        DeliveryStatus.PENDING,
        0,
        "",
    )
    assert row(ticket, "missed").status == DeliveryStatus.SENT

    smtp_settings.refusing_temporarily = False
    assert deliver_due().sent == 1
    assert smtp_settings.message_ids() == [created.message_id]


# --- One bad row never stops delivery -------------------------------------------------------

# Addresses Django's EmailValidator accepts that no mail can be sent to: formatting the
# first raises HeaderParseError ("embedded header"); the others split the To header in two
# (str.splitlines() ends a line at \x0b, \x0c and \x1c-\x1e) or reach the envelope raw.
POISONED = ['"NL\x1d~F:"@example.com', '"a\x1cb"@example.com', '"a\x0cb"@example.com']


@pytest.mark.parametrize("address", POISONED)
def test_an_address_that_cannot_be_sent_fails_its_email_and_the_batch_goes_on(
    clock, make_ticket, make_user, smtp_settings, address
):
    make_ticket(due_in=2 * HOUR)  # before the bad row
    poisoned = make_ticket(due_in=2 * HOUR, owner=make_user("eve", email=address))
    after = make_ticket(due_in=2 * HOUR, owner=make_user("bob"))

    report = deliver_due()
    clock.move_to(T0 + 24 * HOUR)
    later = deliver_due()

    assert (report.sent, report.failed, report.retrying) == (2, 1, 0)
    assert (later.sent, later.failed, later.retrying) == (0, 0, 0)
    failed = row(poisoned, "created")
    assert failed.status == DeliveryStatus.FAILED
    assert failed.attempts == 1
    assert failed.next_attempt_at is None
    assert failed.last_error
    assert row(after, "created").status == DeliveryStatus.SENT
    assert [m.rcpt_tos for m in smtp_settings.received()] == [(ALICE,), ("bob@example.com",)]


def test_an_email_that_cannot_be_built_fails_for_good_and_the_batch_goes_on(
    clock, make_ticket, smtp_settings
):
    broken = make_ticket(due_in=2 * HOUR)
    fine = make_ticket(due_in=2 * HOUR)
    # A kind no headline exists for: build_message raises KeyError.
    Notification.objects.filter(ticket=broken).update(metric="first_response")

    report = deliver_due()

    assert (report.sent, report.failed) == (1, 1)
    failed = Notification.objects.get(ticket=broken)
    assert failed.status == DeliveryStatus.FAILED
    assert failed.last_error.startswith("cannot build the message: KeyError")
    assert row(fine, "created").status == DeliveryStatus.SENT


def test_an_unexpected_error_from_the_backend_is_retried_and_given_up_on_in_time(
    clock, make_ticket, settings
):
    settings.EMAIL_BACKEND = "tests.notifications.test_delivery.ExplodingBackend"
    settings.SLA_DELIVERY_MAX_ATTEMPTS = 2
    ticket = make_ticket(due_in=2 * HOUR)

    first = deliver_due()
    clock.move_to(row(ticket, "created").next_attempt_at)
    second = deliver_due()

    assert (first.retrying, first.failed, second.failed) == (1, 0, 1)
    failed = row(ticket, "created")
    assert (failed.status, failed.attempts) == (DeliveryStatus.FAILED, 2)
    assert failed.last_error == "unexpected UnicodeError: a codec choked"


class ExplodingBackend(locmem_backend.EmailBackend):
    """A backend that raises what neither smtplib nor a socket would."""

    def send_messages(self, messages):
        raise UnicodeError("a codec choked")


# --- Nobody to send to --------------------------------------------------------------------


def test_an_owner_without_an_email_address_is_skipped_not_failed(
    clock, make_ticket, make_user, smtp_settings
):
    ticket = make_ticket(due_in=30 * MINUTE, owner=make_user("nomail", email=""))

    report = deliver_due()
    clock.move_to(T0 + 24 * HOUR)
    later = deliver_due()

    assert (report.skipped, report.failed, report.retrying) == (2, 0, 0)
    assert later.skipped == 0
    for kind in ("created", "warning"):
        skipped = row(ticket, kind)
        assert skipped.status == DeliveryStatus.SKIPPED
        assert skipped.last_error == "owner has no email address"
    assert smtp_settings.received() == []


def test_an_owner_without_an_email_address_is_skipped_even_while_the_server_is_down(
    clock, make_ticket, make_user, smtp_settings
):
    make_ticket(due_in=2 * HOUR)  # alice's row comes first and finds the server down
    silent = make_ticket(due_in=2 * HOUR, owner=make_user("nomail", email=""))
    smtp_settings.stop()

    report = deliver_due()

    assert (report.retrying, report.skipped) == (1, 1)
    assert row(silent, "created").status == DeliveryStatus.SKIPPED


# --- Leases -------------------------------------------------------------------------------


def test_a_row_held_by_a_sender_that_died_is_retried_only_after_its_lease(
    clock, make_ticket, smtp_settings, settings
):
    settings.SLA_DELIVERY_LEASE_SECONDS = 120
    ticket = make_ticket(due_in=2 * HOUR)
    [held] = claim(now=T0, limit=10)  # ... and the sender is killed before sending

    now_report = deliver_due()
    clock.move_to(T0 + 119 * SECOND)
    before_report = deliver_due()
    clock.move_to(T0 + 120 * SECOND)
    after_report = deliver_due()

    assert (now_report.sent, before_report.sent, after_report.sent) == (0, 0, 1)
    notification = row(ticket, "created")
    assert notification.status == DeliveryStatus.SENT
    assert notification.attempts == 2, "the dead sender's attempt counts"
    assert smtp_settings.message_ids() == [held.message_id]


def test_a_notification_cancelled_while_in_flight_stays_cancelled_but_records_the_send(
    clock, make_ticket, smtp_settings
):
    ticket = make_ticket(due_in=30 * MINUTE)
    claimed = claim(now=T0, limit=10)
    services.update_ticket(ticket=ticket, status=Status.RESOLVED)

    report = send_batch(claimed)

    assert report.sent == 2
    warning = Notification.objects.get(ticket=ticket, kind="warning")
    assert warning.status == DeliveryStatus.CANCELLED
    assert warning.sent_at == T0
    assert warning.last_error == "sent after it was cancelled"


# --- Who goes first ------------------------------------------------------------------------


def test_after_an_outage_new_emails_go_before_the_backlog_it_left(
    clock, make_ticket, smtp_settings
):
    smtp_settings.stop()
    backlog = [make_ticket(due_in=2 * HOUR) for _ in range(6)]
    assert deliver_due().retrying == 6
    smtp_settings.start()
    clock.move_to(T0 + MINUTE)  # the backlog's retries are due again ...
    fresh = [make_ticket(due_in=2 * HOUR) for _ in range(3)]  # ... and so are new emails

    first = deliver_due(batch_size=4, max_batches=1)
    rest = deliver_due()

    assert (first.sent, rest.sent) == (4, 5)
    order = [m.ticket_id for m in smtp_settings.received()]
    assert order[:3] == [t.pk for t in fresh]
    assert order[3] == backlog[0].pk, "the slot the new ones left: the oldest retry"
    assert sorted(order[4:]) == [t.pk for t in backlog[1:]]


def test_retries_keep_a_share_of_every_batch_under_a_stream_of_new_emails(clock, make_ticket):
    for _ in range(20):
        make_ticket(due_in=2 * HOUR)
    retries = list(Notification.objects.order_by("id")[:10])
    Notification.objects.filter(pk__in=[n.pk for n in retries]).update(
        attempts=1, next_attempt_at=T0 - MINUTE
    )

    claimed = claim(now=T0, limit=10)

    tried_before = [n.pk for n in claimed if n.attempts == 2]
    assert len(claimed) == 10
    assert tried_before == [retries[0].pk], "one slot of ten, the longest waiting"
    assert [n.attempts for n in claimed] == [1] * 9 + [2]


def test_a_batch_of_one_still_goes_to_a_new_email_first(clock, make_ticket):
    fresh, retried = make_ticket(due_in=2 * HOUR), make_ticket(due_in=2 * HOUR)
    Notification.objects.filter(ticket=retried).update(attempts=1, next_attempt_at=T0 - HOUR)

    [claimed] = claim(now=T0, limit=1)

    assert claimed.ticket_id == fresh.pk


def test_a_retry_takes_every_slot_new_emails_leave(clock, make_ticket):
    for _ in range(6):
        make_ticket(due_in=2 * HOUR)
    Notification.objects.filter(pk__in=Notification.objects.order_by("id")[:4]).update(
        attempts=3, next_attempt_at=T0 - HOUR
    )

    claimed = claim(now=T0, limit=10)

    assert sorted(n.attempts for n in claimed) == [1, 1, 4, 4, 4, 4]


# --- Telling the truth about what was sent ------------------------------------------------


def test_warning_sent_at_is_set_only_once_the_warning_is_delivered(
    clock, make_ticket, smtp_settings
):
    ticket = make_ticket(due_in=2 * HOUR)
    deliver_due()
    assert Ticket.objects.get(pk=ticket.pk).resolution_warning_sent_at is None, (
        "only the creation email"
    )

    clock.move_to(T0 + HOUR)
    run_transitions()
    smtp_settings.stop()
    deliver_due()
    assert Ticket.objects.get(pk=ticket.pk).resolution_warning_sent_at is None, "server down"

    smtp_settings.start()
    smtp_settings.refusing_temporarily = True
    clock.move_to(T0 + HOUR + MINUTE)
    deliver_due()
    assert Ticket.objects.get(pk=ticket.pk).resolution_warning_sent_at is None, "refused with 451"

    smtp_settings.refusing_temporarily = False
    clock.move_to(T0 + HOUR + 2 * MINUTE)
    deliver_due()
    assert Ticket.objects.get(pk=ticket.pk).resolution_warning_sent_at == T0 + HOUR + 2 * MINUTE
    assert smtp_settings.kinds() == ["created", "warning"]


def test_a_batch_of_warnings_stamps_their_tickets_in_one_statement(
    clock, make_ticket, smtp_settings
):
    tickets = [make_ticket(due_in=2 * HOUR) for _ in range(3)]
    moved = make_ticket(due_in=2 * HOUR)
    deliver_due()  # the creation emails
    clock.move_to(T0 + HOUR)
    run_transitions()
    claimed = claim(now=T0 + HOUR, limit=10)
    # Its deadline moves after the claim: the warning goes out, but it was about the old one.
    Ticket.objects.filter(pk=moved.pk).update(deadline=T0 + 3 * HOUR)

    with CaptureQueriesContext(connection) as queries:
        report = send_batch(claimed, on_sent=stamp_warnings_sent)

    assert report.sent == 4
    stamps = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "tickets_ticket"')]
    assert len(stamps) == 1
    for ticket in tickets:
        sent_at = row(ticket, "warning").sent_at
        assert sent_at is not None
        assert Ticket.objects.get(pk=ticket.pk).resolution_warning_sent_at == sent_at
    assert Ticket.objects.get(pk=moved.pk).resolution_warning_sent_at is None


@pytest.mark.parametrize(("mark_every", "writes"), [(1, 5), (2, 3), (10, 1)])
def test_accepted_emails_are_recorded_mark_every_at_a_time(
    clock, make_ticket, smtp_settings, settings, mark_every, writes
):
    settings.SLA_DELIVERY_MARK_EVERY = mark_every
    for _ in range(5):
        make_ticket(due_in=2 * HOUR)
    claimed = claim(now=T0, limit=10)

    with CaptureQueriesContext(connection) as queries:
        report = send_batch(claimed)

    assert report.sent == 5
    assert len(smtp_settings.received()) == 5
    # One statement per group (on SQLite one executemany, logged as "n times: UPDATE ...").
    marks = [q["sql"] for q in queries if 'UPDATE "notifications_notification"' in q["sql"]]
    assert len(marks) == writes
    assert statuses() == [("created", DeliveryStatus.SENT)] * 5
    assert {n.recipient for n in Notification.objects.all()} == {ALICE}


def test_emails_accepted_before_a_batch_fails_are_recorded_as_sent(
    clock, make_ticket, smtp_settings, monkeypatch
):
    first, second = make_ticket(due_in=2 * HOUR), make_ticket(due_in=2 * HOUR)
    claimed = claim(now=T0, limit=10)
    send = EmailTransport.send_begin

    def refuse_the_second(self, message, *, recipient):
        if smtp_settings.received():
            raise TransportError("451 try again later", permanent=False)
        send(self, message, recipient=recipient)

    def crash(notification, error, report):
        raise RuntimeError("the process is going down")

    # The second email is refused, and recording that fails: the batch stops there.
    monkeypatch.setattr(EmailTransport, "send_begin", refuse_the_second)
    monkeypatch.setattr(delivery, "_record_failure", crash)
    with pytest.raises(RuntimeError):
        send_batch(claimed)

    assert len(smtp_settings.received()) == 1
    assert row(first, "created").status == DeliveryStatus.SENT
    assert row(second, "created").status == DeliveryStatus.PENDING


def test_a_check_that_queued_a_backlog_has_the_outbox_analyzed_once(
    clock, make_ticket, monkeypatch
):
    monkeypatch.setattr(outbox, "_queued_since_analyze", 0)
    monkeypatch.setattr(outbox, "ANALYZE_AFTER_ROWS", 3)
    make_ticket(due_in=2 * HOUR)
    make_ticket(due_in=2 * HOUR)
    assert not outbox.refresh_statistics()  # two queued: no backlog yet

    make_ticket(due_in=2 * HOUR)
    with CaptureQueriesContext(connection) as queries:
        analyzed = outbox.refresh_statistics()
        again = outbox.refresh_statistics()

    analyzes = [q["sql"] for q in queries if q["sql"].startswith("ANALYZE")]
    if connection.vendor == "postgresql":
        assert analyzed
        assert analyzes == ['ANALYZE "notifications_notification"']
    else:  # SQLite plans without statistics of this kind
        assert not analyzed
        assert analyzes == []
    assert not again  # counted afresh since


def test_creating_a_ticket_through_the_api_never_waits_for_smtp(clock, api, hanging_smtp_server):
    with smtp_settings_for(hanging_smtp_server.port, timeout=1.0):
        started = time.monotonic()
        response = api.post(
            "/api/tickets/",
            {"title": "Printer on fire", "deadline": (T0 + 30 * MINUTE).isoformat()},
            format="json",
        )
        took = time.monotonic() - started

    assert response.status_code == 201, response.content
    assert took < 0.9, "the request must not have waited on the mail server"
    assert hanging_smtp_server.connections == 0
    assert response.json()["warning_sent_at"] is None
    assert response.json()["sla_warning_sent"] is False
    assert statuses() == [("created", DeliveryStatus.PENDING), ("warning", DeliveryStatus.PENDING)]


def test_creating_a_ticket_through_the_api_sends_nothing_by_itself(clock, api, smtp_settings):
    response = api.post(
        "/api/tickets/",
        {"title": "Printer on fire", "deadline": (T0 - MINUTE).isoformat()},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert smtp_settings.received() == []
    assert deliver_due().sent == 2
    assert smtp_settings.kinds() == ["created", "missed"]


@pytest.mark.django_db(transaction=True)
def test_a_batch_leaves_the_connection_with_synchronous_commits_as_it_found_it(
    make_ticket, smtp_settings
):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is a PostgreSQL setting")
    make_ticket()

    report = deliver_due()

    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)
    assert report.sent == 1
