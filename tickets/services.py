"""Ticket writes. Views, serializers and the admin call these; none holds SLA logic.

Deadlines come from here: a client's (`manual`, never moved by anything but the client) or
the ticket's SLA policy's (`policy`): the policy's targets in business time on its calendar
from the ticket's creation, resolution not counting the time the ticket waited on its
customer (pending), computed by tickets.policy_deadlines. Every change to a deadline is
recorded as an SlaEvent, the timeline GET /api/tickets/<id>/sla/ shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from notifications import outbox
from notifications.outbox import deliver_soon
from policies.models import SlaPolicy
from sla import deadlines
from sla.business_time import WALL_CLOCK
from sla.enums import ACTIVE_STATUSES, Metric, SlaState, Status
from tickets import assignment, engine, policy_deadlines
from tickets.models import DeadlineSource, SlaEvent, SlaEventKind, Ticket, TicketPause

# Fields a client may set; everything else on a ticket is managed here.
EDITABLE_FIELDS = frozenset(
    {"title", "description", "deadline", "status", "priority", *assignment.FIELDS}
)


class NothingToAcknowledge(Exception):
    """Only a breach of an open or pending ticket can be acknowledged."""


class AlreadyResponded(Exception):
    """A ticket's first response is recorded once."""


def create_ticket(
    *, owner: User, by: User | None = None, now: datetime | None = None, **fields: Any
) -> Ticket:
    """Create a ticket, set its deadlines, assess its SLA and queue its creation email.

    Without a `deadline`, the SLA policy of the ticket's priority (else the default
    policy) sets it: its resolution target in business time from `now`. A deadline given
    is kept as it is ("manual"), and no later priority change moves it. The policy's
    first-response target, if it has one, sets the first-response deadline either way.
    An `assignee` and `team` must suit each other and the caller `by` (tickets.assignment;
    None: a trusted caller).
    """
    _refuse_unknown(fields)
    now = now or timezone.now()
    ticket = Ticket(owner=owner, **fields)
    assignment.check(
        actor=by,
        owner_id=owner.pk,
        old_assignee_id=None,
        old_team=None,
        assignee=ticket.assignee,
        team=ticket.team,
    )
    ticket.created_at = now
    ticket.policy = SlaPolicy.objects.for_priority(ticket.priority)
    events: list[SlaEvent] = []
    if fields.get("deadline") is None:
        ticket.deadline = policy_deadlines.resolution_deadline(policy=ticket.policy, start=now)
        ticket.deadline_source = DeadlineSource.POLICY
        events.append(_event(now, SlaEventKind.POLICY_APPLIED, Metric.RESOLUTION, ticket))
    else:
        ticket.deadline_source = DeadlineSource.MANUAL
        events.append(_event(now, SlaEventKind.MANUAL_DEADLINE, Metric.RESOLUTION, ticket))
    ticket.first_response_due = policy_deadlines.first_response_due(policy=ticket.policy, start=now)
    if ticket.first_response_due is not None:
        events.append(_event(now, SlaEventKind.POLICY_APPLIED, Metric.FIRST_RESPONSE, ticket))
    if ticket.status not in ACTIVE_STATUSES:
        ticket.resolved_at = now
        ticket.first_responded_at = now  # as when resolving it later: no /respond/ after
    with transaction.atomic():
        ticket.save()
        if _pauses_resolution(ticket):
            _pause(ticket, now=now, events=events)
        engine.apply_change(ticket, now=now, created=True)
        _record(ticket, events)
        deliver_soon(ticket_id=ticket.pk, now=now)
    return ticket


def update_ticket(
    *, ticket: Ticket, by: User | None = None, now: datetime | None = None, **changes: Any
) -> Ticket:
    """Apply client changes to a ticket and bring its deadlines, SLA state and emails in line.

    The row is locked for the transaction, so a concurrent checker or edit either sees
    the ticket before this change or after it, never half of it. A change of assignee or
    team is checked against the caller `by` there too (tickets.assignment).
    """
    _refuse_unknown(changes)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if assignment.FIELDS & changes.keys():
            assignment.check(
                actor=by,
                owner_id=locked.owner_id,
                old_assignee_id=locked.assignee_id,
                old_team=locked.team,
                assignee=changes.get("assignee", locked.assignee),
                team=changes.get("team", locked.team),
            )
        was_active = locked.status in ACTIVE_STATUSES
        was_paused = locked.paused_at is not None
        old: dict[str, datetime | None] = {
            Metric.RESOLUTION: locked.deadline,
            Metric.FIRST_RESPONSE: locked.first_response_due,
        }
        priority_changed = "priority" in changes and changes["priority"] != locked.priority
        for field, value in changes.items():
            setattr(locked, field, value)
        events: list[SlaEvent] = []
        fresh: set[str] = set()
        if "deadline" in changes:  # sent, even unchanged: the client owns it from now on
            overridden = locked.deadline_source != DeadlineSource.MANUAL
            locked.deadline_source = DeadlineSource.MANUAL
            if locked.deadline != old[Metric.RESOLUTION]:
                fresh.add(Metric.RESOLUTION)
            if overridden or Metric.RESOLUTION in fresh:  # not for every PUT that resends it
                events.append(
                    _event(now, SlaEventKind.MANUAL_DEADLINE, Metric.RESOLUTION, locked, old)
                )
            if was_paused:  # a manual deadline is not paused: the pause ends here
                _resume(locked, now=now, events=events, extend=False)
        if priority_changed:
            fresh |= _reapply_policy(locked, now=now, events=events, before=old)
        if locked.paused_at is not None and not _pauses_resolution(locked):
            _resume(locked, now=now, events=events)
        elif locked.paused_at is None and _pauses_resolution(locked):
            _pause(locked, now=now, events=events)
        is_active = locked.status in ACTIVE_STATUSES
        if was_active and not is_active:
            locked.resolved_at = now
            if locked.first_responded_at is None:
                locked.first_responded_at = now  # resolving it answered the customer
            events.append(_event(now, SlaEventKind.RESOLVED, "", locked))
        elif is_active and not was_active:
            locked.resolved_at = None
            fresh.add(Metric.RESOLUTION)
            events.append(_event(now, SlaEventKind.REOPENED, "", locked))
        if locked.deadline != old[Metric.RESOLUTION]:
            locked.resolution_warning_sent_at = None
        engine.apply_change(locked, now=now, fresh=frozenset(fresh))
        _record(locked, events)
        deliver_soon(ticket_id=locked.pk, now=now)
    return locked


def _reapply_policy(
    ticket: Ticket, *, now: datetime, events: list[SlaEvent], before: dict[str, datetime | None]
) -> set[str]:
    """The priority changed: its policy's targets apply, from the ticket's creation, as if
    it had had this priority all along. Returns the metrics whose deadline moved."""
    ticket.policy = SlaPolicy.objects.for_priority(ticket.priority)
    if ticket.deadline_source == DeadlineSource.POLICY:
        ticket.deadline = policy_deadlines.resolution_deadline_of(ticket)
    if ticket.first_responded_at is None:
        ticket.first_response_due = policy_deadlines.first_response_due(
            policy=ticket.policy, start=ticket.created_at
        )
    detail = f"priority {ticket.priority}, policy {_policy_name(ticket)}"
    after: dict[str, datetime | None] = {
        Metric.RESOLUTION: ticket.deadline,
        Metric.FIRST_RESPONSE: ticket.first_response_due,
    }
    moved: set[str] = {metric for metric, deadline in after.items() if deadline != before[metric]}
    for metric in sorted(moved) or [""]:
        events.append(
            _event(now, SlaEventKind.PRIORITY_CHANGED, metric, ticket, before, detail=detail)
        )
    return moved


def follow_priority(*, ticket_id: int, moved: SlaPolicy, now: datetime) -> bool:
    """`moved` now covers another priority than the ticket's: the ticket takes the policy
    that applies to its priority (as a priority change would), or keeps its deadlines
    with no policy (as when a policy is deleted). A policy edit, not a client's: a breach
    that happened is kept. Returns whether the ticket had to move."""
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
        if locked is None or locked.policy_id != moved.pk or locked.priority == moved.priority:
            return False
        before: dict[str, datetime | None] = {
            Metric.RESOLUTION: locked.deadline,
            Metric.FIRST_RESPONSE: locked.first_response_due,
        }
        locked.policy = SlaPolicy.objects.for_priority(locked.priority)
        if locked.policy is not None:
            try:
                if locked.deadline_source == DeadlineSource.POLICY:
                    locked.deadline = policy_deadlines.resolution_deadline_of(locked)
                if locked.first_responded_at is None:
                    locked.first_response_due = policy_deadlines.first_response_due(
                        policy=locked.policy, start=locked.created_at
                    )
            except ValidationError:  # the new policy's calendar has no time left to count
                locked.deadline = before[Metric.RESOLUTION] or locked.deadline
                locked.first_response_due = before[Metric.FIRST_RESPONSE]
        detail = (
            f"policy {moved.name} moved to priority {moved.priority or 'default'}; "
            f"priority {locked.priority} now has policy {_policy_name(locked)}"
        )[:255]
        events = [
            _event(now, SlaEventKind.POLICY_EDITED, metric, locked, before, detail=detail)
            for metric, deadline in (
                (Metric.RESOLUTION, locked.deadline),
                (Metric.FIRST_RESPONSE, locked.first_response_due),
            )
            if deadline != before[metric]
        ] or [_event(now, SlaEventKind.POLICY_EDITED, "", locked, detail=detail)]
        engine.apply_change(locked, now=now)
        _record(locked, events)
    return True


def respond(*, ticket: Ticket, now: datetime | None = None) -> Ticket:
    """Record the ticket's first response (once): it meets, or misses, that deadline."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if locked.first_responded_at is not None:
            raise AlreadyResponded(
                f"The first response was recorded at {locked.first_responded_at.isoformat()}."
            )
        locked.first_responded_at = now
        engine.apply_change(locked, now=now)
        _record(locked, [_event(now, SlaEventKind.RESPONDED, Metric.FIRST_RESPONSE, locked)])
    return locked


def acknowledge(*, ticket: Ticket, user: User, now: datetime | None = None) -> Ticket:
    """Acknowledge the ticket's breached metrics: their repeats and later levels stop.

    Once per breach: acknowledging again changes nothing (the first acknowledgement is
    kept). A new deadline re-arms the escalation (tickets.engine.apply_change).
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        breached = _breaches(locked)
        if not breached:
            raise NothingToAcknowledge("Neither of the ticket's deadlines is breached.")
        since = locked.acknowledged_at
        if since is not None and all(since >= deadline for deadline in breached.values()):
            return locked
        locked.acknowledged_at = now
        locked.acknowledged_by = user
        engine.apply_change(locked, now=now)
        outbox.cancel_escalations(ticket_id=locked.pk, metrics=breached)
        who = f"by {user.get_username()}"
        _record(
            locked,
            [
                _event(now, SlaEventKind.ACKNOWLEDGED, metric, locked, detail=who)
                for metric in breached
            ],
        )
    return locked


def _breaches(ticket: Ticket) -> dict[str, datetime]:
    """The deadline of each metric an open or pending ticket has breached and not met."""
    if ticket.status not in ACTIVE_STATUSES:
        return {}
    found = {}
    if ticket.resolution_state == SlaState.BREACHED:
        found[str(Metric.RESOLUTION)] = ticket.deadline
    if (
        ticket.first_response_state == SlaState.BREACHED
        and ticket.first_responded_at is None
        and ticket.first_response_due is not None
    ):
        found[str(Metric.FIRST_RESPONSE)] = ticket.first_response_due
    return found


def delete_ticket(*, ticket: Ticket) -> None:
    # The ticket's row first, as every other writer takes it: the cascade deletes its
    # notifications before the ticket, and an edit beside it locks the ticket, then those
    # notifications. In opposite orders the two deadlocked (found by the fuzzing gate).
    with transaction.atomic():
        Ticket.objects.select_for_update().filter(pk=ticket.pk).exists()
        ticket.delete()


# --- pauses ------------------------------------------------------------------------------


def _pauses_resolution(ticket: Ticket) -> bool:
    """A pending ticket's policy deadline stops; a manual deadline is a fixed instant."""
    return ticket.status == Status.PENDING and ticket.deadline_source == DeadlineSource.POLICY


def _pause(ticket: Ticket, *, now: datetime, events: list[SlaEvent]) -> None:
    ticket.paused_at = now
    calendar_id = ticket.policy.calendar_id if ticket.policy is not None else None
    TicketPause.objects.create(ticket=ticket, started_at=now, calendar_id=calendar_id)
    events.append(_event(now, SlaEventKind.PAUSED, Metric.RESOLUTION, ticket))


def _resume(ticket: Ticket, *, now: datetime, events: list[SlaEvent], extend: bool = True) -> None:
    """End the running pause; the business time it lasted moves the policy deadline."""
    running = TicketPause.objects.filter(ticket=ticket, ended_at__isnull=True)
    pause = running.select_related("calendar").first()
    running.update(ended_at=now)
    ticket.paused_at = None
    before: dict[str, datetime | None] = {Metric.RESOLUTION: ticket.deadline}
    if extend and ticket.deadline_source == DeadlineSource.POLICY:
        if ticket.policy is not None:
            ticket.deadline = policy_deadlines.resolution_deadline_of(ticket)
        elif pause is not None:
            # The policy was deleted while the clock stood still: its deadline is kept, and
            # moved by the business time paused on the calendar the pause began on.
            calendar = pause.calendar.to_domain() if pause.calendar is not None else WALL_CLOCK
            ticket.deadline = deadlines.extended_by_pause(
                ticket.deadline, calendar=calendar, paused_at=pause.started_at, now=now
            )
    events.append(_event(now, SlaEventKind.RESUMED, Metric.RESOLUTION, ticket, before))


# --- the timeline -------------------------------------------------------------------------


def _event(
    at: datetime,
    kind: SlaEventKind,
    metric: str,
    ticket: Ticket,
    before: dict[str, datetime | None] | None = None,
    *,
    detail: str = "",
) -> SlaEvent:
    """An event about `metric` (or, with metric "", about the ticket as a whole)."""
    deadline = None
    if metric == Metric.RESOLUTION:
        deadline = ticket.deadline
    elif metric == Metric.FIRST_RESPONSE:
        deadline = ticket.first_response_due
    previous = (before or {}).get(metric)
    if not detail and ticket.policy_id is not None and kind == SlaEventKind.POLICY_APPLIED:
        detail = f"policy {_policy_name(ticket)}"
    return SlaEvent(
        at=at,
        kind=kind,
        metric=metric,
        deadline=deadline,
        previous_deadline=previous if previous != deadline else None,
        detail=detail,
    )


def _record(ticket: Ticket, events: list[SlaEvent]) -> None:
    for event in events:
        event.ticket = ticket
    SlaEvent.objects.bulk_create(events)


def _policy_name(ticket: Ticket) -> str:
    return ticket.policy.name if ticket.policy is not None else "none (no default policy)"


def _refuse_unknown(fields: dict[str, Any]) -> None:
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"not client-editable: {', '.join(sorted(unknown))}")
