"""The SLA engine's write path: every SLA state change, and the email it calls for.

Two callers, one rule (tickets.sla.assess):
- `apply_change`, inside the transaction of an API or admin edit;
- `run_transitions`, the periodic check, for the tickets whose `next_check_at` is due.

A state change and the notification it calls for are written in one transaction, and
the notification is unique per ticket, kind and deadline (notifications.outbox), so a
ticket is announced once however many checkers and editors race. Checkers lock the rows
they take with SKIP LOCKED on PostgreSQL, so they share the work instead of waiting on
each other; on SQLite, transactions begin IMMEDIATE and so run one at a time.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from notifications import outbox
from tickets.models import Ticket
from tickets.sla import ACTIVE_STATUSES, Announcement, Assessment, SlaState, assess


def warning_window() -> timedelta:
    return timedelta(minutes=settings.SLA_WARNING_MINUTES)


@dataclass(frozen=True)
class PlannedChange:
    ticket_id: int
    deadline: datetime
    previous_state: str
    assessment: Assessment


def apply_change(ticket: Ticket, *, fresh: bool, now: datetime, created: bool = False) -> None:
    """Recompute the SLA fields of a ticket being saved, and queue what it announces.

    Call inside the transaction that saves the ticket, with the row locked. `fresh` means
    the deadline moved or the ticket was reopened: earlier announcements do not count.
    `created` queues the creation email first, so it arrives before any SLA email.
    """
    active = ticket.status in ACTIVE_STATUSES
    if fresh:
        ticket.breached_at = None
    result = assess(
        status=ticket.status,
        deadline=ticket.deadline,
        resolved_at=ticket.resolved_at,
        previous_state=None if fresh else ticket.sla_state,
        now=now,
        warning=warning_window(),
    )
    ticket.sla_state = result.state
    ticket.next_check_at = result.next_check_at
    if result.state == SlaState.BREACHED and ticket.breached_at is None:
        ticket.breached_at = ticket.deadline
    elif result.state != SlaState.BREACHED:
        ticket.breached_at = None
    ticket.save()

    announcements = [Announcement.CREATED] if created else []
    if result.announce is not None:
        announcements.append(result.announce)
    outbox.enqueue([(ticket.pk, kind, ticket.deadline) for kind in announcements], now=now)
    outbox.cancel_stale(ticket_id=ticket.pk, active=active, deadline=ticket.deadline)
    if result.announce == Announcement.MISSED:
        outbox.cancel_warnings(ticket_ids=[ticket.pk])


def plan_transitions(
    *, now: datetime, limit: int, ticket_ids: list[int] | None = None, lock: bool = False
) -> list[PlannedChange]:
    """What the clock has changed for due tickets by `now` (the check's read half)."""
    due = Ticket.objects.due(now)
    if ticket_ids is not None:
        due = due.filter(pk__in=ticket_ids)
    if lock:
        due = due.select_for_update(skip_locked=True)
    rows = due.order_by("next_check_at").values_list(
        "id", "status", "deadline", "resolved_at", "sla_state"
    )[:limit]
    window = warning_window()
    return [
        PlannedChange(
            ticket_id=ticket_id,
            deadline=deadline,
            previous_state=sla_state,
            assessment=assess(
                status=status,
                deadline=deadline,
                resolved_at=resolved_at,
                previous_state=sla_state,
                now=now,
                warning=window,
            ),
        )
        for ticket_id, status, deadline, resolved_at, sla_state in rows
    ]


def run_transitions(
    *, now: datetime | None = None, batch_size: int = 1000, ticket_ids: list[int] | None = None
) -> int:
    """Move every due ticket to its current SLA state; returns how many changed state.

    Works in batches, one transaction each, so a long backlog never holds locks for long
    and a crash loses at most one uncommitted batch, which the next run redoes.
    """
    now = now or timezone.now()
    changed = 0
    while True:
        with transaction.atomic():
            plan = plan_transitions(now=now, limit=batch_size, ticket_ids=ticket_ids, lock=True)
            if not plan:
                return changed
            changed += _apply_plan(plan, now=now)
        if len(plan) < batch_size:
            return changed


def _apply_plan(plan: list[PlannedChange], *, now: datetime) -> int:
    moved = [c for c in plan if c.assessment.state != c.previous_state]
    at_risk = [c.ticket_id for c in moved if c.assessment.state == SlaState.AT_RISK]
    breached = [c.ticket_id for c in moved if c.assessment.state == SlaState.BREACHED]
    # Rows whose state has not changed only need their next look moved (for instance
    # after SLA_WARNING_MINUTES was lowered); rare, so one UPDATE each.
    for change in plan:
        if change.assessment.state == change.previous_state:
            Ticket.objects.filter(pk=change.ticket_id).update(
                next_check_at=change.assessment.next_check_at
            )
        elif change.assessment.state == SlaState.ON_TRACK:
            Ticket.objects.filter(pk=change.ticket_id).update(
                sla_state=SlaState.ON_TRACK, next_check_at=change.assessment.next_check_at
            )
    if at_risk:
        Ticket.objects.filter(pk__in=at_risk).update(
            sla_state=SlaState.AT_RISK, next_check_at=F("deadline")
        )
    if breached:
        Ticket.objects.filter(pk__in=breached).update(
            sla_state=SlaState.BREACHED, breached_at=F("deadline"), next_check_at=None
        )
        outbox.cancel_warnings(ticket_ids=breached)
    outbox.enqueue(
        [
            (c.ticket_id, c.assessment.announce, c.deadline)
            for c in plan
            if c.assessment.announce is not None
        ],
        now=now,
    )
    return len(moved)
