"""Celery tasks: thin shells around tickets.checker, the functions `manage.py check_sla` calls.

A message carries no data; it only says "check" or "deliver what is due". The outbox row
is the record of whether an email went out, so a message lost, repeated or redelivered
after a worker died costs nothing: the task claims whatever is due by then, with a lease,
exactly as `manage.py check_sla` does, and a lost message is made up for by beat's next
check.

A delivery task is bounded in time (CELERY_DELIVERY_TASK_SECONDS): it returns to the
queues, and queues its own successor while emails are still due. Workers therefore take
beat's SLA check (on a queue of its own) between two delivery tasks, never after the
whole backlog.

The delivery task lives here, beside the check, because delivering stamps tickets
(tickets.checker.deliver_due); it keeps the name it was registered under in
notifications/tasks.py, so messages already queued and running workers agree on it.
"""

import logging
import math
from datetime import datetime
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from kombu import Connection

from notifications import outbox
from tickets.checker import deliver_due, refresh_reports, run_state_changes
from watchdog.celery import app, broker_connection

# Kept from when these tasks lived in notifications/tasks.py: log filters and alerts
# select the nudge's warnings by this name.
log = logging.getLogger("notifications.tasks")

# The most delivery messages kept waiting in the queue. Each one sends for about
# CELERY_DELIVERY_TASK_SECONDS and queues its successor while emails are still due, so a
# few are enough to keep every worker busy between checks; more would only wait.
MAX_TASKS_PER_CHECK = 8
# The longest a ticket write waits for the broker to take its nudge.
NUDGE_TIMEOUT_SECONDS = 2
# The longest a check or a delivery task waits for the broker to take its messages.
PUBLISH_TIMEOUT_SECONDS = 2


# Registered under its first name, which beat's schedule, the queue routes and any message
# already queued by an older version use.
@shared_task(name="tickets.tasks.check_sla")
def periodic_check() -> int:
    """Beat's SLA check: the state changes here, the deliveries handed to workers.

    `manage.py check_sla` runs the same two halves in one process. Routed to a queue of
    its own (CELERY_CHECK_QUEUE), which every worker also consumes, so it never waits
    behind queued deliveries, only for a worker to finish the delivery task in hand
    (CELERY_DELIVERY_TASK_SECONDS). No retry of its own: beat sends the next check within
    SLA_CHECK_INTERVAL, and a failed check leaves nothing half done (each batch of state
    changes commits whole).
    """
    changes = run_state_changes()
    dispatch_deliveries()
    refresh_reports()
    return changes


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
    """Claim and send the emails due now, for a bounded time: check_sla's delivery half.

    The same `deliver_due` that `manage.py check_sla` runs, with a time budget: a worker
    returns to the queues after CELERY_DELIVERY_TASK_SECONDS (and the batch in hand), so a
    waiting SLA check runs next instead of after the whole backlog. When it stopped with
    emails still due it queues one successor, which carries on where it stopped.
    """
    report = deliver_due(time_budget=settings.CELERY_DELIVERY_TASK_SECONDS)
    if report.more_due and settings.CELERY_BROKER_URL:
        _queue_successor()
    return {
        "sent": report.sent,
        "retrying": report.retrying,
        "failed": report.failed,
        "skipped": report.skipped,
        "more_due": int(report.more_due),
    }


def dispatch_deliveries(*, now: datetime | None = None) -> int:
    """Queue deliver_pending tasks for the emails due by `now`; returns how many.

    One per batch due, but no more than make up MAX_TASKS_PER_CHECK together with those
    already waiting in the queue: under a backlog, the tasks queued by earlier checks and
    their successors are still there, and more of them would only wait.
    """
    batch_size = settings.SLA_DELIVERY_BATCH_SIZE
    due = outbox.due(now or timezone.now())[: MAX_TASKS_PER_CHECK * batch_size].count()
    wanted = min(MAX_TASKS_PER_CHECK, math.ceil(due / batch_size))
    if not wanted:
        return 0
    with _bounded_connection(PUBLISH_TIMEOUT_SECONDS) as connection:
        tasks = max(0, wanted - _waiting_deliveries(connection))
        _publish(connection, tasks)
    return tasks


def _bounded_connection(timeout: int) -> Connection:
    """A broker connection that gives up after `timeout` seconds, without retrying.

    kombu's pooled connections would keep retrying even for a publish with retry=False; a
    task that cannot reach the broker should fail fast and leave the rows to the next check.
    """
    connection = broker_connection(timeout=timeout)
    try:
        connection.ensure_connection(max_retries=0, timeout=timeout)
    except BaseException:
        connection.release()
        raise
    return connection


def _publish(connection: Connection, tasks: int) -> None:
    producer = app.amqp.Producer(connection, auto_declare=False)
    for _ in range(tasks):
        deliver_pending.apply_async(expires=_expires(), retry=False, producer=producer)


def _waiting_deliveries(connection: Connection) -> int:
    """Delivery messages in the queue not yet taken by a worker; 0 if the broker cannot say.

    Redis counts the list, RabbitMQ answers the (idempotent) declaration with the queue's
    depth. Not knowing only means this check queues as if the queue were empty.
    """
    queue = app.amqp.queues.get(app.conf.task_default_queue)
    if queue is None or app.conf.task_always_eager:
        return 0
    try:
        declared: Any = queue.bind(connection.default_channel).queue_declare()
        waiting = int(declared.message_count or 0)
    except Exception:
        log.warning("could not read the delivery queue's depth", exc_info=True)
        return 0
    return waiting


def _queue_successor() -> None:
    try:
        with _bounded_connection(PUBLISH_TIMEOUT_SECONDS) as connection:
            _publish(connection, 1)
    except Exception:
        # The broker went away meanwhile: the rows are safe in the outbox, and beat's next
        # check (once the broker is back) queues deliveries again.
        log.warning("could not queue the next delivery; beat's next check will", exc_info=True)


def nudge() -> None:
    """Publish one delivery task now; never raises (notifications.outbox.deliver_soon)."""
    try:
        # An API request is waiting on this: one bounded connection attempt and no
        # publishing retries.
        with _bounded_connection(NUDGE_TIMEOUT_SECONDS) as connection:
            _publish(connection, 1)
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
