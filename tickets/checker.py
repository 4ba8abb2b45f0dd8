"""One SLA check: state changes first, then deliveries. Every entry point calls this."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Min
from django.utils import timezone

from notifications.delivery import DeliveryReport, deliver_due
from notifications.models import DeliveryStatus, Notification
from tickets.engine import run_transitions
from tickets.models import Ticket


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


def check_sla(*, now: datetime | None = None) -> CheckReport:
    """Apply every SLA state change due by `now`, then deliver every email due."""
    changes = run_transitions(now=now)
    return CheckReport(state_changes=changes, delivery=deliver_due(now=now))


def next_due_at() -> datetime | None:
    """The earliest moment at which a check would have something to do."""
    ticket = Ticket.objects.filter(next_check_at__isnull=False).aggregate(at=Min("next_check_at"))
    pending = Notification.objects.filter(status=DeliveryStatus.PENDING).aggregate(
        at=Min("next_attempt_at")
    )
    moments = [m for m in (ticket["at"], pending["at"]) if m is not None]
    return min(moments) if moments else None


def seconds_until_next_due(*, now: datetime | None = None, ceiling: float) -> float:
    due = next_due_at()
    if due is None:
        return ceiling
    wait = (due - (now or timezone.now())).total_seconds()
    return max(0.0, min(ceiling, wait))
