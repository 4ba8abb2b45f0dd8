"""Recompute on change: after a policy or calendar edit, the open tickets using it follow.

The edit only marks its policies (SlaPolicy.recompute_requested_at, in the edit's own
transaction, so a crash cannot lose it); the next SLA check, in whichever process runs it,
recomputes their open tickets here, in batches of one transaction each:

- deadlines the policy sets (first response until answered; resolution when it came from
  the policy, less the ticket's pauses) are computed anew on the policy as it is now;
- both metrics are assessed again without forgetting the past: a threshold already
  announced is not announced again, a breach that happened is kept and never announced
  twice, a threshold newly passed is announced, and undelivered warnings that no longer
  hold are cancelled;
- each moved deadline gets a timeline entry (policy_edited or calendar_edited).

Manual deadlines do not move, but the policy's new thresholds apply to them as well.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from policies.models import SlaPolicy
from sla import deadlines
from sla.enums import ACTIVE_STATUSES, Metric, SlaState
from tickets import services
from tickets.clocks import Clocks
from tickets.engine import apply_many
from tickets.facts import DEADLINE_FIELDS, FACT_FIELDS, SLA_FIELDS, TicketFacts
from tickets.models import DeadlineSource, SlaEvent, Ticket, TicketPause
from watchdog import bulk

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
# What a recompute reads of each ticket: the engine's facts first, then the rest of what
# it writes (the deadlines it sets anew, and the SLA columns), then the start.
READ_FIELDS = tuple(dict.fromkeys((*FACT_FIELDS, *SLA_FIELDS, "created_at")))
WRITTEN_FIELDS = (*DEADLINE_FIELDS, *SLA_FIELDS)
_WRITTEN_AT = tuple(READ_FIELDS.index(field) for field in WRITTEN_FIELDS)
_CREATED_AT = READ_FIELDS.index("created_at")
_FACTS = len(FACT_FIELDS)
EVENT_FIELDS = ("ticket_id", "at", "kind", "metric", "deadline", "previous_deadline", "detail")


def run_requested(*, now: datetime | None = None) -> int:
    """Recompute every policy whose recompute was requested; returns tickets recomputed."""
    done = 0
    for policy_id, requested_at, reason in SlaPolicy.objects.filter(
        recompute_requested_at__isnull=False
    ).values_list("pk", "recompute_requested_at", "recompute_reason"):
        done += recompute_policy(policy_id, now=now, reason=reason)
        # Cleared only if no edit came meanwhile: a later edit gets its own pass.
        SlaPolicy.objects.filter(pk=policy_id, recompute_requested_at=requested_at).update(
            recompute_requested_at=None
        )
    return done


def recompute_policy(
    policy_id: int, *, now: datetime | None = None, reason: str = "policy_edited"
) -> int:
    """Bring the open tickets of one policy in line with it; returns how many were read."""
    now = now or timezone.now()
    policy = SlaPolicy.objects.select_related("calendar").filter(pk=policy_id).first()
    if policy is None:
        return 0
    read, moved = _Job(policy, now=now, reason=reason).run()
    log.info(
        "SLA policy %s recomputed: %s open tickets, %s deadlines moved",
        policy.name,
        read,
        moved,
        extra={"policy_id": policy_id, "tickets": read, "deadlines_moved": moved},
    )
    return read


class _Job:
    """One policy's recompute: the policy as it is now, and the batches of its tickets."""

    def __init__(self, policy: SlaPolicy, *, now: datetime, reason: str) -> None:
        self.policy = policy
        self.now = now
        self.reason = reason
        self.calendar = policy.calendar.to_domain()
        self.clocks = Clocks(known=policy)
        self.detail = _detail(policy, reason)

    def run(self) -> tuple[int, int]:
        """The open tickets in id order, in batches of one transaction each; returns
        (tickets read, deadlines moved)."""
        read = moved = after_id = 0
        if self.policy.priority is not None:
            read = moved = self._let_go_of_other_priorities()
        while True:
            with transaction.atomic():
                tickets = Ticket.objects.filter(
                    policy_id=self.policy.pk, status__in=ACTIVE_STATUSES, pk__gt=after_id
                )
                batch = bulk.fetch(
                    tickets.order_by("pk")
                    .select_for_update()
                    .values_list(*READ_FIELDS)[:BATCH_SIZE]
                )
                if not batch:
                    return read, moved
                moved += self._batch(batch)
            read += len(batch)
            after_id = batch[-1][0]
            if len(batch) < BATCH_SIZE:
                return read, moved

    def _let_go_of_other_priorities(self) -> int:
        """A policy moved to another priority: the tickets of its old priority follow their
        priority to the policy that applies to it now (a ticket's policy is the one for
        its priority). Rare and per ticket, each in its own transaction."""
        strays = Ticket.objects.filter(
            policy_id=self.policy.pk, status__in=ACTIVE_STATUSES
        ).exclude(priority=self.policy.priority)
        followed = 0
        for ticket_id in strays.order_by("pk").values_list("pk", flat=True):
            followed += services.follow_priority(
                ticket_id=ticket_id, moved=self.policy, now=self.now
            )
        return followed

    def _batch(self, rows: list[tuple[Any, ...]]) -> int:
        """Recompute locked rows (READ_FIELDS); returns how many deadlines moved."""
        policy, calendar, now = self.policy, self.calendar, self.now
        stored = {row[0]: tuple(row[i] for i in _WRITTEN_AT) for row in rows}
        read = [(TicketFacts(*row[:_FACTS]), row[_CREATED_AT]) for row in rows]
        pauses = _pauses(
            [facts.id for facts, _ in read if facts.deadline_source == DeadlineSource.POLICY]
        )
        events: list[tuple[Any, ...]] = []
        recomputed: list[TicketFacts] = []
        for facts, created_at in read:
            deadline, first_response_due = facts.deadline, facts.first_response_due
            if facts.deadline_source == DeadlineSource.POLICY:
                deadline = deadlines.resolution_deadline(
                    calendar,
                    start=created_at,
                    target=policy.resolution_target,
                    pauses=pauses.get(facts.id, ()),
                )
            target = policy.first_response_target
            if facts.first_responded_at is None and (
                target is not None or facts.first_response_state != SlaState.BREACHED
            ):
                # A first response already missed keeps its deadline when the policy
                # drops the target: the breach stays on record.
                first_response_due = deadlines.first_response_due(
                    calendar, start=created_at, target=target
                )
            for metric, old, new in (
                (Metric.RESOLUTION, facts.deadline, deadline),
                (Metric.FIRST_RESPONSE, facts.first_response_due, first_response_due),
            ):
                if old != new:
                    events.append((facts.id, now, self.reason, metric, new, old, self.detail))
            recomputed.append(facts.with_deadlines(deadline, first_response_due))
        # Rows whose deadlines and states come out as stored are not written.
        apply_many(recomputed, now=now, clocks=self.clocks, write_deadlines=True, stored=stored)
        bulk.insert_rows(SlaEvent, EVENT_FIELDS, events)
        return len(events)


def _pauses(ticket_ids: list[int]) -> dict[int, list[tuple[datetime, datetime | None]]]:
    found: dict[int, list[tuple[datetime, datetime | None]]] = {}
    if not ticket_ids:
        return found
    rows = bulk.fetch(
        TicketPause.objects.filter(ticket_id__in=bulk.ids_in(ticket_ids))
        .order_by("ticket_id", "started_at", "id")
        .values_list("ticket_id", "started_at", "ended_at")
    )
    for ticket_id, started, ended in rows:
        found.setdefault(ticket_id, []).append((started, ended))
    return found


def _detail(policy: SlaPolicy, reason: str) -> str:
    """The timeline text of a deadline this recompute moves."""
    where = f"calendar {policy.calendar.name}" if reason == "calendar_edited" else "policy"
    return (
        f"{where} {policy.name if where == 'policy' else ''}".strip()
        + " edited; deadline recomputed"
    )


def _event(
    ticket_id: int,
    at: datetime,
    reason: str,
    metric: str,
    old: Any,
    new: Any,
    policy: SlaPolicy,
) -> SlaEvent:
    return SlaEvent(
        ticket_id=ticket_id,
        at=at,
        kind=reason,
        metric=metric,
        deadline=new,
        previous_deadline=old,
        detail=_detail(policy, reason),
    )
