"""Celery tasks for the outbox: thin shells around notifications.delivery.

A message carries no data; it only says "deliver what is due". The outbox row is the
record of whether an email went out, so a message lost, repeated or redelivered after a
worker died costs nothing: the task claims whatever is due by then, with a lease, exactly
as `manage.py check_sla` does, and a lost message is made up for by beat's next check.
"""

import logging
import math
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from notifications.delivery import deliver_due
from notifications.models import DeliveryStatus, Notification
from watchdog.celery import app, broker_connection

log = logging.getLogger(__name__)

# The most deliveries one check hands out. Each sends batch after batch until nothing is
# due, so more tasks only help while that many workers would otherwise be idle.
MAX_TASKS_PER_CHECK = 8
# The longest a ticket write waits for the broker to take its nudge.
NUDGE_TIMEOUT_SECONDS = 2


@shared_task(
    name="notifications.tasks.deliver_pending",
    # The database restarting; SMTP failures are not errors here: they are recorded on
    # the rows, which retry with their own backoff.
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def deliver_pending() -> dict[str, int]:
    """Claim and send every email due now: the delivery half of check_sla, on a worker."""
    report = deliver_due()
    return {
        "sent": report.sent,
        "retrying": report.retrying,
        "failed": report.failed,
        "skipped": report.skipped,
    }


def dispatch_deliveries(*, now: datetime | None = None) -> int:
    """Queue deliver_pending tasks for the emails due by `now`: one per batch, at most 8."""
    batch_size = settings.SLA_DELIVERY_BATCH_SIZE
    due = _due(now or timezone.now())[: MAX_TASKS_PER_CHECK * batch_size].count()
    tasks = min(MAX_TASKS_PER_CHECK, math.ceil(due / batch_size))
    for _ in range(tasks):
        deliver_pending.apply_async(expires=_expires())
    return tasks


def deliver_soon(*, ticket_id: int, now: datetime) -> None:
    """Once the current transaction commits, have a worker send this ticket's due emails.

    Only with a broker: without one, the check_sla loop delivers them, as always. This is
    a nudge so a creation email does not wait for beat; the row in the outbox is what
    counts, so when the broker cannot take the nudge the request still succeeds and beat's
    next check delivers the email.
    """
    if not settings.CELERY_BROKER_URL:
        return
    if _due(now).filter(ticket_id=ticket_id).exists():
        transaction.on_commit(_nudge)


def _due(now: datetime) -> QuerySet[Notification]:
    # Served by notification_claim_idx.
    return Notification.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)


def _nudge() -> None:
    try:
        # An API request is waiting on this: one bounded connection attempt and no
        # publishing retries (kombu's pooled connections would retry even with retry=False).
        with broker_connection(timeout=NUDGE_TIMEOUT_SECONDS) as connection:
            connection.ensure_connection(max_retries=0, timeout=NUDGE_TIMEOUT_SECONDS)
            producer = app.amqp.Producer(connection, auto_declare=False)
            deliver_pending.apply_async(expires=_expires(), retry=False, producer=producer)
    except Exception:
        # Any failure at all (broker down, refused, misconfigured): the email is safe in
        # the outbox, so log it and let the request succeed.
        log.warning(
            "could not hand deliveries to the Celery broker; beat's next check will",
            exc_info=True,
        )


def _expires() -> float:
    # A delivery still queued after a few checks is redundant: each check dispatches anew.
    return max(60.0, 3 * settings.SLA_CHECK_INTERVAL)
