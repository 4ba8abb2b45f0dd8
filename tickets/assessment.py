"""A ticket's two metrics assessed at `now`, and the SLA columns that follow (no writes).

sla.rules.assess_metric for each metric in METRICS, on the ticket's facts as stored and
its policy's thresholds; tickets.engine writes the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sla.enums import Announcement, Metric, SlaState
from sla.escalation import Firing, due_firings
from sla.rules import MetricAssessment, MetricFacts, assess_metric
from tickets.clocks import Clocks
from tickets.facts import METRICS, MetricSla, SlaColumns, TicketFacts
from tickets.models import DeadlineSource


@dataclass(frozen=True)
class TicketAssessment:
    resolution: MetricAssessment
    first_response: MetricAssessment
    columns: SlaColumns
    # The breach escalation firings due now (sla.escalation), in order.
    firings: tuple[tuple[Metric, Firing], ...] = ()

    def of(self, metric: Metric) -> MetricAssessment:
        return self.resolution if metric == Metric.RESOLUTION else self.first_response

    def announcements(self) -> list[tuple[Metric, Announcement, int]]:
        """(metric, kind, threshold) of each email this assessment calls for."""
        found = []
        for metric, result in self.metrics():
            if result.announce is not None:
                threshold = (
                    result.warned_threshold if result.announce == Announcement.WARNING else 0
                )
                found.append((metric, result.announce, threshold or 0))
        return found

    def metrics(self) -> tuple[tuple[Metric, MetricAssessment], ...]:
        return tuple((m.metric, self.of(m.metric)) for m in METRICS)


def assess_ticket(
    facts: TicketFacts,
    *,
    clocks: Clocks,
    now: datetime,
    fresh: frozenset[str] = frozenset(),
) -> TicketAssessment:
    """Both metrics of a ticket, and the SLA columns they imply.

    `fresh` names the metrics whose earlier announcements no longer count (a new deadline
    set by a client or a priority change, a reopened ticket).
    """
    # Resolving or closing the ticket meets every metric not met before.
    closed_at = None if facts.active else (facts.resolved_at or now)
    policy_deadline = facts.deadline_source == DeadlineSource.POLICY
    results: list[MetricAssessment] = []
    written: list[MetricSla] = []
    running: list[datetime] = []
    checks: list[datetime] = []
    firings: list[tuple[Metric, Firing]] = []
    for columns in METRICS:
        metric = columns.metric
        stored = facts.stored(metric)
        forget = metric in fresh
        result = assess_metric(
            MetricFacts(
                stored.deadline,
                stored.met_at or closed_at,
                stored.paused,
                None if forget else stored.state or None,
                None if forget else stored.warning_threshold,
            ),
            thresholds=clocks.thresholds(facts.policy_id, metric, policy_deadline=policy_deadline),
            now=now,
        )
        results.append(result)
        breached_at = None if forget else stored.breached_at
        step = 0 if forget else stored.escalation_step
        if (
            result.state == SlaState.BREACHED
            and stored.deadline is not None
            and (stored.met_at or closed_at) is None
        ):
            step = _escalate(
                facts, metric, stored.deadline, step, clocks, now, forget, firings, checks
            )
        written.append(
            MetricSla(
                result.state,
                result.warned_threshold,
                _breached_at(result, breached_at, stored.deadline),
                step,
            )
        )
        if result.running and stored.deadline is not None:
            running.append(stored.deadline)
        if result.next_check_at is not None:
            checks.append(result.next_check_at)
    # In METRICS order.
    first_response, resolution = results
    return TicketAssessment(
        resolution=resolution,
        first_response=first_response,
        columns=SlaColumns(
            resolution=written[1],
            first_response=written[0],
            next_breach_at=min(running) if running else None,
            next_check_at=min(checks) if checks else None,
        ),
        firings=tuple(firings),
    )


def _escalate(
    facts: TicketFacts,
    metric: Metric,
    deadline: datetime,
    step: int,
    clocks: Clocks,
    now: datetime,
    forget: bool,
    firings: list[tuple[Metric, Firing]],
    checks: list[datetime],
) -> int:
    """A breached metric's escalation: add its due firings and its next check; its new step.

    An acknowledgement made since the breach (and not of an earlier deadline: `forget`)
    stops it.
    """
    specs = clocks.levels(facts.policy_id)
    if not specs:
        return step
    acknowledged = facts.acknowledged_at
    due = due_firings(
        tuple(spec.level for spec in specs),
        metric=metric,
        deadline=deadline,
        calendar=clocks.for_policy(facts.policy_id).calendar,
        step=step,
        now=now,
        acknowledged=not forget and acknowledged is not None and acknowledged >= deadline,
    )
    firings += [(metric, firing) for firing in due.fire]
    if due.next_at is not None:
        checks.append(due.next_at)
    return due.step


def _breached_at(
    result: MetricAssessment, breached_at: datetime | None, deadline: datetime | None
) -> datetime | None:
    if result.state != SlaState.BREACHED:
        return None
    return breached_at or deadline  # a breach keeps the moment it happened
