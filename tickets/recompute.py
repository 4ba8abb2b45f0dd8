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
from tickets.engine import FACT_FIELDS, Clocks, apply_many
from tickets.models import DeadlineSource, SlaEvent, Ticket, TicketPause
from tickets.sla import ACTIVE_STATUSES, Metric, resolution_deadline

log = logging.getLogger(__name__)

BATCH_SIZE = 2000


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
    calendar = policy.calendar.to_domain()
    clocks = Clocks()
    read = moved = 0
    after_id = 0
    while True:
        with transaction.atomic():
            batch = list(
                Ticket.objects.filter(
                    policy_id=policy_id, status__in=ACTIVE_STATUSES, pk__gt=after_id
                )
                .order_by("pk")
                .select_for_update()
                .values_list(*FACT_FIELDS, "created_at")[:BATCH_SIZE]
            )
            if not batch:
                break
            rows = [dict(zip((*FACT_FIELDS, "created_at"), row, strict=True)) for row in batch]
            pauses = _pauses(
                [r["id"] for r in rows if r["deadline_source"] == DeadlineSource.POLICY]
            )
            events = []
            for row in rows:
                before = (row["deadline"], row["first_response_due"])
                if row["deadline_source"] == DeadlineSource.POLICY:
                    row["deadline"] = resolution_deadline(
                        calendar,
                        start=row["created_at"],
                        target=policy.resolution_target,
                        pauses=pauses.get(row["id"], ()),
                    )
                if row["first_responded_at"] is None:
                    target = policy.first_response_target
                    row["first_response_due"] = (
                        None if target is None else calendar.add(row["created_at"], target)
                    )
                for metric, old, new in (
                    (Metric.RESOLUTION, before[0], row["deadline"]),
                    (Metric.FIRST_RESPONSE, before[1], row["first_response_due"]),
                ):
                    if old != new:
                        events.append(_event(row["id"], now, reason, metric, old, new, policy))
            apply_many(
                rows, now=now, clocks=clocks, extra_fields=("deadline", "first_response_due")
            )
            SlaEvent.objects.bulk_create(events, batch_size=1000)
            moved += len(events)
        read += len(rows)
        after_id = rows[-1]["id"]
    log.info(
        "SLA policy %s recomputed: %s open tickets, %s deadlines moved",
        policy.name,
        read,
        moved,
        extra={"policy_id": policy_id, "tickets": read, "deadlines_moved": moved},
    )
    return read


def _pauses(ticket_ids: list[int]) -> dict[int, list[tuple[datetime, datetime | None]]]:
    found: dict[int, list[tuple[datetime, datetime | None]]] = {}
    if not ticket_ids:
        return found
    rows = (
        TicketPause.objects.filter(ticket_id__in=ticket_ids)
        .order_by("ticket_id", "started_at", "id")
        .values_list("ticket_id", "started_at", "ended_at")
    )
    for ticket_id, started, ended in rows:
        found.setdefault(ticket_id, []).append((started, ended))
    return found


def _event(
    ticket_id: int,
    at: datetime,
    reason: str,
    metric: str,
    old: Any,
    new: Any,
    policy: SlaPolicy,
) -> SlaEvent:
    where = f"calendar {policy.calendar.name}" if reason == "calendar_edited" else "policy"
    return SlaEvent(
        ticket_id=ticket_id,
        at=at,
        kind=reason,
        metric=metric,
        deadline=new,
        previous_deadline=old,
        detail=f"{where} {policy.name if where == 'policy' else ''}".strip()
        + " edited; deadline recomputed",
    )
