"""A checker SIGKILLed in the middle of a batch of webhooks loses none and repeats at most one.

The webhook version of tests/engine/test_checker_killed.py: `manage.py check_sla` runs as
a real process against the committed test database and a real HTTP receiver on loopback
(tests/webhook_receiver.py) that answers a few POSTs and then holds the next one, so the
kill lands at a known point of the batch. The process is allowed loopback through
WEBHOOK_ALLOWED_NETWORKS in its environment, as a deployment would be told.

A webhook is delivered twice only if the receiver had answered it and the process died
before recording that: the one in flight, with the same event id both times (so the
receiver can drop the repeat).
"""

import socket
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from notifications.models import DeliveryStatus, Endpoint, EndpointKind, Notification
from tests.checker_processes import (
    STUCK_AFTER_SECONDS,
    bulk_due_tickets,
    checker_environment,
    start_check_sla,
)
from tests.engine.test_checker_killed import end_other_sessions, kill
from tests.factories import TeamFactory
from tests.webhook_receiver import LOOPBACK, Receiver
from tickets.checker import deliver_due
from tickets.engine import run_transitions
from tickets.models import Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WEBHOOKS = 20
ACCEPTED_BEFORE_KILL = 5
LEASE = timedelta(seconds=10)  # the shortest the settings allow


@pytest.fixture
def queued_webhooks(alice, receiver, settings) -> list[str]:
    """Twenty tickets of a team just past a threshold: twenty webhooks waiting, their
    owners' emails already sent. Returns the webhooks' event ids."""
    settings.WEBHOOK_ALLOWED_NETWORKS = [f"{LOOPBACK}/32"]
    team = TeamFactory.create()
    Endpoint.objects.create(kind=EndpointKind.WEBHOOK, url=receiver.url("/hook"), team=team)
    now = timezone.now()
    bulk_due_tickets(owner=alice, now=now, count=WEBHOOKS)
    Ticket.objects.update(team=team)
    run_transitions(now=now)
    Notification.objects.filter(endpoint__isnull=True).update(
        status=DeliveryStatus.SENT, sent_at=now, next_attempt_at=None
    )
    webhooks = Notification.objects.filter(endpoint__isnull=False)
    assert webhooks.count() == WEBHOOKS
    return sorted(str(key) for key in webhooks.values_list("message_key", flat=True))


def start_checker(receiver: Receiver):
    receiver.accept_first = ACCEPTED_BEFORE_KILL
    with socket.socket() as probe:  # no email is due: a port where nobody listens
        probe.bind((LOOPBACK, 0))
        no_smtp = probe.getsockname()[1]
    process = start_check_sla(
        checker_environment(
            smtp_port=no_smtp,
            WEBHOOK_ALLOWED_NETWORKS=f"{LOOPBACK}/32",
            WEBHOOK_TIMEOUT=STUCK_AFTER_SECONDS,
            SLA_DELIVERY_LEASE_SECONDS=int(LEASE.total_seconds()),
            SLA_DELIVERY_BATCH_SIZE=WEBHOOKS,
        )
    )
    give_up_at = time.monotonic() + STUCK_AFTER_SECONDS
    while not receiver.stalled.wait(timeout=0.2):
        if process.poll() is not None or time.monotonic() > give_up_at:
            process.kill()
            pytest.fail(
                f"the checker never reached webhook {ACCEPTED_BEFORE_KILL + 1}:\n"
                f"{process.communicate()[1]}"
            )
    return process


def webhook_statuses() -> Counter[str]:
    return Counter(
        Notification.objects.filter(endpoint__isnull=False).values_list("status", flat=True)
    )


def test_a_checker_killed_while_a_webhook_is_unanswered_has_it_delivered_after_its_lease(
    receiver, queued_webhooks
):
    process = start_checker(receiver)

    kill(process)  # while the receiver still holds webhook 6, unanswered

    assert webhook_statuses() == {
        DeliveryStatus.SENT: ACCEPTED_BEFORE_KILL,
        DeliveryStatus.PENDING: WEBHOOKS - ACCEPTED_BEFORE_KILL,
    }
    assert deliver_due(now=timezone.now()).sent == 0  # still leased to the dead process
    assert len(receiver.received) == ACCEPTED_BEFORE_KILL

    report = deliver_due(now=timezone.now() + LEASE + timedelta(seconds=1))

    assert report.sent == WEBHOOKS - ACCEPTED_BEFORE_KILL
    assert webhook_statuses() == {DeliveryStatus.SENT: WEBHOOKS}
    # The held one was never answered: each event arrived once (the held request is not
    # among the answered ones).
    assert sorted(receiver.event_ids()) == queued_webhooks
    assert receiver.held is not None
    assert receiver.held.headers["X-Watchdog-Event-Id"] in queued_webhooks


def test_a_checker_killed_between_the_answer_and_its_record_sends_that_one_twice(
    receiver, queued_webhooks
):
    process = start_checker(receiver)
    assert receiver.held is not None
    in_flight = receiver.held.headers["X-Watchdog-Event-Id"]

    # Hold the outbox rows so the process cannot record what the receiver is about to
    # answer, let the receiver answer 200, then kill the process (and, on PostgreSQL, its
    # server session, which would otherwise finish the waiting mark).
    with transaction.atomic():
        list(Notification.objects.select_for_update().values_list("pk"))
        receiver.release()
        assert receiver.accepted.wait(timeout=STUCK_AFTER_SECONDS)
        kill(process)
        end_other_sessions()

    row = Notification.objects.get(message_key=in_flight)
    assert row.status == DeliveryStatus.PENDING
    assert webhook_statuses()[DeliveryStatus.SENT] == ACCEPTED_BEFORE_KILL
    assert deliver_due(now=timezone.now()).sent == 0

    deliver_due(now=timezone.now() + LEASE + timedelta(seconds=1))

    assert webhook_statuses() == {DeliveryStatus.SENT: WEBHOOKS}
    delivered = Counter(receiver.event_ids())
    assert sorted(delivered) == queued_webhooks
    # The one repeat the design allows, with the same event id: and only that one.
    assert {event: n for event, n in delivered.items() if n > 1} == {in_flight: 2}
    first, second = [
        got for got in receiver.received if got.headers["X-Watchdog-Event-Id"] == in_flight
    ]
    assert first.body == second.body
