"""tickets.engine through its callers: ticket writes (tickets.services) and the periodic
check (run_transitions), with the clock under the test's control.

What each test reads back is the ticket's SLA fields and its outbox rows: which emails
are owed, about which deadline, and whether they are still pending.
"""

from datetime import timedelta

import pytest

from notifications.models import DeliveryStatus, Notification
from sla.enums import SlaState, Status
from tests.conftest import T0
from tests.durations import HOUR, MINUTE
from tickets import services
from tickets.checker import deliver_due
from tickets.engine import run_transitions
from tickets.models import Ticket

CREATED, WARNING, MISSED = "created", "warning", "missed"
PENDING, SENT, CANCELLED = DeliveryStatus.PENDING, DeliveryStatus.SENT, DeliveryStatus.CANCELLED


def outbox(ticket):
    """(kind, deadline, status) of every notification of a ticket, oldest first."""
    return list(
        Notification.objects.filter(ticket_id=ticket.pk)
        .order_by("id")
        .values_list("kind", "deadline", "status")
    )


def fresh(ticket):
    return Ticket.objects.get(pk=ticket.pk)


# --- Creation -----------------------------------------------------------------------------


def test_a_ticket_due_in_two_hours_starts_on_track_with_only_its_creation_email(clock, make_ticket):
    ticket = fresh(make_ticket(due_in=2 * HOUR))

    assert ticket.resolution_state == SlaState.ON_TRACK
    assert ticket.next_check_at == T0 + HOUR
    assert ticket.resolution_breached_at is None
    assert outbox(ticket) == [(CREATED, T0 + 2 * HOUR, PENDING)]


def test_a_ticket_created_inside_the_warning_window_starts_at_risk_with_a_warning(
    clock, make_ticket
):
    ticket = fresh(make_ticket(due_in=30 * MINUTE))

    assert ticket.resolution_state == SlaState.AT_RISK
    assert ticket.next_check_at == T0 + 30 * MINUTE
    assert outbox(ticket) == [
        (CREATED, T0 + 30 * MINUTE, PENDING),
        (WARNING, T0 + 30 * MINUTE, PENDING),
    ]


def test_a_ticket_created_past_its_deadline_gets_the_missed_email_and_never_a_warning(
    clock, make_ticket
):
    ticket = fresh(make_ticket(due_in=-MINUTE))

    assert ticket.resolution_state == SlaState.BREACHED
    assert ticket.resolution_breached_at == T0 - MINUTE
    assert ticket.next_check_at is None
    assert outbox(ticket) == [(CREATED, T0 - MINUTE, PENDING), (MISSED, T0 - MINUTE, PENDING)]


def test_a_ticket_created_exactly_at_its_deadline_is_already_breached(clock, make_ticket):
    ticket = fresh(make_ticket(due_in=timedelta(0)))

    assert ticket.resolution_state == SlaState.BREACHED
    assert [kind for kind, _, _ in outbox(ticket)] == [CREATED, MISSED]


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.CLOSED])
def test_a_ticket_created_finished_in_time_is_achieved_with_nothing_left_to_check(
    clock, make_ticket, status
):
    ticket = fresh(make_ticket(due_in=30 * MINUTE, status=status))

    assert ticket.resolution_state == SlaState.ACHIEVED
    assert ticket.resolved_at == T0
    assert ticket.next_check_at is None
    assert outbox(ticket) == [(CREATED, T0 + 30 * MINUTE, PENDING)]


def test_a_ticket_created_closed_after_its_deadline_is_breached_without_a_missed_email(
    clock, make_ticket
):
    ticket = fresh(make_ticket(due_in=-HOUR, status=Status.CLOSED))

    assert ticket.resolution_state == SlaState.BREACHED
    assert ticket.next_check_at is None
    assert [kind for kind, _, _ in outbox(ticket)] == [CREATED]


# --- The periodic check -------------------------------------------------------------------


def test_the_checker_leaves_a_ticket_alone_until_its_next_check(clock, make_ticket):
    ticket = make_ticket(due_in=2 * HOUR)
    clock.move_to(T0 + HOUR - timedelta(seconds=1))

    changed = run_transitions()

    assert changed == 0
    assert fresh(ticket).resolution_state == SlaState.ON_TRACK
    assert [kind for kind, _, _ in outbox(ticket)] == [CREATED]


def test_the_checker_warns_once_when_a_ticket_enters_the_window(clock, make_ticket):
    ticket = make_ticket(due_in=2 * HOUR)
    clock.move_to(T0 + HOUR)

    first = run_transitions()
    second = run_transitions()

    assert (first, second) == (1, 0)
    ticket = fresh(ticket)
    assert ticket.resolution_state == SlaState.AT_RISK
    assert ticket.next_check_at == T0 + 2 * HOUR
    assert ticket.resolution_warning_sent_at is None, "queued is not sent"
    assert outbox(ticket) == [(CREATED, T0 + 2 * HOUR, PENDING), (WARNING, T0 + 2 * HOUR, PENDING)]


def test_the_checker_sends_one_missed_email_at_the_deadline(clock, make_ticket):
    ticket = make_ticket(due_in=30 * MINUTE)
    clock.move_to(T0 + 30 * MINUTE)

    assert run_transitions() == 1
    assert run_transitions() == 0

    ticket = fresh(ticket)
    assert ticket.resolution_state == SlaState.BREACHED
    assert ticket.resolution_breached_at == T0 + 30 * MINUTE
    assert ticket.next_check_at is None
    assert [(kind, status) for kind, _, status in outbox(ticket)] == [
        (CREATED, PENDING),
        (WARNING, CANCELLED),
        (MISSED, PENDING),
    ]


def test_a_ticket_the_checker_first_sees_after_its_deadline_gets_no_stale_warning(
    clock, make_ticket
):
    ticket = make_ticket(due_in=2 * HOUR)
    clock.move_to(T0 + 3 * HOUR)  # the checker did not run during the window

    assert run_transitions() == 1

    assert fresh(ticket).resolution_state == SlaState.BREACHED
    assert [kind for kind, _, _ in outbox(ticket)] == [CREATED, MISSED]


def test_a_warning_still_undelivered_at_the_deadline_is_cancelled_for_the_missed_email(
    clock, make_ticket
):
    ticket = make_ticket(due_in=2 * HOUR)
    clock.move_to(T0 + HOUR)
    run_transitions()
    clock.move_to(T0 + 2 * HOUR)

    run_transitions()

    assert outbox(ticket) == [
        (CREATED, T0 + 2 * HOUR, PENDING),
        (WARNING, T0 + 2 * HOUR, CANCELLED),
        (MISSED, T0 + 2 * HOUR, PENDING),
    ]


def test_a_delivered_warning_stays_sent_when_the_deadline_passes(clock, make_ticket, mailoutbox):
    ticket = make_ticket(due_in=30 * MINUTE)
    deliver_due()
    clock.move_to(T0 + HOUR)

    run_transitions()

    assert fresh(ticket).resolution_warning_sent_at == T0
    assert outbox(ticket) == [
        (CREATED, T0 + 30 * MINUTE, SENT),
        (WARNING, T0 + 30 * MINUTE, SENT),
        (MISSED, T0 + 30 * MINUTE, PENDING),
    ]


def test_running_the_checker_at_every_moment_announces_each_state_once(clock, make_ticket):
    tickets = [make_ticket(due_in=due) for due in (-MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR)]

    for minutes in range(0, 6 * 60, 7):
        clock.move_to(T0 + minutes * MINUTE)
        run_transitions()
        run_transitions()

    assert [[kind for kind, _, _ in outbox(t)] for t in tickets] == [
        [CREATED, MISSED],
        [CREATED, WARNING, MISSED],
        [CREATED, WARNING, MISSED],
        [CREATED, WARNING, MISSED],
    ]


def test_the_checker_works_through_a_backlog_in_batches(clock, make_ticket):
    tickets = [make_ticket(due_in=2 * HOUR + n * MINUTE) for n in range(5)]
    clock.move_to(T0 + 10 * HOUR)

    changed = run_transitions(batch_size=2)

    assert changed == 5
    assert {fresh(t).resolution_state for t in tickets} == {SlaState.BREACHED}
    assert Notification.objects.filter(kind=MISSED).count() == 5


def test_the_checker_can_be_limited_to_some_tickets(clock, make_ticket):
    chosen, other = make_ticket(due_in=2 * HOUR), make_ticket(due_in=2 * HOUR)
    clock.move_to(T0 + 3 * HOUR)

    assert run_transitions(ticket_ids=[chosen.pk]) == 1

    assert fresh(chosen).resolution_state == SlaState.BREACHED
    assert fresh(other).resolution_state == SlaState.ON_TRACK


def test_next_check_at_is_always_the_next_moment_the_state_can_change(clock, make_ticket):
    ticket = make_ticket(due_in=2 * HOUR)
    seen = [fresh(ticket).next_check_at]
    for _ in range(2):
        clock.move_to(fresh(ticket).next_check_at)
        run_transitions()
        seen.append(fresh(ticket).next_check_at)

    assert seen == [T0 + HOUR, T0 + 2 * HOUR, None]


@pytest.mark.parametrize(
    ("due_in", "status"),
    [
        (-MINUTE, Status.OPEN),  # breached: nothing more the clock can change
        (30 * MINUTE, Status.RESOLVED),
        (2 * HOUR, Status.CLOSED),
    ],
)
def test_a_ticket_with_nothing_left_to_announce_has_no_next_check(
    clock, make_ticket, due_in, status
):
    ticket = make_ticket(due_in=due_in)
    if status != Status.OPEN:
        services.update_ticket(ticket=ticket, status=status)

    assert fresh(ticket).next_check_at is None
    assert not Ticket.objects.due(T0 + 100 * HOUR).filter(pk=ticket.pk).exists()


# --- Edits that keep the deadline ---------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [{"title": "Printer still on fire"}, {"priority": "urgent"}, {"status": Status.PENDING}],
)
def test_an_edit_that_keeps_the_deadline_announces_nothing_new(clock, make_ticket, changes):
    ticket = make_ticket(due_in=30 * MINUTE)
    clock.shift(5 * MINUTE)

    services.update_ticket(ticket=ticket, **changes)

    assert fresh(ticket).resolution_state == SlaState.AT_RISK
    assert [kind for kind, _, _ in outbox(ticket)] == [CREATED, WARNING]


def test_an_edit_catches_up_with_a_window_the_checker_has_not_reached_yet(clock, make_ticket):
    ticket = make_ticket(due_in=2 * HOUR)
    clock.move_to(T0 + 90 * MINUTE)

    services.update_ticket(ticket=ticket, title="Any edit")

    assert fresh(ticket).resolution_state == SlaState.AT_RISK
    assert [kind for kind, _, _ in outbox(ticket)] == [CREATED, WARNING]
    assert run_transitions() == 0, "the checker has nothing left to do for it"
    assert [kind for kind, _, _ in outbox(ticket)] == [CREATED, WARNING]


def test_an_edit_after_the_deadline_drops_the_undelivered_warning(clock, make_ticket):
    ticket = make_ticket(due_in=30 * MINUTE)
    clock.move_to(T0 + HOUR)  # the checker has not run since the deadline passed

    services.update_ticket(ticket=ticket, title="Any edit")

    assert fresh(ticket).resolution_state == SlaState.BREACHED
    assert [(kind, status) for kind, _, status in outbox(ticket)] == [
        (CREATED, PENDING),
        (WARNING, CANCELLED),
        (MISSED, PENDING),
    ]


# --- Deadline moves -----------------------------------------------------------------------


def test_moving_the_deadline_later_puts_an_at_risk_ticket_back_on_track(clock, make_ticket):
    ticket = make_ticket(due_in=30 * MINUTE)

    services.update_ticket(ticket=ticket, deadline=T0 + 3 * HOUR)

    ticket = fresh(ticket)
    assert ticket.resolution_state == SlaState.ON_TRACK
    assert ticket.next_check_at == T0 + 2 * HOUR
    assert outbox(ticket) == [
        (CREATED, T0 + 30 * MINUTE, PENDING),
        (WARNING, T0 + 30 * MINUTE, CANCELLED),
    ]


def test_a_ticket_moved_later_is_warned_again_when_it_reenters_the_window(
    clock, make_ticket, mailoutbox
):
    ticket = make_ticket(due_in=30 * MINUTE)
    deliver_due()
    assert fresh(ticket).resolution_warning_sent_at == T0
    clock.shift(10 * MINUTE)

    services.update_ticket(ticket=ticket, deadline=T0 + 3 * HOUR)
    assert fresh(ticket).resolution_warning_sent_at is None, (
        "that warning was about another deadline"
    )
    clock.move_to(T0 + 2 * HOUR)
    run_transitions()

    assert fresh(ticket).resolution_state == SlaState.AT_RISK
    assert outbox(ticket) == [
        (CREATED, T0 + 30 * MINUTE, SENT),
        (WARNING, T0 + 30 * MINUTE, SENT),
        (WARNING, T0 + 3 * HOUR, PENDING),
    ]


def test_moving_the_deadline_later_without_reaching_the_window_again_sends_no_warning(
    clock, make_ticket
):
    ticket = make_ticket(due_in=30 * MINUTE)

    services.update_ticket(ticket=ticket, deadline=T0 + 3 * HOUR)
    clock.move_to(T0 + 2 * HOUR - MINUTE)
    run_transitions()

    assert [(kind, status) for kind, _, status in outbox(ticket)] == [
        (CREATED, PENDING),
        (WARNING, CANCELLED),
    ]


def test_moving_a_breached_deadline_later_resumes_tracking(clock, make_ticket):
    ticket = make_ticket(due_in=-MINUTE)

    services.update_ticket(ticket=ticket, deadline=T0 + 2 * HOUR)
    ticket = fresh(ticket)
    assert ticket.resolution_state == SlaState.ON_TRACK
    assert ticket.resolution_breached_at is None
    assert ticket.next_check_at == T0 + HOUR

    clock.move_to(T0 + 2 * HOUR)
    run_transitions()

    ticket = fresh(ticket)
    assert ticket.resolution_state == SlaState.BREACHED
    assert ticket.resolution_breached_at == T0 + 2 * HOUR
    assert outbox(ticket) == [
        (CREATED, T0 - MINUTE, PENDING),
        (MISSED, T0 - MINUTE, CANCELLED),
        (MISSED, T0 + 2 * HOUR, PENDING),
    ]


def test_moving_the_deadline_into_the_past_sends_a_missed_email_for_the_new_deadline(
    clock, make_ticket
):
    ticket = make_ticket(due_in=2 * HOUR)

    services.update_ticket(ticket=ticket, deadline=T0 - 10 * MINUTE)

    ticket = fresh(ticket)
    assert ticket.resolution_state == SlaState.BREACHED
    assert ticket.resolution_breached_at == T0 - 10 * MINUTE
    assert ticket.next_check_at is None
    assert outbox(ticket) == [
        (CREATED, T0 + 2 * HOUR, PENDING),
        (MISSED, T0 - 10 * MINUTE, PENDING),
    ]


def test_moving_a_missed_deadline_to_another_past_moment_announces_that_one_too(
    clock, make_ticket, mailoutbox
):
    ticket = make_ticket(due_in=-HOUR)
    deliver_due()

    services.update_ticket(ticket=ticket, deadline=T0 - 2 * HOUR)

    assert fresh(ticket).resolution_breached_at == T0 - 2 * HOUR
    assert outbox(ticket) == [
        (CREATED, T0 - HOUR, SENT),
        (MISSED, T0 - HOUR, SENT),
        (MISSED, T0 - 2 * HOUR, PENDING),
    ]


def test_moving_the_deadline_into_the_window_queues_a_warning_for_the_new_deadline(
    clock, make_ticket
):
    ticket = make_ticket(due_in=5 * HOUR)

    services.update_ticket(ticket=ticket, deadline=T0 + 20 * MINUTE)

    ticket = fresh(ticket)
    assert ticket.resolution_state == SlaState.AT_RISK
    assert ticket.next_check_at == T0 + 20 * MINUTE
    assert outbox(ticket) == [
        (CREATED, T0 + 5 * HOUR, PENDING),
        (WARNING, T0 + 20 * MINUTE, PENDING),
    ]


def test_moving_an_at_risk_deadline_within_the_window_re_arms_the_warning(clock, make_ticket):
    ticket = make_ticket(due_in=30 * MINUTE)

    services.update_ticket(ticket=ticket, deadline=T0 + 45 * MINUTE)

    assert outbox(ticket) == [
        (CREATED, T0 + 30 * MINUTE, PENDING),
        (WARNING, T0 + 30 * MINUTE, CANCELLED),
        (WARNING, T0 + 45 * MINUTE, PENDING),
    ]


def test_moving_the_deadline_back_to_one_whose_warning_was_dropped_warns_again(clock, make_ticket):
    ticket = make_ticket(due_in=30 * MINUTE)
    services.update_ticket(ticket=ticket, deadline=T0 + 3 * HOUR)

    services.update_ticket(ticket=ticket, deadline=T0 + 30 * MINUTE)

    assert outbox(ticket) == [
        (CREATED, T0 + 30 * MINUTE, PENDING),
        (WARNING, T0 + 30 * MINUTE, CANCELLED),
        (WARNING, T0 + 30 * MINUTE, PENDING),
    ]


# --- Resolving and reopening --------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.CLOSED])
def test_finishing_in_time_is_achieved_and_cancels_the_undelivered_warning(
    clock, make_ticket, status
):
    ticket = make_ticket(due_in=30 * MINUTE)
    clock.shift(10 * MINUTE)

    services.update_ticket(ticket=ticket, status=status)

    ticket = fresh(ticket)
    assert ticket.resolution_state == SlaState.ACHIEVED
    assert ticket.resolved_at == T0 + 10 * MINUTE
    assert ticket.next_check_at is None
    assert outbox(ticket) == [
        (CREATED, T0 + 30 * MINUTE, PENDING),  # the creation email is still true
        (WARNING, T0 + 30 * MINUTE, CANCELLED),
    ]


def test_resolving_late_stays_breached_and_cancels_the_undelivered_missed_email(clock, make_ticket):
    ticket = make_ticket(due_in=30 * MINUTE)
    clock.move_to(T0 + HOUR)
    run_transitions()

    services.update_ticket(ticket=ticket, status=Status.RESOLVED)

    ticket = fresh(ticket)
    assert ticket.resolution_state == SlaState.BREACHED
    assert ticket.resolution_breached_at == T0 + 30 * MINUTE
    assert [(kind, status) for kind, _, status in outbox(ticket)] == [
        (CREATED, PENDING),
        (WARNING, CANCELLED),
        (MISSED, CANCELLED),
    ]


def test_a_resolved_ticket_is_not_announced_when_its_deadline_passes(clock, make_ticket):
    ticket = make_ticket(due_in=2 * HOUR)
    services.update_ticket(ticket=ticket, status=Status.RESOLVED)
    clock.move_to(T0 + 5 * HOUR)

    assert run_transitions() == 0

    assert fresh(ticket).resolution_state == SlaState.ACHIEVED
    assert [kind for kind, _, _ in outbox(ticket)] == [CREATED]


def test_switching_between_resolved_and_closed_changes_nothing(clock, make_ticket):
    ticket = make_ticket(due_in=30 * MINUTE)
    services.update_ticket(ticket=ticket, status=Status.RESOLVED)
    clock.move_to(T0 + HOUR)

    services.update_ticket(ticket=ticket, status=Status.CLOSED)

    ticket = fresh(ticket)
    assert ticket.resolution_state == SlaState.ACHIEVED
    assert ticket.resolved_at == T0
    assert [kind for kind, _, _ in outbox(ticket)] == [CREATED, WARNING]


def test_reopening_inside_the_window_resumes_tracking_with_a_warning(clock, make_ticket):
    ticket = make_ticket(due_in=2 * HOUR)
    services.update_ticket(ticket=ticket, status=Status.RESOLVED)
    clock.move_to(T0 + 90 * MINUTE)

    services.update_ticket(ticket=ticket, status=Status.OPEN)

    ticket = fresh(ticket)
    assert ticket.resolution_state == SlaState.AT_RISK
    assert ticket.resolved_at is None
    assert ticket.next_check_at == T0 + 2 * HOUR
    assert [kind for kind, _, _ in outbox(ticket)] == [CREATED, WARNING]


def test_reopening_before_the_window_waits_for_the_window(clock, make_ticket):
    ticket = make_ticket(due_in=30 * MINUTE)
    services.update_ticket(ticket=ticket, status=Status.RESOLVED, deadline=T0 + 3 * HOUR)

    services.update_ticket(ticket=ticket, status=Status.OPEN)
    assert fresh(ticket).next_check_at == T0 + 2 * HOUR
    clock.move_to(T0 + 2 * HOUR)
    run_transitions()

    assert outbox(ticket) == [
        (CREATED, T0 + 30 * MINUTE, PENDING),
        (WARNING, T0 + 30 * MINUTE, CANCELLED),
        (WARNING, T0 + 3 * HOUR, PENDING),
    ]


def test_reopening_a_ticket_whose_warning_was_cancelled_warns_again(clock, make_ticket):
    ticket = make_ticket(due_in=30 * MINUTE)
    services.update_ticket(ticket=ticket, status=Status.RESOLVED)
    clock.shift(5 * MINUTE)

    services.update_ticket(ticket=ticket, status=Status.OPEN)

    assert outbox(ticket) == [
        (CREATED, T0 + 30 * MINUTE, PENDING),
        (WARNING, T0 + 30 * MINUTE, CANCELLED),
        (WARNING, T0 + 30 * MINUTE, PENDING),
    ]


def test_reopening_does_not_repeat_a_warning_delivered_for_the_same_deadline(
    clock, make_ticket, mailoutbox
):
    ticket = make_ticket(due_in=30 * MINUTE)
    deliver_due()
    services.update_ticket(ticket=ticket, status=Status.RESOLVED)
    clock.shift(5 * MINUTE)

    services.update_ticket(ticket=ticket, status=Status.OPEN)

    assert fresh(ticket).resolution_state == SlaState.AT_RISK
    assert outbox(ticket) == [
        (CREATED, T0 + 30 * MINUTE, SENT),
        (WARNING, T0 + 30 * MINUTE, SENT),
    ]


def test_reopening_after_the_deadline_sends_the_missed_email(clock, make_ticket):
    ticket = make_ticket(due_in=2 * HOUR)
    services.update_ticket(ticket=ticket, status=Status.RESOLVED)
    clock.move_to(T0 + 3 * HOUR)

    services.update_ticket(ticket=ticket, status=Status.OPEN)

    ticket = fresh(ticket)
    assert ticket.resolution_state == SlaState.BREACHED
    assert ticket.resolution_breached_at == T0 + 2 * HOUR
    assert ticket.next_check_at is None
    assert [kind for kind, _, _ in outbox(ticket)] == [CREATED, MISSED]


def test_reopening_a_ticket_resolved_late_does_not_repeat_the_delivered_miss(
    clock, make_ticket, mailoutbox
):
    ticket = make_ticket(due_in=-MINUTE)
    deliver_due()
    services.update_ticket(ticket=ticket, status=Status.RESOLVED)

    services.update_ticket(ticket=ticket, status=Status.OPEN)

    assert fresh(ticket).resolution_state == SlaState.BREACHED
    assert [(kind, status) for kind, _, status in outbox(ticket)] == [
        (CREATED, SENT),
        (MISSED, SENT),
    ]


def test_reopening_a_late_ticket_whose_missed_email_was_dropped_announces_it_again(
    clock, make_ticket
):
    ticket = make_ticket(due_in=30 * MINUTE)
    clock.move_to(T0 + HOUR)
    run_transitions()
    services.update_ticket(ticket=ticket, status=Status.RESOLVED)  # cancels the missed email

    services.update_ticket(ticket=ticket, status=Status.OPEN)

    assert fresh(ticket).resolution_state == SlaState.BREACHED
    assert [(kind, status) for kind, _, status in outbox(ticket)] == [
        (CREATED, PENDING),
        (WARNING, CANCELLED),
        (MISSED, CANCELLED),
        (MISSED, PENDING),
    ]


# --- The warning window setting -----------------------------------------------------------


def test_the_warning_window_follows_sla_warning_minutes(clock, make_ticket, settings):
    settings.SLA_WARNING_MINUTES = 15
    ticket = make_ticket(due_in=30 * MINUTE)
    assert fresh(ticket).resolution_state == SlaState.ON_TRACK
    assert fresh(ticket).next_check_at == T0 + 15 * MINUTE
    clock.move_to(T0 + 15 * MINUTE)

    run_transitions()

    assert fresh(ticket).resolution_state == SlaState.AT_RISK
    assert [kind for kind, _, _ in outbox(ticket)] == [CREATED, WARNING]


def test_a_window_shortened_later_moves_the_next_check_without_announcing(
    clock, make_ticket, settings
):
    ticket = make_ticket(due_in=2 * HOUR)  # next check at the 60-minute window
    settings.SLA_WARNING_MINUTES = 15
    clock.move_to(T0 + HOUR)

    assert run_transitions() == 0

    ticket = fresh(ticket)
    assert ticket.resolution_state == SlaState.ON_TRACK
    assert ticket.next_check_at == T0 + 2 * HOUR - 15 * MINUTE
    assert [kind for kind, _, _ in outbox(ticket)] == [CREATED]
