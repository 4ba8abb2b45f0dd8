"""Celery tasks for the SLA check: thin shells around tickets.checker."""

from celery import shared_task

from notifications.tasks import dispatch_deliveries
from tickets.checker import run_state_changes


@shared_task(name="tickets.tasks.check_sla")
def check_sla() -> int:
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
    return changes
