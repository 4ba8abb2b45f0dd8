"""sla.escalation: when breach levels fire, repeat, and stop. Pure: no database."""

from datetime import UTC, datetime, time, timedelta

from sla.business_time import WALL_CLOCK, Calendar
from sla.escalation import Firing, Level, Trigger, breach_firings, due_firings, warning_levels

MINUTE = timedelta(minutes=1)
DEADLINE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

AT_BREACH = Level(2, Trigger.BREACH, repeat_every=10 * MINUTE, repeat_limit=2)
LATER = Level(3, Trigger.BREACH, delay=30 * MINUTE)
WARNING = Level(1, Trigger.WARNING)
LEVELS = (WARNING, AT_BREACH, LATER)


def due(step, now, *, acknowledged=False, levels=LEVELS, calendar=WALL_CLOCK):
    return due_firings(
        levels,
        metric="resolution",
        deadline=DEADLINE,
        calendar=calendar,
        step=step,
        now=now,
        acknowledged=acknowledged,
    )


def test_breach_levels_and_their_repeats_fire_in_time_order():
    assert breach_firings(LEVELS, metric="resolution", deadline=DEADLINE, calendar=WALL_CLOCK) == [
        Firing(DEADLINE, 2, 0),
        Firing(DEADLINE + 10 * MINUTE, 2, 1),
        Firing(DEADLINE + 20 * MINUTE, 2, 2),
        Firing(DEADLINE + 30 * MINUTE, 3, 0),
    ]


def test_at_the_breach_the_first_fires_and_the_next_check_is_the_first_repeat():
    found = due(0, DEADLINE)
    assert found.fire == (Firing(DEADLINE, 2, 0),)
    assert (found.step, found.next_at) == (1, DEADLINE + 10 * MINUTE)


def test_a_late_check_fires_everything_due_at_once_and_each_only_once():
    late = due(1, DEADLINE + 25 * MINUTE)
    assert [(f.level, f.repeat) for f in late.fire] == [(2, 1), (2, 2)]
    assert (late.step, late.next_at) == (3, DEADLINE + 30 * MINUTE)
    again = due(late.step, DEADLINE + 25 * MINUTE)
    assert again.fire == ()


def test_after_the_last_firing_nothing_is_scheduled():
    found = due(3, DEADLINE + 31 * MINUTE)
    assert found.fire == (Firing(DEADLINE + 30 * MINUTE, 3, 0),)
    assert found.next_at is None


def test_an_acknowledged_breach_fires_nothing_more():
    found = due(1, DEADLINE + 40 * MINUTE, acknowledged=True)
    assert (found.fire, found.step, found.next_at) == ((), 1, None)


def test_a_business_time_delay_counts_open_hours_only():
    """Office hours 9-17 UTC Mon-Fri: 30 business minutes after a breach at
    16:50 on Tuesday fall at 09:20 on Wednesday."""
    calendar = Calendar(time_zone="UTC", weekly_hours={d: [(time(9), time(17))] for d in range(5)})
    deadline = datetime(2026, 3, 10, 16, 50, tzinfo=UTC)  # a Tuesday
    level = Level(2, Trigger.BREACH, delay=30 * MINUTE, business_time=True)
    wall = Level(3, Trigger.BREACH, delay=30 * MINUTE)
    firings = breach_firings(
        (level, wall), metric="resolution", deadline=deadline, calendar=calendar
    )
    assert firings == [
        Firing(datetime(2026, 3, 10, 17, 20, tzinfo=UTC), 3, 0),
        Firing(datetime(2026, 3, 11, 9, 20, tzinfo=UTC), 2, 0),
    ]


def test_levels_of_the_other_metric_do_not_fire():
    first_response_only = Level(2, Trigger.BREACH, metric="first_response")
    assert (
        breach_firings(
            (first_response_only,), metric="resolution", deadline=DEADLINE, calendar=WALL_CLOCK
        )
        == []
    )
    assert warning_levels((WARNING, first_response_only), metric="first_response") == [WARNING]
