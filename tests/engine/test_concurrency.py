"""Checkers and editors at the same time: every SLA email created once and delivered once.

Real concurrency on whichever database the suite runs on (CI runs it on SQLite and on
PostgreSQL): threads with a connection each, or separate `manage.py check_sla` processes,
all against a committed test database and a real SMTP server on loopback. On PostgreSQL
the checkers share the work through SKIP LOCKED; on SQLite their write transactions
begin IMMEDIATE and take turns. Either way the outcome must be the same.
"""

import random
import re
import threading
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from notifications import outbox
from notifications.models import DeliveryStatus, Notification
from sla.enums import Announcement, Metric, SlaState
from tests.checker_processes import (
    Expected,
    bulk_due_tickets,
    checker_environment,
    finish,
    side_by_side,
    start_check_sla,
)
from tests.durations import MINUTE
from tests.smtp_server import SmtpServer
from tickets import services
from tickets.checker import deliver_due
from tickets.clocks import warning_window
from tickets.engine import run_transitions
from tickets.models import Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHECKERS = 4


def assert_each_announced_exactly_once(expected: Expected, server: SmtpServer) -> None:
    """Created once (one row per ticket, kind and deadline) and delivered once."""
    rows = list(Notification.objects.values_list("ticket_id", "kind", "deadline", "status"))
    created = Counter((ticket_id, kind, deadline) for ticket_id, kind, deadline, _ in rows)
    assert [key for key, count in created.items() if count > 1] == []
    assert set(created) == expected
    assert Counter(status for *_, status in rows) == {DeliveryStatus.SENT: len(expected)}

    delivered = Counter(server.message_ids())
    assert [message_id for message_id, count in delivered.items() if count > 1] == []
    assert set(delivered) == {n.message_id for n in Notification.objects.all()}


def test_four_checker_threads_create_and_deliver_each_of_1200_emails_exactly_once(
    alice, smtp_settings, settings
):
    # Small batches, so the four checkers interleave over many transactions each.
    settings.SLA_DELIVERY_BATCH_SIZE = 20
    now = timezone.now()
    expected = bulk_due_tickets(owner=alice, now=now, count=1200)

    def check() -> tuple[int, int]:
        changes = run_transitions(now=now, batch_size=25)
        return changes, deliver_due(now=now).sent

    results = side_by_side(*[check] * CHECKERS)

    # Between them the checkers moved each ticket once and sent each email once.
    assert sum(changes for changes, _ in results) == 1200
    assert sum(sent for _, sent in results) == 1200
    assert_each_announced_exactly_once(expected, smtp_settings)
    # Every claim took a row no other sender held: one attempt each, no lease overrun.
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}
    states = Counter(Ticket.objects.values_list("resolution_state", flat=True))
    assert states == {SlaState.AT_RISK: 400, SlaState.BREACHED: 800}


@pytest.mark.slow
def test_four_check_sla_processes_over_1000_due_tickets_send_each_email_exactly_once(
    alice, smtp_server
):
    now = timezone.now()
    expected = bulk_due_tickets(owner=alice, now=now, count=1002)
    # A third of them still have their creation email queued, so all four processes have
    # mail to send from the start: on PostgreSQL the one that locks the whole transition
    # batch would otherwise be the only one with anything to deliver.
    creations = {
        (ticket_id, Announcement.CREATED, deadline)
        for ticket_id, _, deadline in expected
        if ticket_id % 3 == 0
    }
    outbox.enqueue(
        [(ticket, Metric.RESOLUTION, kind, deadline, 0) for ticket, kind, deadline in creations],
        now=now,
    )
    environment = checker_environment(smtp_port=smtp_server.port, SLA_DELIVERY_BATCH_SIZE=10)

    processes = [start_check_sla(environment) for _ in range(CHECKERS)]
    summaries = [finish(process) for process in processes]

    sent = [int(re.findall(r"(\d+) sent", summary)[0]) for summary in summaries]
    assert sum(sent) == len(expected | creations)
    assert len([n for n in sent if n]) > 1, summaries
    assert_each_announced_exactly_once(expected | creations, smtp_server)


def test_a_deadline_moved_while_the_checker_runs_is_announced_only_for_the_new_deadline(
    alice, smtp_settings
):
    """The editor moves each due ticket's deadline (out of reach, or further into the past)
    in a random order while a checker breaches them one transaction at a time. Whoever
    locks a ticket first, the end state must be the edited one, and no email may be left
    that speaks of the old deadline.
    """
    checker_went_first = edits = 0
    for round_number in range(6):
        went_first, edited = race_checker_and_editor(owner=alice, seed=round_number)
        checker_went_first += went_first
        edits += edited

    # Both orders happened (one of each is arranged in every round, see below).
    assert 0 < checker_went_first < edits

    deliver_due(now=timezone.now())
    live = Notification.objects.exclude(status=DeliveryStatus.CANCELLED)
    assert sorted(smtp_settings.kinds()) == sorted(live.values_list("kind", flat=True))
    assert Counter(smtp_settings.message_ids()) == Counter(n.message_id for n in live)


def race_checker_and_editor(*, owner: User, seed: int, count: int = 40) -> tuple[int, int]:
    """One round; returns how many tickets the checker reached first, and how many raced."""
    now = timezone.now()
    # Due for the checker: on track, deadline just passed, so it would announce a miss.
    tickets = [
        services.create_ticket(
            owner=owner,
            title=f"Round {seed} ticket {index}",
            deadline=now - timedelta(minutes=1) - timedelta(seconds=index),
            now=now - 2 * warning_window(),
        )
        for index in range(count)
    ]
    old_deadlines = {ticket.pk: ticket.deadline for ticket in tickets}
    new_deadlines = {
        ticket.pk: now + 3 * warning_window() if index % 2 else ticket.deadline - 10 * MINUTE
        for index, ticket in enumerate(tickets)
    }
    order = list(tickets)
    random.Random(seed).shuffle(order)
    # Both orders, whatever the scheduler does: the editor settles the first ticket before
    # the race and the checker breaches the last; the tickets between are raced for.
    editor_first, checker_first = order[0], order[-1]
    services.update_ticket(ticket=editor_first, deadline=new_deadlines[editor_first.pk], now=now)
    changes = run_transitions(now=now, ticket_ids=[checker_first.pk])

    def edit() -> int:
        for ticket in order[1:]:
            services.update_ticket(ticket=ticket, deadline=new_deadlines[ticket.pk], now=now)
        return 0

    def check() -> int:
        return run_transitions(now=now, batch_size=1)

    raced_changes, _ = side_by_side(check, edit)
    changes += raced_changes

    went_first = assert_edit_won(tickets, old_deadlines, new_deadlines, now=now)
    # The checker changed exactly the tickets it reached before their edit.
    assert changes == went_first
    # And nothing is left for a later check to find.
    assert run_transitions(now=now) == 0
    return went_first, count


def assert_edit_won(
    tickets: list[Ticket],
    old_deadlines: dict[int, datetime],
    new_deadlines: dict[int, datetime],
    *,
    now: datetime,
) -> int:
    """Each ticket is in the state its new deadline calls for; returns how many the
    checker had breached (and announced for the old deadline) before the edit.
    """
    checker_went_first = 0
    for ticket in Ticket.objects.filter(pk__in=[t.pk for t in tickets]):
        new, old = new_deadlines[ticket.pk], old_deadlines[ticket.pk]
        rows = list(ticket.notifications.exclude(kind=Announcement.CREATED))
        live = [(n.kind, n.deadline) for n in rows if n.status != DeliveryStatus.CANCELLED]
        about_old = [(n.kind, n.status) for n in rows if n.deadline == old]
        assert ticket.deadline == new
        if new > now:
            assert (ticket.resolution_state, ticket.next_check_at) == (
                SlaState.ON_TRACK,
                new - warning_window(),
            )
            assert ticket.resolution_breached_at is None
            assert live == []
        else:
            assert (ticket.resolution_state, ticket.resolution_breached_at) == (
                SlaState.BREACHED,
                new,
            )
            assert ticket.next_check_at is None
            assert live == [(Announcement.MISSED, new)]
        # The checker's miss for the old deadline, if it got there first: once, cancelled.
        assert about_old in ([], [(Announcement.MISSED, DeliveryStatus.CANCELLED)])
        checker_went_first += len(about_old)
    return checker_went_first


def test_a_delete_beside_an_edit_of_the_same_ticket_waits_instead_of_deadlocking(alice):
    """Found by the fuzzing gate: a DELETE beside a PATCH of one ticket was a 500.

    The edit locks the ticket, then its notifications; the delete's cascade took the
    notifications first, then the ticket. Row locks make that a deadlock on PostgreSQL.
    """
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's IMMEDIATE transactions take turns: no row locks to cross")
    ticket = services.create_ticket(
        owner=alice, title="Raced", deadline=timezone.now() + timedelta(hours=1)
    )
    assert Notification.objects.filter(ticket=ticket).exists()
    locked, errors = threading.Event(), []

    def edit() -> None:
        try:
            with transaction.atomic():
                Ticket.objects.select_for_update().get(pk=ticket.pk)
                locked.set()
                # Time for the delete to start and, before the fix, lock the notifications.
                time.sleep(0.5)
                Notification.objects.filter(ticket_id=ticket.pk).update(last_error="edited")
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    editor = threading.Thread(target=edit)
    editor.start()
    assert locked.wait(timeout=10)
    try:
        services.delete_ticket(ticket=ticket)
    except Exception as error:
        errors.append(error)
    editor.join(timeout=30)

    assert errors == []
    assert not Ticket.objects.filter(pk=ticket.pk).exists()


def test_four_checkers_escalate_each_firing_to_each_person_exactly_once(
    alice, make_user, smtp_settings, settings
):
    """600 tickets of a team (lead bob, assignee dave) under the default escalation policy:
    a warning level for the assignee, a breach level for the lead and the assignee that
    repeats twice every 10 minutes, and a level 30 minutes after the breach for the lead.
    Four checkers race at the breach and at each later firing time (bulk_due_tickets: the
    missed tickets' deadlines lie 1 to 15 minutes back, so by +30 all their firings are
    due)."""
    from people.models import EscalationLevel, EscalationPolicy
    from tests.factories import TeamFactory

    settings.SLA_DELIVERY_BATCH_SIZE = 20
    bob, dave = make_user("bob"), make_user("dave")
    team = TeamFactory.create(name="Support", members=[dave], lead=bob)
    policy = EscalationPolicy.objects.create(name="Default", is_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, trigger="warning", roles=["assignee"])
    EscalationLevel.objects.create(
        policy=policy,
        position=2,
        trigger="breach",
        roles=["team_lead", "assignee"],
        repeat_every=10 * MINUTE,
        repeat_limit=2,
    )
    EscalationLevel.objects.create(
        policy=policy, position=3, trigger="breach", delay=30 * MINUTE, roles=["team_lead"]
    )
    now = timezone.now()
    expected = bulk_due_tickets(owner=alice, now=now, count=600)
    Ticket.objects.update(team=team, assignee=dave)

    for minutes in (0, 10, 20, 30, 40):
        at = now + minutes * MINUTE

        def check(at: datetime = at) -> int:
            run_transitions(now=at, batch_size=25)
            return deliver_due(now=at).sent

        side_by_side(*[check] * CHECKERS)

    missed = [key for key in expected if key[1] == Announcement.MISSED]
    warned = [key for key in expected if key[1] == Announcement.WARNING]
    rows = list(
        Notification.objects.filter(level__gt=0).values_list(
            "ticket_id", "kind", "level", "repeat", "recipient_user__username", "status"
        )
    )
    made = Counter(row[:5] for row in rows)
    assert [key for key, count in made.items() if count > 1] == []
    # The warned tickets' deadlines fall between +20 and +30 minutes: by +40 their breach
    # level has fired and repeated once, no more.
    wanted = (
        {(t, "warning", 1, 0, "dave") for t, _, _ in warned}
        | {
            (t, "missed", 2, repeat, person)
            for t, _, _ in warned
            for repeat in (0, 1)
            for person in ("bob", "dave")
        }
        | {
            (t, "missed", level, repeat, person)
            for t, _, _ in missed
            for level, repeat, person in [
                *((2, n, p) for n in range(3) for p in ("bob", "dave")),
                (3, 0, "bob"),
            ]
        }
    )
    assert set(made) == wanted
    assert {row[5] for row in rows} == {DeliveryStatus.SENT}
    delivered = Counter(smtp_settings.message_ids())
    assert [message_id for message_id, count in delivered.items() if count > 1] == []
    assert len(delivered) == Notification.objects.filter(status=DeliveryStatus.SENT).count()
