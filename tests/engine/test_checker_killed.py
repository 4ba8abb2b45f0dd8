"""A checker killed with SIGKILL in the middle of a delivery batch loses no email.

`manage.py check_sla` runs as a real process against the committed test database and a
real SMTP server that accepts a few messages and then holds the next one, so the kill
lands at a known point in the batch. What the process had claimed stays leased until the
lease runs out; the next sender then delivers the rest. A message is delivered twice only
if the server had accepted it and the process died before recording that: with the
default SLA_DELIVERY_MARK_EVERY (1) the one email in flight, with a larger one at most
that many.
"""

import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from notifications.models import DeliveryStatus, Notification
from tests.checker_processes import (
    STUCK_AFTER_SECONDS,
    StallingSmtpServer,
    checker_environment,
    start_check_sla,
)
from tests.smtp_server import smtp_settings_for
from tickets import services
from tickets.checker import deliver_due

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EMAILS = 20
ACCEPTED_BEFORE_KILL = 5
# The shortest lease the settings allow; the process gets it through its environment.
LEASE = timedelta(seconds=10)


@pytest.fixture
def stalling_server() -> Iterator[StallingSmtpServer]:
    server = StallingSmtpServer(accept_first=ACCEPTED_BEFORE_KILL)
    with server, smtp_settings_for(server.port):
        yield server


@pytest.fixture
def queued_emails(alice) -> list[str]:
    """Twenty tickets created a moment ago: twenty creation emails waiting to be sent."""
    now = timezone.now()
    for index in range(EMAILS):
        services.create_ticket(
            owner=alice, title=f"Ticket {index}", deadline=now + timedelta(days=1), now=now
        )
    return sorted(n.message_id for n in Notification.objects.all())


def start_checker(server: StallingSmtpServer, *, mark_every: int = 1):
    process = start_check_sla(
        checker_environment(
            smtp_port=server.port,
            SLA_DELIVERY_LEASE_SECONDS=int(LEASE.total_seconds()),
            SLA_DELIVERY_BATCH_SIZE=EMAILS,
            SLA_DELIVERY_MARK_EVERY=mark_every,
        )
    )
    give_up_at = time.monotonic() + STUCK_AFTER_SECONDS
    # Woken by the server; the timeout only lets a checker that died early fail fast.
    while not server.stalled.wait(timeout=0.2):
        if process.poll() is not None or time.monotonic() > give_up_at:
            process.kill()
            pytest.fail(
                f"the checker never reached message {ACCEPTED_BEFORE_KILL + 1}:\n"
                f"{process.communicate()[1]}"
            )
    return process


def kill(process) -> None:
    process.kill()  # SIGKILL: no cleanup, no last database write
    process.wait(timeout=STUCK_AFTER_SECONDS)
    assert process.returncode == -9


def end_other_sessions() -> None:
    if connection.vendor != "postgresql":
        return  # SQLite has no server: the dead process's write died with it
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def statuses() -> Counter[str]:
    return Counter(Notification.objects.values_list("status", flat=True))


def test_a_checker_killed_while_an_email_is_in_flight_has_it_delivered_after_its_lease(
    stalling_server, queued_emails
):
    process = start_checker(stalling_server)

    kill(process)  # while the server still holds message 6, unanswered

    # Five recorded as sent; the rest of the batch is still leased to the dead process.
    assert statuses() == {
        DeliveryStatus.SENT: ACCEPTED_BEFORE_KILL,
        DeliveryStatus.PENDING: EMAILS - ACCEPTED_BEFORE_KILL,
    }
    assert deliver_due(now=timezone.now()).sent == 0
    assert len(stalling_server.received()) == ACCEPTED_BEFORE_KILL

    report = deliver_due(now=timezone.now() + LEASE + timedelta(seconds=1))

    assert report.sent == EMAILS - ACCEPTED_BEFORE_KILL
    assert statuses() == {DeliveryStatus.SENT: EMAILS}
    # The held message was never accepted, so nothing arrived twice.
    assert sorted(stalling_server.message_ids()) == queued_emails


def test_a_checker_killed_between_smtp_acceptance_and_its_database_write_sends_that_one_twice(
    stalling_server, queued_emails
):
    process = start_checker(stalling_server)
    assert stalling_server.held is not None
    in_flight = stalling_server.held.message_id

    # Hold the outbox rows (SQLite: the write lock) so the process cannot record what the
    # server is about to accept, then let the server accept it and kill the process.
    with transaction.atomic():
        list(Notification.objects.select_for_update().values_list("pk"))
        stalling_server.release()
        assert stalling_server.accepted.wait(timeout=STUCK_AFTER_SECONDS)
        kill(process)
        # A PostgreSQL server finishes the statement of a client that died, so the mark
        # waiting for our lock would still commit. The crash this test is about takes the
        # checker's connection with it: end its server process too.
        end_other_sessions()

    in_flight_row = next(n for n in Notification.objects.all() if n.message_id == in_flight)
    assert in_flight_row.status == DeliveryStatus.PENDING
    assert statuses()[DeliveryStatus.SENT] == ACCEPTED_BEFORE_KILL
    assert deliver_due(now=timezone.now()).sent == 0

    deliver_due(now=timezone.now() + LEASE + timedelta(seconds=1))

    assert statuses() == {DeliveryStatus.SENT: EMAILS}
    delivered = Counter(stalling_server.message_ids())
    assert sorted(delivered) == queued_emails
    # The one duplicate the design allows, and only that one.
    assert {message_id: n for message_id, n in delivered.items() if n > 1} == {in_flight: 2}


def test_with_batch_marks_a_killed_checker_re_sends_at_most_what_it_had_not_recorded(
    stalling_server, queued_emails
):
    process = start_checker(stalling_server, mark_every=EMAILS)
    accepted = stalling_server.message_ids()

    kill(process)  # while the server still holds message 6, unanswered

    # The five accepted were not recorded yet (their batch had not ended): the whole batch
    # is still leased to the dead process.
    assert len(accepted) == ACCEPTED_BEFORE_KILL
    assert statuses() == {DeliveryStatus.PENDING: EMAILS}
    assert deliver_due(now=timezone.now()).sent == 0
    assert len(stalling_server.received()) == ACCEPTED_BEFORE_KILL

    report = deliver_due(now=timezone.now() + LEASE + timedelta(seconds=1))

    assert report.sent == EMAILS
    assert statuses() == {DeliveryStatus.SENT: EMAILS}
    delivered = Counter(stalling_server.message_ids())
    assert sorted(delivered) == queued_emails
    # Twice: the five the server had accepted from the batch in flight, and only those.
    assert {message_id for message_id, n in delivered.items() if n > 1} == set(accepted)
    assert max(delivered.values()) == 2
