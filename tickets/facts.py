"""The engine's typed rows: what it reads of a ticket (TicketFacts) and writes (SlaColumns).

Plain Python, no ORM: the engine builds TicketFacts straight from `values_list` rows of
FACT_FIELDS, and writes SlaColumns.row() as SLA_FIELDS in bulk. METRICS describes where
each of the two metrics lives on a ticket row, so that the engine handles both in one loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sla.enums import ACTIVE_STATUSES, Metric


@dataclass(frozen=True)
class MetricColumns:
    """Where one metric lives on a ticket row: its deadline and the SLA columns of it.

    Each metric's columns carry its name (`resolution_*`, `first_response_*`), except the
    resolution deadline, which is the ticket's `deadline` (the API's name for it); the
    engine reaches both metrics through these, never by name.
    """

    metric: Metric
    deadline: str
    state: str
    warning_threshold: str
    breached_at: str
    escalation_step: str

    @property
    def sla_fields(self) -> tuple[str, str, str, str]:
        return (self.state, self.warning_threshold, self.breached_at, self.escalation_step)


RESOLUTION = MetricColumns(
    Metric.RESOLUTION,
    deadline="deadline",
    state="resolution_state",
    warning_threshold="resolution_warning_threshold",
    breached_at="resolution_breached_at",
    escalation_step="resolution_escalation_step",
)
FIRST_RESPONSE = MetricColumns(
    Metric.FIRST_RESPONSE,
    deadline="first_response_due",
    state="first_response_state",
    warning_threshold="first_response_warning_threshold",
    breached_at="first_response_breached_at",
    escalation_step="first_response_escalation_step",
)
# In the order a ticket's emails are queued: first response, then resolution.
METRICS = (FIRST_RESPONSE, RESOLUTION)


class StoredMetric(NamedTuple):
    """One metric of a ticket as stored, before this assessment."""

    deadline: datetime | None
    state: str
    warning_threshold: int | None
    breached_at: datetime | None
    # When the metric was met on its own (a first response); closing the ticket meets both.
    met_at: datetime | None
    paused: bool
    # How many of its breach escalation's firings have fired (sla.escalation).
    escalation_step: int


class TicketFacts(NamedTuple):
    """What the engine reads of a ticket (FACT_FIELDS, in this order), as stored."""

    id: int
    status: str
    policy_id: int | None
    deadline_source: str
    deadline: datetime | None
    resolved_at: datetime | None
    resolution_state: str
    resolution_warning_threshold: int | None
    resolution_breached_at: datetime | None
    paused_at: datetime | None
    first_response_due: datetime | None
    first_responded_at: datetime | None
    first_response_state: str
    first_response_warning_threshold: int | None
    first_response_breached_at: datetime | None
    # Escalation (sla.escalation); defaults, so that a benchmark's hand-made facts need
    # not spell them.
    resolution_escalation_step: int = 0
    first_response_escalation_step: int = 0
    acknowledged_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def with_deadlines(
        self, deadline: datetime | None, first_response_due: datetime | None
    ) -> TicketFacts:
        """These facts with new deadlines (a recompute's); positional, as _replace is slow."""
        if deadline == self.deadline and first_response_due == self.first_response_due:
            return self
        return TicketFacts(
            self.id,
            self.status,
            self.policy_id,
            self.deadline_source,
            deadline,
            self.resolved_at,
            self.resolution_state,
            self.resolution_warning_threshold,
            self.resolution_breached_at,
            self.paused_at,
            first_response_due,
            self.first_responded_at,
            self.first_response_state,
            self.first_response_warning_threshold,
            self.first_response_breached_at,
            self.resolution_escalation_step,
            self.first_response_escalation_step,
            self.acknowledged_at,
        )

    def stored(self, metric: Metric) -> StoredMetric:
        # Positional, in StoredMetric's field order: this runs twice per ticket assessed.
        if metric == Metric.RESOLUTION:
            return StoredMetric(
                self.deadline,
                self.resolution_state,
                self.resolution_warning_threshold,
                self.resolution_breached_at,
                None,
                self.paused_at is not None,
                self.resolution_escalation_step,
            )
        return StoredMetric(
            self.first_response_due,
            self.first_response_state,
            self.first_response_warning_threshold,
            self.first_response_breached_at,
            self.first_responded_at,
            False,
            self.first_response_escalation_step,
        )


class MetricSla(NamedTuple):
    """What the engine writes of one metric."""

    state: str
    warning_threshold: int | None
    breached_at: datetime | None
    escalation_step: int = 0


@dataclass(frozen=True, slots=True)
class SlaColumns:
    """What the engine writes of a ticket (SLA_FIELDS): the SLA columns, and no others."""

    resolution: MetricSla
    first_response: MetricSla
    next_breach_at: datetime | None
    next_check_at: datetime | None

    def row(self) -> tuple[Any, ...]:
        """The values in SLA_FIELDS order."""
        r, f = self.resolution, self.first_response
        return (
            r.state,
            r.warning_threshold,
            r.breached_at,
            r.escalation_step,
            f.state,
            f.warning_threshold,
            f.breached_at,
            f.escalation_step,
            self.next_breach_at,
            self.next_check_at,
        )


FACT_FIELDS = TicketFacts._fields
SLA_FIELDS = (*RESOLUTION.sla_fields, *FIRST_RESPONSE.sla_fields, "next_breach_at", "next_check_at")
# The deadlines a recompute writes beside the SLA columns.
DEADLINE_FIELDS = (RESOLUTION.deadline, FIRST_RESPONSE.deadline)
