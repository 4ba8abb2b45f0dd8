"""Every ticket in the table is watched, however it got there.

A ticket inserted without tickets.services (the ORM, bulk_create, raw SQL, loaddata, another
app's code) starts UNASSESSED, so the next check assesses it and announces what is due,
exactly once; a plain save() of an existing ticket marks it due again. Deliveries go to a
real SMTP server on loopback; the clock is frozen at T0.
"""

import json
from collections import Counter

from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from notifications.models import Notification
from sla.enums import Announcement, SlaState
from tests.conftest import T0
from tests.durations import HOUR, MINUTE
from tickets.checker import run_check
from tickets.models import UNASSESSED, Ticket


def kinds_received(server) -> Counter[tuple[int, str]]:
    return Counter((m.ticket_id, m.kind) for m in server.received())


def test_an_orm_ticket_is_warned_and_one_past_its_deadline_is_announced_missed(
    clock, alice, smtp_settings
):
    soon = Ticket.objects.create(owner=alice, title="Due soon", deadline=T0 + 30 * MINUTE)
    late = Ticket.objects.create(owner=alice, title="Late", deadline=T0 - 30 * MINUTE)

    report = run_check()

    assert report.state_changes == 2
    assert kinds_received(smtp_settings) == {
        (soon.pk, Announcement.WARNING): 1,
        (late.pk, Announcement.MISSED): 1,
    }
    soon.refresh_from_db()
    late.refresh_from_db()
    assert (soon.resolution_state, late.resolution_state) == (SlaState.AT_RISK, SlaState.BREACHED)
    assert soon.next_check_at == soon.deadline  # watched on, like an API ticket


def test_an_orm_ticket_is_announced_once_however_often_the_check_runs(clock, alice, smtp_settings):
    Ticket.objects.create(owner=alice, title="Late", deadline=T0 - MINUTE)

    run_check()
    run_check()
    clock.shift(HOUR)
    run_check()

    assert len(smtp_settings.received()) == 1
    assert Notification.objects.count() == 1


def test_an_orm_ticket_gets_no_creation_email(clock, alice, smtp_settings):
    Ticket.objects.create(owner=alice, title="Quiet", deadline=T0 + 5 * HOUR)

    report = run_check()

    assert report.delivery.sent == 0
    assert not Notification.objects.filter(kind=Announcement.CREATED).exists()


def test_bulk_created_tickets_are_watched(clock, alice, smtp_settings):
    created = Ticket.objects.bulk_create(
        Ticket(owner=alice, title=f"T{n}", deadline=T0 - n * MINUTE) for n in range(1, 4)
    )

    run_check()

    assert sorted(m.ticket_id for m in smtp_settings.received()) == sorted(
        t.pk for t in Ticket.objects.filter(title__in=[t.title for t in created])
    )


def test_a_row_inserted_with_raw_sql_is_watched(clock, alice, smtp_settings):
    # Every NOT NULL column without a database default, and nothing else: what another
    # program writing to the table would do.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tickets_ticket (owner_id, title, description, deadline, status,"
            " priority, created_at, updated_at, deadline_source, resolution_state)"
            " VALUES (%s, 'Raw', '', %s, 'open', 'normal', %s, %s, 'manual', 'on_track')",
            [alice.pk, T0 - MINUTE, T0, T0],
        )
    ticket = Ticket.objects.get(title="Raw")
    assert ticket.next_check_at == UNASSESSED

    run_check()

    assert kinds_received(smtp_settings) == {(ticket.pk, Announcement.MISSED): 1}


def test_a_ticket_loaded_from_a_fixture_is_watched(clock, alice, smtp_settings, tmp_path):
    fixture = tmp_path / "tickets.json"
    fixture.write_text(
        json.dumps(
            [
                {
                    "model": "tickets.ticket",
                    "pk": 4242,
                    "fields": {
                        "owner": alice.pk,
                        "title": "Imported",
                        "deadline": (T0 + 20 * MINUTE).isoformat(),
                        "updated_at": T0.isoformat(),
                    },
                }
            ]
        )
    )
    call_command("loaddata", str(fixture), verbosity=0)

    run_check()

    assert kinds_received(smtp_settings) == {(4242, Announcement.WARNING): 1}


def test_a_plain_save_that_moves_a_deadline_is_assessed_at_the_next_check(
    clock, make_ticket, smtp_settings
):
    ticket = make_ticket(due_in=5 * HOUR)  # announced as created; next look in 4 hours
    run_check()
    ticket.refresh_from_db()
    assert ticket.next_check_at == T0 + 4 * HOUR

    ticket.deadline = T0 - MINUTE
    ticket.save()
    run_check()

    assert kinds_received(smtp_settings) == {
        (ticket.pk, Announcement.CREATED): 1,
        (ticket.pk, Announcement.MISSED): 1,
    }


def test_a_save_with_update_fields_marks_the_row_due_too(clock, make_ticket, smtp_settings):
    ticket = make_ticket(due_in=5 * HOUR)
    ticket.deadline = T0 + 10 * MINUTE

    ticket.save(update_fields=["deadline"])

    ticket.refresh_from_db()
    assert ticket.next_check_at == UNASSESSED


def test_check_and_notify_sla_brings_an_orm_ticket_up_to_date(clock, alice, smtp_settings):
    ticket = Ticket.objects.create(owner=alice, title="Late", deadline=T0 - 30 * MINUTE)

    ticket.check_and_notify_sla()

    assert ticket.resolution_state == SlaState.BREACHED
    assert ticket.sla_missed
    assert kinds_received(smtp_settings) == {(ticket.pk, Announcement.MISSED): 1}


def test_the_original_spec_loop_announces_orm_tickets_once(clock, alice, smtp_settings):
    Ticket.objects.create(owner=alice, title="Soon", deadline=T0 + 30 * MINUTE)
    Ticket.objects.create(owner=alice, title="Late", deadline=T0 - 30 * MINUTE)

    for _ in range(2):
        for ticket in Ticket.objects.all():
            ticket.check_and_notify_sla()

    assert sorted(m.kind for m in smtp_settings.received()) == [
        Announcement.MISSED,
        Announcement.WARNING,
    ]


def test_check_and_notify_sla_assesses_a_ticket_that_is_not_due(clock, make_ticket, smtp_settings):
    ticket = make_ticket(due_in=5 * HOUR)
    # Made stale behind the engine's back: a deadline moved with update(), which no save()
    # sees, and next_check_at left hours ahead.
    Ticket.objects.filter(pk=ticket.pk).update(deadline=timezone.now() - MINUTE)

    ticket.check_and_notify_sla()

    assert ticket.resolution_state == SlaState.BREACHED
    assert kinds_received(smtp_settings)[(ticket.pk, Announcement.MISSED)] == 1


def test_a_resolved_orm_ticket_is_assessed_and_never_watched_again(clock, alice, smtp_settings):
    ticket = Ticket.objects.create(
        owner=alice, title="Done", deadline=T0 - HOUR, status="resolved", resolved_at=T0 - 2 * HOUR
    )

    run_check()

    ticket.refresh_from_db()
    assert ticket.resolution_state == SlaState.ACHIEVED
    assert ticket.next_check_at is None
    assert smtp_settings.received() == []
