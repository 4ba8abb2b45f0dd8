"""sla.rules.assess_metric with one threshold on wall-clock time: the rules of a ticket
without an SLA policy (one warning SLA_WARNING_MINUTES before a fixed deadline).

No database: every fact is passed in, as the engine does. Several thresholds, business
calendars, first response and pauses: tests/sla/test_sla_metrics.py.
"""

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.business_time import WALL_CLOCK
from sla.enums import ACTIVE_STATUSES, Announcement, SlaState, Status
from sla.rules import MetricFacts, Thresholds, assess_metric
from tests.durations import HOUR, MINUTE


class Assessment(NamedTuple):
    state: str
    next_check_at: datetime | None
    announce: Announcement | None


def assess(
    *,
    status: str,
    deadline: datetime,
    resolved_at: datetime | None,
    previous_state: str | None,
    now: datetime,
    warning: timedelta,
) -> Assessment:
    """The resolution metric of a ticket as the engine assesses it without a policy."""
    seconds = int(warning.total_seconds())
    active = status in ACTIVE_STATUSES
    result = assess_metric(
        MetricFacts(
            deadline=deadline,
            met_at=None if active else resolved_at or now,
            previous_state=previous_state,
            # At risk means its one threshold was announced.
            warned_threshold=seconds if previous_state == SlaState.AT_RISK else None,
        ),
        thresholds=Thresholds.of(WALL_CLOCK, lead_times=[seconds]),
        now=now,
    )
    return Assessment(result.state, result.next_check_at, result.announce)


DEADLINE = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


def assess_open(
    *,
    now: datetime,
    previous_state: str | None = SlaState.ON_TRACK,
    status: str = Status.OPEN,
    warning: timedelta = HOUR,
) -> Assessment:
    return assess(
        status=status,
        deadline=DEADLINE,
        resolved_at=None,
        previous_state=previous_state,
        now=now,
        warning=warning,
    )


def assess_finished(
    *, resolved_at: datetime | None, now: datetime, status: str = Status.RESOLVED
) -> Assessment:
    return assess(
        status=status,
        deadline=DEADLINE,
        resolved_at=resolved_at,
        previous_state=SlaState.AT_RISK,
        now=now,
        warning=HOUR,
    )


# --- Open and pending tickets -------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.OPEN, Status.PENDING])
def test_an_active_ticket_before_the_window_is_on_track_until_the_window_opens(status):
    result = assess_open(now=DEADLINE - 2 * HOUR, previous_state=None, status=status)

    assert result == Assessment(
        state=SlaState.ON_TRACK, next_check_at=DEADLINE - HOUR, announce=None
    )


def test_one_second_before_the_window_a_ticket_is_still_on_track():
    result = assess_open(now=DEADLINE - HOUR - timedelta(seconds=1))

    assert result.state == SlaState.ON_TRACK


def test_a_ticket_is_at_risk_from_the_first_moment_of_the_window():
    result = assess_open(now=DEADLINE - HOUR)

    assert result == Assessment(
        state=SlaState.AT_RISK, next_check_at=DEADLINE, announce=Announcement.WARNING
    )


@pytest.mark.parametrize("status", [Status.OPEN, Status.PENDING])
def test_a_new_ticket_inside_the_window_is_at_risk_and_warned(status):
    result = assess_open(now=DEADLINE - 30 * MINUTE, previous_state=None, status=status)

    assert result == Assessment(
        state=SlaState.AT_RISK, next_check_at=DEADLINE, announce=Announcement.WARNING
    )


def test_a_ticket_already_at_risk_is_not_warned_again():
    result = assess_open(now=DEADLINE - MINUTE, previous_state=SlaState.AT_RISK)

    assert result == Assessment(state=SlaState.AT_RISK, next_check_at=DEADLINE, announce=None)


def test_the_window_is_as_long_as_the_warning_passed_in():
    early = assess_open(now=DEADLINE - 20 * MINUTE, warning=15 * MINUTE)
    inside = assess_open(now=DEADLINE - 15 * MINUTE, warning=15 * MINUTE)

    assert early == Assessment(
        state=SlaState.ON_TRACK, next_check_at=DEADLINE - 15 * MINUTE, announce=None
    )
    assert inside.state == SlaState.AT_RISK


def test_a_ticket_is_breached_at_the_very_moment_of_its_deadline():
    result = assess_open(now=DEADLINE, previous_state=SlaState.AT_RISK)

    assert result == Assessment(
        state=SlaState.BREACHED, next_check_at=None, announce=Announcement.MISSED
    )


def test_a_ticket_that_skipped_the_window_unseen_is_announced_missed_not_warned():
    result = assess_open(now=DEADLINE + MINUTE, previous_state=SlaState.ON_TRACK)

    assert result.state == SlaState.BREACHED
    assert result.announce == Announcement.MISSED


def test_a_ticket_first_seen_past_its_deadline_gets_only_the_missed_announcement():
    result = assess_open(now=DEADLINE + HOUR, previous_state=None)

    assert result == Assessment(
        state=SlaState.BREACHED, next_check_at=None, announce=Announcement.MISSED
    )


def test_a_ticket_already_breached_is_not_announced_again():
    result = assess_open(now=DEADLINE + 3 * HOUR, previous_state=SlaState.BREACHED)

    assert result == Assessment(state=SlaState.BREACHED, next_check_at=None, announce=None)


# --- Resolved and closed tickets ----------------------------------------------------------


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.CLOSED])
def test_a_ticket_finished_in_time_is_achieved_for_good(status):
    result = assess_finished(resolved_at=DEADLINE - MINUTE, now=DEADLINE + 5 * HOUR, status=status)

    assert result == Assessment(state=SlaState.ACHIEVED, next_check_at=None, announce=None)


def test_a_ticket_resolved_exactly_at_its_deadline_counts_as_late_like_an_open_one():
    result = assess_finished(resolved_at=DEADLINE, now=DEADLINE)

    assert result.state == SlaState.BREACHED


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.CLOSED])
def test_a_ticket_finished_late_stays_breached_without_another_announcement(status):
    result = assess_finished(resolved_at=DEADLINE + MINUTE, now=DEADLINE + HOUR, status=status)

    assert result == Assessment(state=SlaState.BREACHED, next_check_at=None, announce=None)


def test_a_finished_ticket_without_a_resolution_time_is_judged_by_now():
    in_time = assess_finished(resolved_at=None, now=DEADLINE - MINUTE)
    late = assess_finished(resolved_at=None, now=DEADLINE + MINUTE)

    assert in_time.state == SlaState.ACHIEVED
    assert late.state == SlaState.BREACHED


def test_a_finished_ticket_inside_its_window_is_never_warned():
    result = assess_finished(resolved_at=DEADLINE - MINUTE, now=DEADLINE - MINUTE)

    assert result.announce is None


# --- A ticket's whole life, as the periodic check sees it ---------------------------------

moments = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001 (hypothesis adds the zone)
    max_value=datetime(2026, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
windows = st.integers(min_value=1, max_value=24 * 60).map(lambda m: timedelta(minutes=m))
offsets = st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60).map(
    lambda m: timedelta(minutes=m)
)


@settings(max_examples=200, deadline=None)
@given(created_at=moments, due_in=offsets, warning=windows)
def test_following_next_check_at_announces_a_warning_and_a_miss_at_most_once_each(
    created_at, due_in, warning
):
    deadline = created_at + due_in
    now, previous = created_at, None
    announced = []
    for _ in range(5):
        result = assess(
            status=Status.OPEN,
            deadline=deadline,
            resolved_at=None,
            previous_state=previous,
            now=now,
            warning=warning,
        )
        if result.announce is not None:
            announced.append(result.announce)
        if result.next_check_at is None:
            break
        assert result.next_check_at > now, "a next check in the past would spin the checker"
        now, previous = result.next_check_at, result.state

    assert result.state == SlaState.BREACHED
    if created_at < deadline:
        assert announced == [Announcement.WARNING, Announcement.MISSED]
    else:
        assert announced == [Announcement.MISSED]


@settings(max_examples=200, deadline=None)
@given(created_at=moments, due_in=offsets, warning=windows, late_by=offsets)
def test_a_checker_that_looks_late_never_sends_a_stale_warning(
    created_at, due_in, warning, late_by
):
    deadline = created_at + due_in
    first = assess(
        status=Status.OPEN,
        deadline=deadline,
        resolved_at=None,
        previous_state=None,
        now=created_at,
        warning=warning,
    )
    if first.next_check_at is None:
        return
    looked_at = first.next_check_at + abs(late_by)

    second = assess(
        status=Status.OPEN,
        deadline=deadline,
        resolved_at=None,
        previous_state=first.state,
        now=looked_at,
        warning=warning,
    )

    if looked_at >= deadline:
        assert second.state == SlaState.BREACHED
        assert second.announce == Announcement.MISSED
    else:
        assert second.announce in (Announcement.WARNING, None)
        assert (second.announce == Announcement.WARNING) == (first.state == SlaState.ON_TRACK)
