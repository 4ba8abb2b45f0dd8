"""How each SLA policy (or none) measures a ticket: its calendar, targets and thresholds,
and whom its escalation policy tells.

The engine, the recompute and the explanation read policies through Clocks, once per
policy per pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings

from policies.models import SlaPolicy
from sla.business_time import WALL_CLOCK, Calendar
from sla.enums import Metric
from sla.rules import Thresholds
from tickets.escalation import Escalations, Levels


def warning_window() -> timedelta:
    return timedelta(minutes=settings.SLA_WARNING_MINUTES)


@dataclass(frozen=True)
class PolicyClock:
    """How one policy (or none) measures its tickets: a calendar, targets and thresholds."""

    calendar: Calendar
    resolution_target: timedelta | None
    first_response_target: timedelta | None
    lead_times: tuple[int, ...]
    percentages: tuple[float, ...]
    default_warning: timedelta
    # Its escalation policy; None: the default one (tickets.escalation).
    escalation_policy_id: int | None = None

    @classmethod
    def of(cls, policy: SlaPolicy | None, *, default_warning: timedelta) -> PolicyClock:
        if policy is None:
            return cls(WALL_CLOCK, None, None, (), (), default_warning)
        return cls(
            calendar=policy.calendar.to_domain(),
            resolution_target=policy.resolution_target,
            first_response_target=policy.first_response_target,
            lead_times=tuple(policy.warning_lead_times),
            percentages=tuple(policy.warning_percentages),
            default_warning=default_warning,
            escalation_policy_id=policy.escalation_policy_id,
        )

    def thresholds(self, target: timedelta | None) -> Thresholds:
        """Percentages count only with a target: a manual deadline has none."""
        found = Thresholds.of(
            self.calendar, lead_times=self.lead_times, percentages=self.percentages, target=target
        )
        if found.seconds_left:
            return found
        # A metric without thresholds of its own (or none that fits in its target) warns
        # SLA_WARNING_MINUTES before, if that is shorter than its target.
        return Thresholds.of(
            self.calendar, lead_times=[int(self.default_warning.total_seconds())], target=target
        )


class Clocks:
    """The policies one pass of the engine meets, each read from the database once."""

    def __init__(
        self, *, default_warning: timedelta | None = None, known: SlaPolicy | None = None
    ) -> None:
        """`known`: a policy the caller has already read (with its calendar), not read again."""
        self.default_warning = default_warning or warning_window()
        self._clocks: dict[int | None, PolicyClock] = {}
        self._thresholds: dict[tuple[int | None, str, bool], Thresholds] = {}
        self._escalations = Escalations()
        self._levels: dict[int | None, Levels] = {}
        if known is not None:
            self._clocks[known.pk] = PolicyClock.of(known, default_warning=self.default_warning)

    def remember(self, policies: Iterable[SlaPolicy]) -> None:
        """Policies the caller has read (with their calendars) in one query: the pages read
        a page's policies at once instead of one query per policy met."""
        for policy in policies:
            self._clocks[policy.pk] = PolicyClock.of(policy, default_warning=self.default_warning)

    def for_policy(self, policy_id: int | None) -> PolicyClock:
        clock = self._clocks.get(policy_id)
        if clock is None:
            policy = None
            if policy_id is not None:
                policy = SlaPolicy.objects.select_related("calendar").filter(pk=policy_id).first()
            clock = PolicyClock.of(policy, default_warning=self.default_warning)
            self._clocks[policy_id] = clock
        return clock

    def thresholds(
        self, policy_id: int | None, metric: str, *, policy_deadline: bool
    ) -> Thresholds:
        key = (policy_id, metric, policy_deadline)
        found = self._thresholds.get(key)
        if found is None:
            clock = self.for_policy(policy_id)
            if metric == Metric.FIRST_RESPONSE:
                target = clock.first_response_target
            else:
                target = clock.resolution_target if policy_deadline else None
            found = self._thresholds[key] = clock.thresholds(target)
        return found

    def levels(self, policy_id: int | None) -> Levels:
        """The escalation levels of the tickets of this SLA policy (or of none)."""
        found = self._levels.get(policy_id)
        if found is None:
            escalation_policy_id = self.for_policy(policy_id).escalation_policy_id
            found = self._levels[policy_id] = self._escalations.levels(escalation_policy_id)
        return found
