"""sla.rules with a policy's business calendar: several warning thresholds, first response
and resolution, paused clocks. No database: every fact is passed in, as the engine does.

The calendar is open Monday to Friday 9:00-17:00 in Europe/Berlin, closed on German public
holidays. The worked examples are checked by hand, with the reasoning in comments; the
property follows next_check_at as the checker does, from creation to the miss.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.business_time import Calendar
from sla.deadlines import resolution_deadline
from sla.enums import Announcement, SlaState
from sla.rules import MetricAssessment, MetricFacts, Thresholds, assess_metric
from tests.durations import HOUR, MINUTE

BERLIN = ZoneInfo("Europe/Berlin")
MICROSECOND = timedelta(microseconds=1)

NINE_TO_FIVE = Calendar(
    time_zone="Europe/Berlin",
    weekly_hours={day: [(time(9), time(17))] for day in range(5)},
    holiday_country="DE",
)


def berlin(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


# Friday 2026-03-13 16:00, an urgent ticket with a 4-business-hour target: one hour on
# Friday, three on Monday, so it is due Monday 2026-03-16 at 12:00.
CREATED = berlin(3, 13, 16)
TARGET = 4 * HOUR
DEADLINE = berlin(3, 16, 12)

# Lead times of 3 h and 1 h, and 50 % and 90 % of the 4-hour target elapsed (2 h and 24 min
# left). Counted back from Monday 12:00 in business time:
#   3 h left:    Monday 9-12 is three hours, so from Friday's closing, 17:00 (the earliest
#                instant from which only three business hours are left);
#   2 h left:    Monday 10:00;
#   1 h left:    Monday 11:00;
#   24 min left: Monday 11:36.
THRESHOLDS = Thresholds.of(
    NINE_TO_FIVE, lead_times=[10_800, 3600], percentages=[50, 90], target=TARGET
)
PASSED_AT = {
    10_800: berlin(3, 13, 17),
    7200: berlin(3, 16, 10),
    3600: berlin(3, 16, 11),
    1440: berlin(3, 16, 11, 36),
}


def assess(
    now: datetime,
    *,
    previous_state: str | None = SlaState.ON_TRACK,
    warned: int | None = None,
    met_at: datetime | None = None,
    paused: bool = False,
    deadline: datetime = DEADLINE,
    thresholds: Thresholds = THRESHOLDS,
) -> MetricAssessment:
    return assess_metric(
        MetricFacts(
            deadline=deadline,
            met_at=met_at,
            paused=paused,
            previous_state=previous_state,
            warned_threshold=warned,
        ),
        thresholds=thresholds,
        now=now,
    )


# --- Thresholds.of --------------------------------------------------------------------------


def test_lead_times_and_percentages_become_seconds_left_largest_first():
    # 75 % of 4 h elapsed is 1 h left, 90 % is 24 min left.
    found = Thresholds.of(
        NINE_TO_FIVE, lead_times=[3600, 7200], percentages=[90, 75], target=TARGET
    )

    assert found.seconds_left == (7200, 3600, 1440)


def test_a_lead_time_as_long_as_the_target_is_dropped_and_kept_without_a_target():
    # 4 h before a 4-hour target would be passed at creation: nobody chose that warning.
    with_target = Thresholds.of(NINE_TO_FIVE, lead_times=[14_400, 20_000, 3600], target=TARGET)
    # A client's deadline has no target: a ticket created inside the window is warned.
    without = Thresholds.of(NINE_TO_FIVE, lead_times=[14_400, 3600])

    assert with_target.seconds_left == (3600,)
    assert without.seconds_left == (14_400, 3600)


def test_a_lead_time_and_a_percentage_meaning_the_same_moment_count_once():
    # 75 % of 4 h elapsed is exactly the 1-hour lead time.
    found = Thresholds.of(
        NINE_TO_FIVE, lead_times=[3600, 3600], percentages=[75, 75], target=TARGET
    )

    assert found.seconds_left == (3600,)


def test_percentages_need_a_target_to_mean_anything():
    # A manual deadline has no target: its percentages are no thresholds at all.
    assert Thresholds.of(NINE_TO_FIVE, lead_times=[], percentages=[75, 90]).seconds_left == ()
    assert Thresholds.of(
        NINE_TO_FIVE, lead_times=[600], percentages=[75], target=None
    ).seconds_left == (600,)


def test_a_percentage_of_an_odd_target_rounds_to_whole_seconds():
    # 33 % of 1001 s elapsed leaves 670.67 s, rounded to 671.
    found = Thresholds.of(
        NINE_TO_FIVE, lead_times=[], percentages=[33], target=timedelta(seconds=1001)
    )

    assert found.seconds_left == (671,)


def test_no_threshold_is_zero_or_negative():
    found = Thresholds.of(NINE_TO_FIVE, lead_times=[0, -60, 60], percentages=[], target=TARGET)

    assert found.seconds_left == (60,)


def test_thresholds_are_passed_in_order_at_business_time_before_the_deadline():
    assert THRESHOLDS.seconds_left == (10_800, 7200, 3600, 1440)
    assert THRESHOLDS.passed_at(DEADLINE) == list(PASSED_AT.items())


# --- Several thresholds, one at a time ------------------------------------------------------


def test_a_new_metric_before_its_first_threshold_is_on_track_until_it():
    result = assess(CREATED, previous_state=None)

    assert result == MetricAssessment(SlaState.ON_TRACK, PASSED_AT[10_800], None, None)


def test_each_threshold_is_announced_once_when_the_checker_reaches_it():
    # The checker comes exactly when next_check_at says, and again a minute later.
    expected = [
        # (now, the latest threshold passed, the next check)
        (PASSED_AT[10_800], 10_800, PASSED_AT[7200]),
        (PASSED_AT[7200], 7200, PASSED_AT[3600]),
        (PASSED_AT[3600], 3600, PASSED_AT[1440]),
        (PASSED_AT[1440], 1440, DEADLINE),
    ]
    warned = None
    for now, threshold, next_check in expected:
        result = assess(now, previous_state=SlaState.AT_RISK if warned else None, warned=warned)
        assert result == MetricAssessment(
            SlaState.AT_RISK, next_check, Announcement.WARNING, threshold
        )
        warned = result.warned_threshold

        again = assess(now + MINUTE, previous_state=SlaState.AT_RISK, warned=warned)
        assert again == MetricAssessment(SlaState.AT_RISK, next_check, None, threshold)

    missed = assess(DEADLINE, previous_state=SlaState.AT_RISK, warned=warned)
    assert missed == MetricAssessment(SlaState.BREACHED, None, Announcement.MISSED, 1440)
    kept = assess(DEADLINE + HOUR, previous_state=SlaState.BREACHED, warned=1440)
    assert kept == MetricAssessment(SlaState.BREACHED, None, None, 1440)


def test_one_microsecond_before_a_threshold_nothing_is_announced():
    result = assess(PASSED_AT[7200] - MICROSECOND, previous_state=SlaState.AT_RISK, warned=10_800)

    assert result == MetricAssessment(SlaState.AT_RISK, PASSED_AT[7200], None, 10_800)


def test_the_weekend_passes_no_threshold():
    # Saturday noon: business time stands still since Friday 17:00.
    result = assess(berlin(3, 14, 12), previous_state=SlaState.AT_RISK, warned=10_800)

    assert result == MetricAssessment(SlaState.AT_RISK, PASSED_AT[7200], None, 10_800)


def test_a_late_checker_passing_two_thresholds_at_once_announces_only_the_latest():
    # Last announced: 3 h left (Friday 17:00). The checker comes back Monday 11:10, past
    # both 2 h (10:00) and 1 h (11:00): one warning, for 1 h left.
    result = assess(berlin(3, 16, 11, 10), previous_state=SlaState.AT_RISK, warned=10_800)

    assert result == MetricAssessment(SlaState.AT_RISK, PASSED_AT[1440], Announcement.WARNING, 3600)
    # And the skipped 2-hour threshold is not announced afterwards.
    after = assess(berlin(3, 16, 11, 20), previous_state=SlaState.AT_RISK, warned=3600)
    assert after.announce is None


def test_a_metric_first_seen_past_every_threshold_gets_one_warning_for_the_last():
    result = assess(berlin(3, 16, 11, 50), previous_state=None)

    assert result == MetricAssessment(SlaState.AT_RISK, DEADLINE, Announcement.WARNING, 1440)


def test_a_metric_first_seen_past_its_deadline_is_missed_and_never_warned():
    result = assess(DEADLINE + MINUTE, previous_state=None)

    assert result == MetricAssessment(SlaState.BREACHED, None, Announcement.MISSED, None)


def test_a_deadline_recomputed_later_announces_only_thresholds_newly_passed_for_it():
    # Warned at 1 h left; a policy edit moved the deadline an hour later (13:00), so at
    # Monday 11:30 there are 1.5 h left: past 3 h and 2 h, both earlier than the threshold
    # announced. Nothing to say until the 1-hour threshold of the new deadline, at 12:00.
    later = berlin(3, 16, 13)

    result = assess(
        berlin(3, 16, 11, 30), warned=3600, previous_state=SlaState.AT_RISK, deadline=later
    )

    assert result == MetricAssessment(SlaState.AT_RISK, berlin(3, 16, 12), None, 7200)
    at_noon = assess(
        berlin(3, 16, 12), warned=7200, previous_state=SlaState.AT_RISK, deadline=later
    )
    assert at_noon.announce == Announcement.WARNING
    assert at_noon.warned_threshold == 3600


def test_the_default_single_threshold_warns_once_an_hour_before():
    # No lead times or percentages: the engine passes SLA_WARNING_MINUTES as the one lead.
    default = Thresholds.of(NINE_TO_FIVE, lead_times=[3600])

    first = assess(berlin(3, 16, 11), previous_state=SlaState.ON_TRACK, thresholds=default)

    assert first == MetricAssessment(SlaState.AT_RISK, DEADLINE, Announcement.WARNING, 3600)


# --- Paused ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "warned"),
    [(berlin(3, 16, 9, 30), 10_800), (berlin(3, 16, 11, 50), 3600), (DEADLINE + HOUR, 1440)],
)
def test_a_paused_metric_announces_nothing_and_needs_no_check(now, warned):
    # Whatever the clock says (even past the deadline it had when paused): the clock stopped.
    result = assess(now, previous_state=SlaState.AT_RISK, warned=warned, paused=True)

    assert result == MetricAssessment(SlaState.PAUSED, None, None, warned)


def test_a_breach_before_the_pause_is_kept_through_the_pause():
    result = assess(DEADLINE + HOUR, previous_state=SlaState.BREACHED, warned=1440, paused=True)

    assert result == MetricAssessment(SlaState.BREACHED, None, None, 1440)


def test_a_metric_resumed_after_a_pause_does_not_repeat_its_warning():
    # Paused at 1 h left (warned), resumed with the deadline an hour later (13:00):
    # at 12:00 the 1-hour threshold of the new deadline is passed again, already announced.
    result = assess(
        berlin(3, 16, 12),
        previous_state=SlaState.PAUSED,
        warned=3600,
        deadline=berlin(3, 16, 13),
    )

    assert result == MetricAssessment(SlaState.AT_RISK, berlin(3, 16, 12, 36), None, 3600)


# --- Met ------------------------------------------------------------------------------------


def test_met_before_the_deadline_is_achieved_and_done():
    result = assess(
        DEADLINE + HOUR, previous_state=SlaState.AT_RISK, warned=3600, met_at=DEADLINE - MINUTE
    )

    assert result == MetricAssessment(SlaState.ACHIEVED, None, None, 3600)


@pytest.mark.parametrize("met_at", [DEADLINE, DEADLINE + MINUTE])
def test_met_at_or_after_the_deadline_is_breached_without_another_miss(met_at):
    result = assess(met_at, previous_state=SlaState.AT_RISK, warned=1440, met_at=met_at)

    assert result == MetricAssessment(SlaState.BREACHED, None, None, 1440)


def test_met_in_time_for_a_deadline_recomputed_later_stays_breached_once_breached():
    # Breached at Monday 12:00; a policy edit then moved the deadline to Tuesday. The
    # breach happened: meeting the target Monday 13:00 does not turn it into achieved.
    result = assess(
        berlin(3, 16, 13),
        previous_state=SlaState.BREACHED,
        met_at=berlin(3, 16, 13),
        deadline=berlin(3, 17, 12),
    )

    assert result.state == SlaState.BREACHED
    assert result.announce is None


def test_a_breach_is_not_undone_by_a_recomputed_later_deadline():
    result = assess(berlin(3, 16, 13), previous_state=SlaState.BREACHED, deadline=berlin(3, 17, 12))

    assert result == MetricAssessment(SlaState.BREACHED, None, None, None)


def test_a_metric_without_a_deadline_is_not_tracked():
    result = assess_metric(MetricFacts(deadline=None), thresholds=THRESHOLDS, now=CREATED)

    assert (result.state, result.next_check_at, result.announce) == ("", None, None)


# --- resolution_deadline with pauses --------------------------------------------------------


def deadline_with(*pauses: tuple[datetime, datetime | None], start: datetime = CREATED) -> datetime:
    return resolution_deadline(NINE_TO_FIVE, start=start, target=TARGET, pauses=pauses)


def test_without_pauses_the_deadline_is_the_target_in_business_time():
    assert deadline_with() == DEADLINE


def test_paused_friday_16_30_to_monday_10_the_deadline_moves_by_one_and_a_half_hours():
    # Half an hour ran on Friday (16:00-16:30); the pause covered Friday 16:30-17:00 and
    # Monday 9:00-10:00, 1.5 business hours. 3.5 hours left from Monday 10:00: 13:30.
    assert deadline_with((berlin(3, 13, 16, 30), berlin(3, 16, 10))) == berlin(3, 16, 13, 30)


def test_a_pause_still_running_keeps_the_deadline_it_had_when_it_began():
    assert deadline_with((berlin(3, 13, 16, 30), None)) == DEADLINE


def test_a_pause_over_closed_time_only_moves_nothing():
    # Saturday 10:00 to Sunday 18:00: no business time in it.
    assert deadline_with((berlin(3, 14, 10), berlin(3, 15, 18))) == DEADLINE


def test_two_pauses_add_up():
    # Friday 16:00-16:30 and Monday 9:30-10:00: one business hour paused in all.
    pauses = ((berlin(3, 13, 16), berlin(3, 13, 16, 30)), (berlin(3, 16, 9, 30), berlin(3, 16, 10)))

    assert deadline_with(*pauses) == berlin(3, 16, 13)


def test_a_pause_over_a_holiday_counts_only_business_time():
    # Friday 2026-05-22 16:00, Whit Monday (25th) closed. Paused 16:30 to Tuesday 10:00:
    # Friday 16:30-17:00 and Tuesday 9-10 are paused, 1.5 hours. Unpaused the deadline
    # is Tuesday 12:00; paused, 13:30.
    friday = berlin(5, 22, 16)

    assert deadline_with(start=friday) == berlin(5, 26, 12)
    assert deadline_with((berlin(5, 22, 16, 30), berlin(5, 26, 10)), start=friday) == berlin(
        5, 26, 13, 30
    )


@pytest.mark.parametrize("paused_at", [DEADLINE, berlin(3, 16, 12, 30)])
def test_a_pause_that_begins_at_or_after_the_deadline_does_not_move_it(paused_at):
    # The breach already happened; waiting on the customer afterwards changes nothing.
    assert deadline_with((paused_at, paused_at + 2 * HOUR)) == DEADLINE


def test_a_pause_from_creation_counts_from_its_end():
    # Created pending at Friday 16:00, reopened Monday 9:00: all four hours on Monday.
    assert deadline_with((CREATED, berlin(3, 16, 9))) == berlin(3, 16, 13)


# --- Property: the checker following next_check_at ------------------------------------------

START_DAYS = [date(2026, 3, 9), date(2026, 3, 27), date(2026, 5, 20), date(2026, 12, 21)]


@st.composite
def metric_cases(draw: st.DrawFn) -> tuple[datetime, timedelta, Thresholds]:
    day = draw(st.sampled_from(START_DAYS)) + timedelta(days=draw(st.integers(0, 6)))
    created = datetime.combine(day, time(0), BERLIN) + timedelta(
        minutes=draw(st.integers(0, 24 * 60 - 1))
    )
    target = timedelta(minutes=draw(st.integers(1, 5 * 8 * 60)))
    thresholds = Thresholds.of(
        NINE_TO_FIVE,
        lead_times=draw(st.lists(st.integers(1, 3 * 8 * 3600), max_size=4)),
        percentages=draw(st.lists(st.integers(1, 99), max_size=3)),
        target=target,
    )
    return created, target, thresholds


def follow(
    created: datetime,
    deadline: datetime,
    thresholds: Thresholds,
    lateness: list[int],
) -> list[tuple[datetime, Announcement, int | None]]:
    """Assess at creation, then at each next_check_at (plus some lateness); returns what
    was announced, checking that the next check always lies ahead."""
    announced = []
    now = created
    previous: str | None = None
    warned: int | None = None
    late = iter(lateness)
    for _ in range(100):
        result = assess(
            now, previous_state=previous, warned=warned, deadline=deadline, thresholds=thresholds
        )
        if result.announce is not None:
            announced.append((now, result.announce, result.warned_threshold))
        previous, warned = result.state, result.warned_threshold
        if result.next_check_at is None:
            return announced
        assert result.next_check_at > now
        now = result.next_check_at + timedelta(seconds=next(late, 0))
    raise AssertionError("next_check_at never reached the deadline")


@settings(max_examples=300, deadline=None)
@given(case=metric_cases())
def test_following_next_check_at_announces_each_threshold_once_then_the_miss_once(case):
    created, target, thresholds = case
    deadline = NINE_TO_FIVE.add(created, target)

    announced = follow(created, deadline, thresholds, [])

    # Thresholds already passed at creation are announced as one warning, for the latest;
    # each later one when it comes; then the miss, at the deadline.
    passed = thresholds.passed_at(deadline)
    at_creation = [seconds for seconds, at in passed if at <= created]
    expected = []
    if at_creation:
        expected.append((created, Announcement.WARNING, at_creation[-1]))
    expected += [(at, Announcement.WARNING, seconds) for seconds, at in passed if at > created]
    expected.append((deadline, Announcement.MISSED, expected[-1][2] if expected else None))
    assert announced == expected


@settings(max_examples=300, deadline=None)
@given(case=metric_cases(), lateness=st.lists(st.integers(0, 3 * 86_400), max_size=10))
def test_a_late_checker_announces_each_threshold_at_most_once_and_the_miss_exactly_once(
    case, lateness
):
    created, target, thresholds = case
    deadline = NINE_TO_FIVE.add(created, target)

    announced = follow(created, deadline, thresholds, lateness)

    kinds = [kind for _, kind, _ in announced]
    assert kinds.count(Announcement.MISSED) == 1
    assert kinds[-1] == Announcement.MISSED
    warned = [t for _, kind, t in announced if kind == Announcement.WARNING and t is not None]
    assert len(warned) == kinds.count(Announcement.WARNING)
    # Each warning is for a threshold passed later than the one before (no repeats).
    assert warned == sorted(set(warned), reverse=True)
    assert set(warned) <= set(thresholds.seconds_left)
    passed = dict(thresholds.passed_at(deadline))
    for at, kind, threshold in announced:
        if kind == Announcement.WARNING:
            assert threshold is not None
            assert passed[threshold] <= at < deadline
            # It is the latest threshold passed by then: never a stale one.
            assert not [s for s, when in passed.items() if s < threshold and when <= at]
        else:
            assert at >= deadline


def test_the_property_runs_on_utc_and_berlin_instants_alike():
    # Results compare as instants: the same assessment from a UTC `now`.
    in_utc = assess(PASSED_AT[3600].astimezone(UTC), previous_state=SlaState.AT_RISK, warned=7200)

    assert in_utc.announce == Announcement.WARNING
    assert in_utc.warned_threshold == 3600
