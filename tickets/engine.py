"""The SLA engine's write path: every SLA state change, and the emails it calls for.

Three callers, one rule (tickets.assessment: sla.rules.assess_metric for each of a
ticket's two metrics), and this module the one writer of the SLA columns:
- `apply_change`, inside the transaction of an API or admin edit;
- `run_transitions`, the periodic check, for the tickets whose `next_check_at` is due;
- tickets.recompute, after a policy or calendar edit, for the open tickets using it.

A state change and the notifications it calls for are written in one transaction, and a
notification is unique per ticket, metric, kind, deadline and threshold
(notifications.outbox), so a ticket is announced once however many checkers and editors
race. Checkers lock the rows they take with SKIP LOCKED on PostgreSQL, so they share the
work instead of waiting on each other; on SQLite, transactions begin IMMEDIATE and so run
one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from notifications import outbox
from notifications.models import Notification
from sla.enums import Announcement, Metric
from sla.escalation import Trigger
from tickets import escalation
from tickets.assessment import TicketAssessment, assess_ticket
from tickets.clocks import Clocks
from tickets.facts import (
    DEADLINE_FIELDS,
    FACT_FIELDS,
    SLA_FIELDS,
    TicketFacts,
)
from tickets.models import Ticket
from watchdog import bulk


def facts_of(ticket: Ticket) -> TicketFacts:
    return TicketFacts(*(getattr(ticket, field) for field in FACT_FIELDS))


def apply_change(
    ticket: Ticket,
    *,
    now: datetime,
    fresh: frozenset[str] = frozenset(),
    created: bool = False,
    clocks: Clocks | None = None,
) -> None:
    """Recompute the SLA fields of a ticket being saved, and queue what it announces.

    Call inside the transaction that saves the ticket, with the row locked. `created`
    queues the creation email first, so it arrives before any SLA email.
    """
    if clocks is None:
        # The policy the caller already loaded (creation, a priority change) is not read
        # again; otherwise Clocks reads it with its calendar in one query.
        cached = Ticket.policy.is_cached(ticket) and ticket.policy_id is not None
        clocks = Clocks(known=ticket.policy if cached else None)
    if fresh:
        # A new deadline re-arms the escalation an acknowledgement stopped.
        ticket.acknowledged_at = None
        ticket.acknowledged_by = None
    result = assess_ticket(facts_of(ticket), clocks=clocks, now=now, fresh=fresh)
    for field, value in zip(SLA_FIELDS, result.columns.row(), strict=True):
        setattr(ticket, field, value)
    ticket.save_assessed()
    facts = facts_of(ticket)
    rows: list[outbox.Row] = []
    if created:
        rows.append((ticket.pk, Metric.RESOLUTION, Announcement.CREATED, ticket.deadline, 0))
    rows += _announced(facts, result)
    _queue(rows, {ticket.pk: (facts, result)}, clocks=clocks, now=now)
    outbox.cancel_stale({ticket.pk: _standing(facts, result, fresh)})


def _queue(
    rows: list[outbox.Row],
    assessed: Mapping[int, tuple[TicketFacts, TicketAssessment]],
    *,
    clocks: Clocks,
    now: datetime,
) -> None:
    """Queue the seed's announcements and what the tickets' escalation levels fire.

    A ticket whose escalation policy has levels tells its team's endpoints what those
    levels say; one without (no policy, or no default) copies its warnings and misses to
    them, as before escalation policies existed.
    """
    announcing = {row[0] for row in rows if row[2] != Announcement.CREATED}
    announcing.update(pk for pk, (_, result) in assessed.items() if result.firings)
    escalating = {pk for pk in announcing if clocks.levels(assessed[pk][0].policy_id)}
    if not escalating:
        outbox.enqueue(rows, now=now)
        return
    outbox.enqueue([r for r in rows if r[0] not in escalating], now=now)
    outbox.enqueue([r for r in rows if r[0] in escalating], now=now, team_endpoints=False)
    firings: list[escalation.Firing] = []
    for pk in sorted(escalating):
        firings += _firings(*assessed[pk], clocks)
    escalation.queue(firings, now=now)


def _firings(
    facts: TicketFacts, result: TicketAssessment, clocks: Clocks
) -> list[escalation.Firing]:
    """The levels to send now: the warning levels with each warning announced, and the
    breach firings due (TicketAssessment.firings)."""
    specs = clocks.levels(facts.policy_id)
    by_number = {spec.level.number: spec for spec in specs}
    found = []
    for metric, kind, threshold in result.announcements():
        deadline = facts.stored(metric).deadline
        if kind != Announcement.WARNING or deadline is None:
            continue
        found += [
            escalation.Firing(facts.id, metric, kind, deadline, threshold, spec, 0)
            for spec in specs
            if spec.level.trigger == Trigger.WARNING and spec.level.applies_to(metric)
        ]
    for metric, firing in result.firings:
        deadline = facts.stored(metric).deadline
        spec = by_number.get(firing.level)
        if deadline is not None and spec is not None:
            found.append(
                escalation.Firing(
                    facts.id, metric, Announcement.MISSED, deadline, 0, spec, firing.repeat
                )
            )
    return found


def _announced(facts: TicketFacts, result: TicketAssessment) -> list[outbox.Row]:
    # Only a metric with a deadline announces anything.
    return [
        (facts.id, metric, kind, deadline, threshold)
        for metric, kind, threshold in result.announcements()
        if (deadline := facts.stored(metric).deadline) is not None
    ]


def _standing(
    facts: TicketFacts, result: TicketAssessment, fresh: frozenset[str]
) -> outbox.Standing:
    """What the outbox needs to tell which undelivered emails of a ticket still hold."""
    return {
        metric: outbox.MetricStanding(
            active=facts.active,
            state=assessed.state,
            warned_threshold=assessed.warned_threshold,
            deadline=facts.stored(metric).deadline,
            fresh=metric in fresh,
        )
        for metric, assessed in result.metrics()
    }


def apply_many(
    rows: Sequence[TicketFacts],
    *,
    now: datetime,
    clocks: Clocks,
    write_deadlines: bool = False,
    stored: Mapping[int, tuple[Any, ...]] | None = None,
) -> int:
    """Assess tickets (read with FACT_FIELDS, and locked), write them back in one statement,
    queue their emails and cancel what no longer holds. Returns how many changed state.

    `write_deadlines` writes the rows' deadlines (DEADLINE_FIELDS) as well: a recompute's
    new ones. `stored`, by ticket id, holds the values of the columns written as read: a
    ticket whose values come out the same is not written (a recompute leaves most rows as
    they are when an edit moves few deadlines).
    """
    if not rows:
        return 0
    changed = 0
    writes = []
    emails: list[outbox.Row] = []
    assessed: dict[int, tuple[TicketFacts, TicketAssessment]] = {}
    for facts in rows:
        result = assess_ticket(facts, clocks=clocks, now=now)
        if (result.resolution.state, result.first_response.state) != (
            facts.resolution_state,
            facts.first_response_state,
        ):
            changed += 1
        values = result.columns.row()
        if write_deadlines:
            values = (facts.deadline, facts.first_response_due, *values)
        if stored is None or stored[facts.id] != values:
            writes.append((facts.id, *values))
        emails += _announced(facts, result)
        assessed[facts.id] = (facts, result)
    written = (*DEADLINE_FIELDS, *SLA_FIELDS) if write_deadlines else SLA_FIELDS
    bulk.update_rows(Ticket, written, writes)
    _queue(emails, assessed, clocks=clocks, now=now)
    outbox.cancel_stale(_Standings(assessed))
    return changed


class _Standings(Mapping[int, outbox.Standing]):
    """Each ticket's standing, built only for the few the outbox asks about: the tickets
    with undelivered emails."""

    def __init__(self, assessed: dict[int, tuple[TicketFacts, TicketAssessment]]) -> None:
        self._assessed = assessed

    def __getitem__(self, ticket_id: int) -> outbox.Standing:
        facts, result = self._assessed[ticket_id]
        return _standing(facts, result, frozenset())

    def __iter__(self) -> Iterator[int]:
        return iter(self._assessed)

    def __len__(self) -> int:
        return len(self._assessed)


def read_facts(queryset: Any) -> list[TicketFacts]:
    return [TicketFacts(*row) for row in bulk.fetch(queryset.values_list(*FACT_FIELDS))]


def plan_transitions(
    *,
    now: datetime,
    limit: int,
    ticket_ids: list[int] | None = None,
    lock: bool = False,
    due_only: bool = True,
) -> list[TicketFacts]:
    """The due tickets' facts, soonest first (the check's read half).

    With `ticket_ids` and `due_only=False`, those tickets whether due or not: assessing a
    ticket that is not due changes nothing and announces nothing already announced.
    """
    due = Ticket.objects.due(now) if due_only else Ticket.objects.all()
    if ticket_ids is not None:
        due = due.filter(pk__in=ticket_ids)
    elif not due_only:
        raise ValueError("due_only=False needs ticket_ids")
    if lock:
        due = due.select_for_update(skip_locked=True)
    return read_facts(due.order_by("next_check_at")[:limit])


def preview(*, now: datetime, limit: int) -> list[tuple[TicketFacts, TicketAssessment]]:
    """What a check at `now` would do to the due tickets, changing nothing (--dry-run)."""
    clocks = Clocks()
    return [
        (facts, assess_ticket(facts, clocks=clocks, now=now))
        for facts in plan_transitions(now=now, limit=limit)
    ]


def run_transitions(
    *,
    now: datetime | None = None,
    batch_size: int = 1000,
    ticket_ids: list[int] | None = None,
    due_only: bool = True,
) -> int:
    """Move every due ticket to its current SLA state; returns how many changed state.

    Works in batches, one transaction each, so a long backlog never holds locks for long
    and a crash loses at most one uncommitted batch, which the next run redoes.
    """
    now = now or timezone.now()
    clocks = Clocks()
    changed = 0
    while True:
        with transaction.atomic():
            rows = plan_transitions(
                now=now, limit=batch_size, ticket_ids=ticket_ids, lock=True, due_only=due_only
            )
            if not rows:
                return changed
            changed += apply_many(rows, now=now, clocks=clocks)
        if len(rows) < batch_size or not due_only:
            return changed


def stamp_warnings_sent(delivered: Sequence[Notification]) -> None:
    """Set `resolution_warning_sent_at` on the tickets of the resolution warnings just delivered.

    Delivery calls this after each batch (tickets.checker.deliver_due passes it on) with
    the rows the channel accepted, already marked sent. One statement per batch instead
    of one per warning (a round trip saved per warning), each ticket getting its warning's
    `sent_at`, and only while the ticket still has the deadline that warning was about.
    After the rows, never before: a crash in between leaves a ticket saying "not warned"
    about a warning that went out, never the reverse. The row, not this stamp, decides
    whether an email is sent.
    """
    # resolution_warning_sent_at is about the resolution deadline.
    warned = [
        n for n in delivered if n.kind == Announcement.WARNING and n.metric == Metric.RESOLUTION
    ]
    if not warned:
        return
    sent = Notification.objects.filter(
        pk__in=[n.pk for n in warned],
        ticket_id=OuterRef("pk"),
        deadline=OuterRef("deadline"),
        sent_at__isnull=False,
    )
    Ticket.objects.filter(
        Exists(sent),
        pk__in={n.ticket_id for n in warned},
        resolution_warning_sent_at__isnull=True,
    ).update(resolution_warning_sent_at=Subquery(sent.order_by("sent_at").values("sent_at")[:1]))
