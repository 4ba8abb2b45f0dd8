"""sla.deadlines without a database: the arithmetic both the per-ticket and batch paths use."""

from datetime import UTC, datetime, time, timedelta

from sla.business_time import WALL_CLOCK, Calendar
from sla.deadlines import extended_by_pause, first_response_due, resolution_deadline

HOUR = timedelta(hours=1)
NINE_TO_FIVE = Calendar(time_zone="UTC", weekly_hours={d: [(time(9), time(17))] for d in range(5)})
MONDAY_10 = datetime(2026, 3, 9, 10, tzinfo=UTC)


def test_without_a_target_there_is_no_first_response_deadline():
    assert first_response_due(NINE_TO_FIVE, start=MONDAY_10, target=None) is None


def test_the_first_response_deadline_is_the_target_in_business_time():
    due = first_response_due(NINE_TO_FIVE, start=MONDAY_10, target=8 * HOUR)
    assert due == datetime(2026, 3, 10, 10, tzinfo=UTC)


def test_a_running_pause_keeps_the_deadline_the_ticket_had_when_paused():
    paused = MONDAY_10 + HOUR
    deadline = resolution_deadline(
        NINE_TO_FIVE, start=MONDAY_10, target=4 * HOUR, pauses=[(paused, None)]
    )
    assert deadline == MONDAY_10 + 4 * HOUR


def test_a_pause_moves_the_deadline_by_the_business_time_left_when_it_began():
    deadline = MONDAY_10 + 4 * HOUR  # 14:00; paused at 13:00 with an hour left
    moved = extended_by_pause(
        deadline,
        calendar=NINE_TO_FIVE,
        paused_at=MONDAY_10 + 3 * HOUR,
        now=datetime(2026, 3, 9, 16, 30, tzinfo=UTC),
    )
    assert moved == datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def test_a_pause_that_began_after_the_deadline_does_not_move_it():
    deadline = MONDAY_10
    moved = extended_by_pause(
        deadline, calendar=WALL_CLOCK, paused_at=MONDAY_10 + HOUR, now=MONDAY_10 + 5 * HOUR
    )
    assert moved == deadline
