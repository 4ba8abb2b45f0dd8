"""How far behind the outbox is: read by /healthz and /metrics, from any process."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min

from notifications.models import DeliveryStatus, Notification


@dataclass(frozen=True)
class Backlog:
    pending: int  # waiting for a first or another attempt, including rows in flight
    due: int  # pending and due now, but not yet claimed by any sender
    oldest_pending_created_at: datetime | None
    oldest_due_at: datetime | None
    # Pending, but claimed more often than SLA_DELIVERY_MAX_ATTEMPTS: every ordinary
    # outcome (sent, given up, rescheduled without counting) ends before that, so each
    # claim past it ended with its sender dying or stopping on this row. No sender can
    # move it; someone has to look.
    stuck: int
    # Given up on (status failed) within the last HEALTH_FAILED_WINDOW_SECONDS.
    failed_recently: int

    def oldest_pending_age_seconds(self, now: datetime) -> float:
        """How long the oldest pending email has been in the outbox (retries included)."""
        return _since(self.oldest_pending_created_at, now)

    def overdue_seconds(self, now: datetime) -> float:
        """How long the longest-due email has been waiting for a sender to take it."""
        return _since(self.oldest_due_at, now)


def backlog(*, now: datetime) -> Backlog:
    pending = Notification.objects.filter(status=DeliveryStatus.PENDING)
    # Both read pending rows only, through the partial indexes notification_pending_age_idx
    # and notification_claim_idx: the sent rows, most of the table, are never touched.
    everything = pending.aggregate(count=Count("id"), oldest=Min("created_at"))
    due = pending.filter(next_attempt_at__lte=now).aggregate(
        count=Count("id"), oldest=Min("next_attempt_at")
    )
    # notification_retried_idx and notification_failed_at_idx: a few entries each.
    stuck = pending.filter(attempts__gt=max(1, settings.SLA_DELIVERY_MAX_ATTEMPTS)).count()
    failed_recently = Notification.objects.filter(
        status=DeliveryStatus.FAILED,
        failed_at__gt=now - timedelta(seconds=settings.HEALTH_FAILED_WINDOW_SECONDS),
    ).count()
    return Backlog(
        pending=everything["count"],
        due=due["count"],
        oldest_pending_created_at=everything["oldest"],
        oldest_due_at=due["oldest"],
        stuck=stuck,
        failed_recently=failed_recently,
    )


def _since(moment: datetime | None, now: datetime) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0
