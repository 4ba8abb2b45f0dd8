"""Why a ticket's deadlines are what they are, and where it stands (GET /api/tickets/<id>/sla/).

Read-only: `explain_ticket` reads what the explanation needs, `explain` puts it together.
Business time is counted on the calendar the engine uses for the ticket (its policy's;
wall-clock time when it has none), so the numbers here are the ones the engine acts on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from policies.models import SlaPolicy
from sla.business_time import Calendar
from sla.enums import Metric
from sla.escalation import breach_firings
from sla.rules import Thresholds
from tickets.clocks import Clocks
from tickets.models import DeadlineSource, SlaEvent, Ticket

Pause = tuple[datetime, datetime | None]


def explain_ticket(ticket: Ticket, *, now: datetime) -> dict[str, Any]:
    """The explanation of `ticket` at `now` (SlaExplanationSerializer's shape)."""
    policy = None
    if ticket.policy_id is not None:
        policy = SlaPolicy.objects.select_related("calendar").filter(pk=ticket.policy_id).first()
    return explain(
        ticket,
        policy=policy,
        pauses=list(
            ticket.pauses.order_by("started_at", "id").values_list("started_at", "ended_at")
        ),
        events=list(ticket.sla_events.order_by("at", "id")),
        clocks=Clocks(known=policy),
        now=now,
    )


def explain(
    ticket: Ticket,
    *,
    policy: SlaPolicy | None,
    pauses: Sequence[Pause],
    events: Sequence[SlaEvent],
    clocks: Clocks,
    now: datetime,
    escalation: bool = True,
) -> dict[str, Any]:
    """`escalation` False leaves out the escalation firings (the board shows none)."""
    clock = clocks.for_policy(ticket.policy_id)
    policy_deadline = ticket.deadline_source == DeadlineSource.POLICY
    first_response = _metric(
        calendar=clock.calendar,
        target=clock.first_response_target if ticket.first_response_due else None,
        deadline=ticket.first_response_due,
        state=ticket.first_response_state,
        started_at=ticket.created_at,
        met_at=ticket.first_responded_at,
        pauses=(),
        paused_at=None,
        thresholds=clocks.thresholds(ticket.policy_id, Metric.FIRST_RESPONSE, policy_deadline=True),
        now=now,
    )
    resolution = _metric(
        calendar=clock.calendar,
        target=clock.resolution_target if policy_deadline else None,
        deadline=ticket.deadline,
        state=ticket.resolution_state,
        started_at=ticket.created_at,
        met_at=ticket.resolved_at,
        pauses=pauses,
        paused_at=ticket.paused_at,
        thresholds=clocks.thresholds(
            ticket.policy_id, Metric.RESOLUTION, policy_deadline=policy_deadline
        ),
        now=now,
    )
    if escalation:
        first_response["escalation"] = _escalation(
            ticket, clocks, Metric.FIRST_RESPONSE, ticket.first_response_due
        )
        resolution["escalation"] = _escalation(ticket, clocks, Metric.RESOLUTION, ticket.deadline)
    resolution["paused"] = ticket.paused_at is not None
    resolution["pauses"] = [
        {
            "started_at": started,
            "ended_at": ended,
            "business_seconds": _seconds(clock.calendar.between(started, ended or now)),
        }
        for started, ended in pauses
    ]
    calendar = policy.calendar if policy is not None else None
    return {
        "ticket": ticket.pk,
        "at": now,
        "policy": {"id": policy.pk, "name": policy.name} if policy is not None else None,
        "calendar": (
            {"id": calendar.pk, "name": calendar.name, "time_zone": calendar.time_zone}
            if calendar is not None
            else None
        ),
        "deadline_source": ticket.deadline_source,
        "next_breach_at": ticket.next_breach_at,
        Metric.FIRST_RESPONSE.value: first_response,
        Metric.RESOLUTION.value: resolution,
        "acknowledged": (
            {"at": ticket.acknowledged_at, "by": ticket.acknowledged_by_id}
            if ticket.acknowledged_at is not None
            else None
        ),
        "timeline": [
            {
                "at": event.at,
                "kind": event.kind,
                "metric": event.metric,
                "deadline": event.deadline,
                "previous_deadline": event.previous_deadline,
                "detail": event.detail,
            }
            for event in events
        ],
    }


def _escalation(
    ticket: Ticket, clocks: Clocks, metric: Metric, deadline: datetime | None
) -> list[dict[str, Any]]:
    """The breach firings of this deadline, each marked fired or still to come."""
    specs = clocks.levels(ticket.policy_id)
    if deadline is None or not specs:
        return []
    step = (
        ticket.resolution_escalation_step
        if metric == Metric.RESOLUTION
        else ticket.first_response_escalation_step
    )
    firings = breach_firings(
        tuple(spec.level for spec in specs),
        metric=metric,
        deadline=deadline,
        calendar=clocks.for_policy(ticket.policy_id).calendar,
    )
    return [
        {"level": f.level, "repeat": f.repeat, "at": f.at, "fired": index < step}
        for index, f in enumerate(firings)
    ]


def _metric(
    *,
    calendar: Calendar,
    target: timedelta | None,
    deadline: datetime | None,
    state: str,
    started_at: datetime,
    met_at: datetime | None,
    pauses: Sequence[Pause],
    paused_at: datetime | None,
    thresholds: Thresholds,
    now: datetime,
) -> dict[str, Any]:
    """One metric. Its clock reads at `met_at` once met, at `paused_at` while paused (the
    time left is frozen), else at `now`; a negative `remaining_seconds` is how late."""
    found: dict[str, Any] = {
        "target": _iso_duration(target) if target is not None else None,
        "target_seconds": _seconds(target) if target is not None else None,
        "deadline": deadline,
        "state": state,
        "met_at": met_at,
        "elapsed_seconds": None,
        "remaining_seconds": None,
        "thresholds": [],
    }
    if deadline is None:
        return found
    reading = met_at or paused_at or now
    waited = sum(
        (
            calendar.between(max(started, started_at), min(ended or reading, reading))
            for started, ended in pauses
        ),
        timedelta(0),
    )
    found["elapsed_seconds"] = _seconds(calendar.between(started_at, reading) - waited)
    if reading <= deadline:
        found["remaining_seconds"] = _seconds(calendar.between(reading, deadline))
    else:
        found["remaining_seconds"] = -_seconds(calendar.between(deadline, reading))
    found["thresholds"] = [
        {"seconds_left": seconds, "at": at, "passed": at <= reading}
        for seconds, at in thresholds.passed_at(deadline)
    ]
    return found


def _seconds(duration: timedelta) -> int:
    return int(duration.total_seconds())


def _iso_duration(duration: timedelta) -> str:
    """ISO 8601 in its shortest form: PT4H, P1DT30M, PT0S."""
    days = duration.days
    seconds = duration.seconds + duration.microseconds / 1_000_000
    hours, rest = divmod(int(seconds), 3600)
    minutes = rest // 60
    left = seconds - hours * 3600 - minutes * 60
    clock = "".join(
        f"{value}{unit}"
        for value, unit in ((hours, "H"), (minutes, "M"), (f"{left:g}", "S"))
        if value not in (0, "0")
    )
    text = f"P{days}D" if days else "P"
    if clock or not days:
        text += f"T{clock or '0S'}"
    return text
