"""A ticket's deadlines from its SLA policy: sla.deadlines on the policy's calendar.

What tickets.services applies on creation, a priority change and a resumed pause, with
the errors an API client sees: ValidationError (a 400) when no policy applies, or its
calendar has no open time left to count.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError

from policies.models import SlaPolicy
from sla import deadlines
from tickets.models import Ticket, TicketPause

NO_POLICY = "deadline is required when no SLA policy applies"


def resolution_deadline(*, policy: SlaPolicy | None, start: datetime) -> datetime:
    """The resolution deadline `policy` sets for a ticket counted from `start`.

    ValidationError (a 400 in the API) when there is no policy, or its calendar has no
    open time left to count.
    """
    if policy is None:
        raise ValidationError({"deadline": NO_POLICY})
    try:
        return deadlines.resolution_deadline(
            policy.calendar.to_domain(), start=start, target=policy.resolution_target
        )
    except ValueError as exc:
        raise ValidationError(
            {"deadline": f"SLA policy {policy.name!r} cannot set a deadline: {exc}"}
        ) from exc


def first_response_due(*, policy: SlaPolicy | None, start: datetime) -> datetime | None:
    """The first-response deadline `policy` sets from `start`; None when it sets none."""
    if policy is None or policy.first_response_target is None:
        return None
    try:
        return deadlines.first_response_due(
            policy.calendar.to_domain(), start=start, target=policy.first_response_target
        )
    except ValueError as exc:
        raise ValidationError(
            {"priority": f"SLA policy {policy.name!r} cannot set a deadline: {exc}"}
        ) from exc


def resolution_deadline_of(ticket: Ticket) -> datetime:
    """The policy's resolution target from creation, less every pause so far."""
    policy = ticket.policy
    if policy is None:
        raise ValidationError({"deadline": NO_POLICY})
    pauses = list(TicketPause.objects.filter(ticket=ticket).values_list("started_at", "ended_at"))
    try:
        return deadlines.resolution_deadline(
            policy.calendar.to_domain(),
            start=ticket.created_at,
            target=policy.resolution_target,
            pauses=pauses,
        )
    except ValueError as exc:
        raise ValidationError(
            {"deadline": f"SLA policy {policy.name!r} cannot set a deadline: {exc}"}
        ) from exc
