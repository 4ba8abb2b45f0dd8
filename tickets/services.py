"""Ticket writes. Views, serializers and the admin call these; none holds SLA logic."""

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from notifications.tasks import deliver_soon
from policies.models import SlaPolicy
from tickets import engine
from tickets.models import DeadlineSource, Ticket
from tickets.sla import ACTIVE_STATUSES

# Fields a client may set; everything else on a ticket is managed here.
EDITABLE_FIELDS = frozenset({"title", "description", "deadline", "status", "priority"})


NO_POLICY = "deadline is required when no SLA policy applies"


def create_ticket(*, owner: User, now: datetime | None = None, **fields: Any) -> Ticket:
    """Create a ticket, assess its SLA and queue its creation email, in one transaction.

    Without a `deadline`, the SLA policy of the ticket's priority (else the default
    policy) sets it: its resolution target in business time from `now`. A deadline given
    is kept as it is ("manual"), and no later priority change moves it.
    """
    _refuse_unknown(fields)
    now = now or timezone.now()
    ticket = Ticket(owner=owner, **fields)
    ticket.policy = SlaPolicy.objects.for_priority(ticket.priority)
    if fields.get("deadline") is None:
        ticket.deadline = policy_deadline(policy=ticket.policy, start=now)
        ticket.deadline_source = DeadlineSource.POLICY
    else:
        ticket.deadline_source = DeadlineSource.MANUAL
    if ticket.status not in ACTIVE_STATUSES:
        ticket.resolved_at = now
    with transaction.atomic():
        engine.apply_change(ticket, fresh=True, now=now, created=True)
        deliver_soon(ticket_id=ticket.pk, now=now)
    return ticket


def update_ticket(*, ticket: Ticket, now: datetime | None = None, **changes: Any) -> Ticket:
    """Apply client changes to a ticket and bring its SLA state and emails in line.

    The row is locked for the transaction, so a concurrent checker or edit either sees
    the ticket before this change or after it, never half of it.
    """
    _refuse_unknown(changes)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        was_active = locked.status in ACTIVE_STATUSES
        old_deadline = locked.deadline
        priority_changed = "priority" in changes and changes["priority"] != locked.priority
        for field, value in changes.items():
            setattr(locked, field, value)
        if "deadline" in changes:
            locked.deadline_source = DeadlineSource.MANUAL
        if priority_changed:
            locked.policy = SlaPolicy.objects.for_priority(locked.priority)
            if locked.deadline_source == DeadlineSource.POLICY:
                # From creation, as if the ticket had had this priority all along.
                locked.deadline = policy_deadline(policy=locked.policy, start=locked.created_at)
        is_active = locked.status in ACTIVE_STATUSES
        if was_active and not is_active:
            locked.resolved_at = now
        elif is_active and not was_active:
            locked.resolved_at = None
        deadline_moved = locked.deadline != old_deadline
        if deadline_moved:
            locked.warning_sent_at = None
        engine.apply_change(locked, fresh=deadline_moved or (is_active and not was_active), now=now)
        deliver_soon(ticket_id=locked.pk, now=now)
    return locked


def policy_deadline(*, policy: SlaPolicy | None, start: datetime) -> datetime:
    """The deadline `policy` sets for a ticket counted from `start`.

    ValidationError (a 400 in the API) when there is no policy, or its calendar has no
    open time left to count.
    """
    if policy is None:
        raise ValidationError({"deadline": NO_POLICY})
    try:
        return policy.resolution_deadline(start)
    except ValueError as exc:
        raise ValidationError(
            {"deadline": f"SLA policy {policy.name!r} cannot set a deadline: {exc}"}
        ) from exc


def delete_ticket(*, ticket: Ticket) -> None:
    ticket.delete()


def _refuse_unknown(fields: dict[str, Any]) -> None:
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"not client-editable: {', '.join(sorted(unknown))}")
