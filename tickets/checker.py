"""One SLA check: state changes first, then deliveries. Every entry point calls this."""

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError
from django.db.models import F, Min
from django.utils import timezone

from notifications import delivery, outbox
from notifications.delivery import DeliveryReport
from notifications.models import DeliveryStatus, Notification
from policies.models import SlaPolicy
from tickets import rollup
from tickets.engine import run_transitions, stamp_warnings_sent
from tickets.models import CheckerRun, Ticket
from tickets.recompute import run_requested

log = logging.getLogger(__name__)

# The longest a check spends rolling up the compliance report's changed days.
ROLLUP_SECONDS = 1.0


@dataclass(frozen=True)
class CheckReport:
    state_changes: int
    delivery: DeliveryReport

    def summary(self) -> str:
        d = self.delivery
        return (
            f"check_sla: {self.state_changes} state changes, {d.sent} sent, "
            f"{d.retrying} retrying, {d.failed} failed, {d.skipped} skipped"
        )


def run_check(*, now: datetime | None = None) -> CheckReport:
    """One check in this process: every SLA state change due by `now`, then every email due.

    `manage.py check_sla` runs this (once, or in its loop); beat's Celery task
    (tickets.tasks.periodic_check) runs the first half and hands the second to workers.
    """
    changes = run_state_changes(now=now)
    report = CheckReport(state_changes=changes, delivery=deliver_due(now=now))
    refresh_reports(now=now)
    return report


def refresh_reports(*, now: datetime | None = None) -> None:
    """The compliance report's days changed since the last check, rolled up again
    (tickets.rollup): after the deliveries, which it must not delay, and for at most
    ROLLUP_SECONDS; what is left waits for the next check (reports count those days from
    their tickets meanwhile). A failure here is logged, never the check's: the marks stay,
    and the next check tries again."""
    try:
        rollup.refresh(now=now or timezone.now(), budget_seconds=ROLLUP_SECONDS)
    except DatabaseError:
        log.exception("compliance report roll-up failed; the next check tries again")


def check_ticket(*, ticket_id: int, now: datetime | None = None) -> None:
    """One ticket brought up to date whether or not it is due, then its emails delivered:
    what Ticket.check_and_notify_sla() does. Assessing a ticket that is not due changes
    nothing and announces nothing already announced."""
    run_transitions(now=now, ticket_ids=[ticket_id], due_only=False)
    deliver_due(now=now, ticket_ids=[ticket_id])


def deliver_due(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    ticket_ids: list[int] | None = None,
    max_batches: int = 1000,
    time_budget: float | None = None,
) -> DeliveryReport:
    """notifications.delivery.deliver_due, with the tickets of delivered warnings stamped.

    Every caller on the tickets side delivers through this (run_check, the Celery
    delivery task, Ticket.check_and_notify_sla), so `resolution_warning_sent_at` follows each batch.
    """
    return delivery.deliver_due(
        now=now,
        batch_size=batch_size,
        ticket_ids=ticket_ids,
        max_batches=max_batches,
        time_budget=time_budget,
        on_sent=stamp_warnings_sent,
    )


def run_state_changes(*, now: datetime | None = None) -> int:
    """The state-change half of a check, recorded as the checker's heartbeat.

    `run_check` delivers in the same process afterwards; the Celery task hands delivery to
    workers instead. Either way this is the pass /healthz and /metrics report on.
    """
    started = time.monotonic()
    # Policy and calendar edits first, so the state changes below see the new deadlines.
    run_requested(now=now)
    changes = run_transitions(now=now)
    # Escalation emails held for quiet hours that have ended are sent by this delivery.
    outbox.release_quiet(now=now or timezone.now())
    # A backlog just queued is planned as one, not as the idle outbox last analyzed.
    outbox.refresh_statistics()
    duration = time.monotonic() - started
    _record_run(duration_seconds=duration, state_changes=changes)
    log.log(
        logging.INFO if changes else logging.DEBUG,
        "SLA check: %s state changes in %.3f s",
        changes,
        duration,
        extra={"state_changes": changes, "duration_seconds": round(duration, 6)},
    )
    return changes


def _record_run(*, duration_seconds: float, state_changes: int) -> None:
    finished = {
        "finished_at": timezone.now(),
        "duration_seconds": duration_seconds,
        "state_changes": state_changes,
    }
    # One short UPDATE of one row, outside the check's transactions: checkers racing here
    # wait for each other only for that statement.
    runs = CheckerRun.objects.filter(pk=CheckerRun.SINGLETON_ID)
    if not runs.update(
        runs=F("runs") + 1,
        total_duration_seconds=F("total_duration_seconds") + duration_seconds,
        **finished,
    ):
        CheckerRun.objects.bulk_create(
            [
                CheckerRun(
                    pk=CheckerRun.SINGLETON_ID,
                    runs=1,
                    total_duration_seconds=duration_seconds,
                    **finished,
                )
            ],
            ignore_conflicts=True,
        )


def last_run() -> CheckerRun | None:
    """The checker's heartbeat: when an SLA check last finished, in any process."""
    return CheckerRun.objects.filter(pk=CheckerRun.SINGLETON_ID).first()


def next_due_at() -> datetime | None:
    """The earliest moment at which a check would have something to do."""
    ticket = Ticket.objects.filter(next_check_at__isnull=False).aggregate(at=Min("next_check_at"))
    pending = Notification.objects.filter(status=DeliveryStatus.PENDING).aggregate(
        at=Min("next_attempt_at")
    )
    quiet = Notification.objects.filter(
        status=DeliveryStatus.HELD, held_until__isnull=False
    ).aggregate(at=Min("held_until"))
    edits = SlaPolicy.objects.aggregate(at=Min("recompute_requested_at"))
    found = (ticket["at"], pending["at"], quiet["at"], edits["at"])
    moments = [m for m in found if m is not None]
    return min(moments) if moments else None


def seconds_until_next_due(*, now: datetime | None = None, ceiling: float) -> float:
    due = next_due_at()
    if due is None:
        return ceiling
    wait = (due - (now or timezone.now())).total_seconds()
    return max(0.0, min(ceiling, wait))
