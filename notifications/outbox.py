"""Writing to the outbox: called inside the transaction that changes a ticket's state."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q

from notifications.models import DeliveryStatus, Notification
from tickets.sla import Announcement

SLA_KINDS = (Announcement.WARNING, Announcement.MISSED)


def enqueue(rows: Iterable[tuple[int, Announcement, datetime]], *, now: datetime) -> None:
    """Create one pending notification per (ticket id, kind, deadline), unless it exists.

    The unique constraint decides: a second checker, or a second call, inserts nothing.
    """
    Notification.objects.bulk_create(
        [
            Notification(
                ticket_id=ticket_id,
                kind=kind,
                deadline=deadline,
                next_attempt_at=now,
            )
            for ticket_id, kind, deadline in rows
        ],
        ignore_conflicts=True,
        batch_size=500,
    )


def cancel_warnings(*, ticket_ids: Iterable[int]) -> int:
    """A warning not yet delivered when the deadline passes is superseded by the miss."""
    return Notification.objects.filter(
        ticket_id__in=list(ticket_ids), kind=Announcement.WARNING, status=DeliveryStatus.PENDING
    ).update(status=DeliveryStatus.CANCELLED, next_attempt_at=None)


def cancel_stale(*, ticket_id: int, active: bool, deadline: datetime) -> int:
    """Cancel undelivered SLA emails that no longer hold for the ticket as it is now.

    Resolved or closed: all of them. Otherwise: those about a deadline it no longer has.
    """
    stale = Q(ticket_id=ticket_id, kind__in=SLA_KINDS, status=DeliveryStatus.PENDING)
    if active:
        stale &= ~Q(deadline=deadline)
    return Notification.objects.filter(stale).update(
        status=DeliveryStatus.CANCELLED, next_attempt_at=None
    )
