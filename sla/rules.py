"""SLA rules: pure functions of a ticket's facts and `now`, with no database access.

A ticket has up to two metrics, each with its own deadline: *first response* (until someone
responds) and *resolution* (until it is resolved or closed). A metric that is running is
`on_track` until it passes its first warning threshold, `at_risk` from then on and
`breached` from its deadline on; a resolution clock stopped while the ticket waits on the
customer is `paused`. A metric met in time is `achieved`; one met late stays `breached`.

Warning thresholds are amounts of business time left before the deadline (a policy's lead
times, and its percentages of the target turned into time left), counted on the metric's
calendar. Each fires once per deadline: when a check finds several newly passed at once
(the ticket was created late, or the checker was behind), only the latest is announced.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sla.business_time import Calendar
from sla.enums import RUNNING_STATES, UNTRACKED, Announcement, SlaState


@dataclass(frozen=True)
class Thresholds:
    """When a metric warns: business seconds left before its deadline, on a calendar."""

    calendar: Calendar
    # Distinct, positive, largest first (the first to be passed comes first).
    seconds_left: tuple[int, ...]

    @classmethod
    def of(
        cls,
        calendar: Calendar,
        *,
        lead_times: Iterable[int],
        percentages: Iterable[float] = (),
        target: timedelta | None = None,
    ) -> "Thresholds":
        """Lead times (seconds before the deadline) and percentages of `target` elapsed.

        With a target, a lead time as long as the target or longer is dropped: it would
        be passed the moment the clock starts, a warning with the creation email that
        nobody chose. Without one (a deadline a client set), it is kept, as the
        original rule had it: a ticket created inside the warning window is warned.
        """
        left = {int(seconds) for seconds in lead_times}
        longest = math.inf
        if target is not None:
            longest = target.total_seconds()
            left |= {round(longest * (100 - percent) / 100) for percent in percentages}
        kept = (s for s in left if 0 < s < longest)
        return cls(calendar, tuple(sorted(kept, reverse=True)))

    def passed_at(self, deadline: datetime) -> list[tuple[int, datetime]]:
        """Each threshold with the instant it is passed, in the order they are passed."""
        return [
            (seconds, self.calendar.subtract(deadline, timedelta(seconds=seconds)))
            for seconds in self.seconds_left
        ]


@dataclass(frozen=True)
class MetricFacts:
    """What the rules need to know about one metric of one ticket."""

    deadline: datetime | None
    # When the target was met (first response, resolution); None while it runs.
    met_at: datetime | None = None
    paused: bool = False
    # The state assessed last time, or None when earlier announcements no longer count: the
    # ticket is new, was reopened, or a client or a priority change set a new deadline.
    previous_state: str | None = None
    # The latest warning threshold announced for this deadline (seconds left), if any.
    warned_threshold: int | None = None


@dataclass(frozen=True)
class MetricAssessment:
    state: str
    # When the clock alone will next change this metric; None when it never will.
    next_check_at: datetime | None
    # The email this assessment calls for, if any.
    announce: Announcement | None
    # The latest threshold passed (seconds left), which a WARNING announces; kept while
    # the metric is paused or breached, so that a resumed clock does not warn twice.
    warned_threshold: int | None

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES


NOT_TRACKED = MetricAssessment(
    state=UNTRACKED, next_check_at=None, announce=None, warned_threshold=None
)


def assess_metric(facts: MetricFacts, *, thresholds: Thresholds, now: datetime) -> MetricAssessment:
    """Where one metric stands at `now`, and what its move from the previous state announces.

    A breach is kept: once a metric was breached, no later recompute of its deadline
    un-breaches it or announces it again (a fresh assessment, previous_state None, does:
    the client set a new deadline or reopened the ticket). A metric first seen past its
    deadline is announced as missed, never warned.
    """
    deadline = facts.deadline
    if deadline is None:
        return NOT_TRACKED
    kept_breach = facts.previous_state == SlaState.BREACHED
    if facts.met_at is not None:
        met_late = kept_breach or facts.met_at >= deadline
        state = SlaState.BREACHED if met_late else SlaState.ACHIEVED
        return MetricAssessment(state, None, None, facts.warned_threshold)
    if kept_breach:
        return MetricAssessment(SlaState.BREACHED, None, None, facts.warned_threshold)
    if facts.paused:
        return MetricAssessment(SlaState.PAUSED, None, None, facts.warned_threshold)
    if now >= deadline:
        return MetricAssessment(
            SlaState.BREACHED, None, Announcement.MISSED, facts.warned_threshold
        )

    passed: int | None = None
    next_check_at = deadline
    for seconds, at in thresholds.passed_at(deadline):
        if at <= now:
            passed = seconds  # thresholds come largest first: the last passed is the latest
        else:
            next_check_at = min(next_check_at, at)
    if passed is None:
        return MetricAssessment(SlaState.ON_TRACK, next_check_at, None, None)
    announce = None
    if facts.warned_threshold is None or passed < facts.warned_threshold:
        announce = Announcement.WARNING
    return MetricAssessment(SlaState.AT_RISK, next_check_at, announce, passed)
