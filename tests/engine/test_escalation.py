"""Escalation levels end to end through the engine, the outbox and delivery.

A team "Support" (lead bob, members alice and dave, escalation contact the manager), an
urgent policy of 2 hours warning 30 minutes before, and its escalation policy:
level 1 at each warning tells the assignee and the team's channels; level 2 at the breach
tells the lead and the assignee, again every 10 minutes up to 3 times; level 3 30 minutes
after the breach tells the escalation contact, through quiet hours.

Emails land in Django's locmem outbox here (the real SMTP walkthrough is in
tests/notifications/test_escalation_delivery.py); the engine's rows are what is checked.
"""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core import mail

from notifications.models import DeliveryStatus, Notification
from people.models import EscalationLevel, EscalationPolicy
from people.services import update_profile
from policies.models import SlaPolicy
from sla.enums import Priority
from tests.conftest import client_for
from tests.factories import CalendarFactory, TeamFactory, urgent_policy
from tickets import services
from tickets.checker import run_check
from tickets.models import SlaEvent

MINUTE = timedelta(minutes=1)


@pytest.fixture
def people(make_user, alice):
    bob = make_user("bob")
    dave = make_user("dave")
    manager = make_user("manager")
    team = TeamFactory.create(
        name="Support", members=[alice, dave], lead=bob, escalation_contact=manager
    )
    return {"alice": alice, "bob": bob, "dave": dave, "manager": manager, "team": team}


@pytest.fixture
def escalation(db):
    policy = EscalationPolicy.objects.create(name="Wake the lead")
    EscalationLevel.objects.create(
        policy=policy, position=1, trigger="warning", roles=["assignee", "team_channels"]
    )
    EscalationLevel.objects.create(
        policy=policy,
        position=2,
        trigger="breach",
        roles=["team_lead", "assignee"],
        repeat_every=10 * MINUTE,
        repeat_limit=3,
    )
    EscalationLevel.objects.create(
        policy=policy,
        position=3,
        trigger="breach",
        delay=30 * MINUTE,
        roles=["escalation_contact"],
        breaks_quiet_hours=True,
    )
    return policy


@pytest.fixture
def policy(escalation):
    return urgent_policy(
        CalendarFactory.create(),
        resolution_target=2 * 60 * MINUTE,
        warning_lead_times=[30 * 60],
        escalation_policy=escalation,
    )


@pytest.fixture
def ticket(clock, make_ticket, people, policy):
    made = make_ticket(
        priority=Priority.URGENT, team=people["team"], assignee=people["alice"], deadline=None
    )
    run_check()  # the creation email
    mail.outbox.clear()
    return made


def sent_to(username):
    return [m for m in mail.outbox if m.to == [f"{username}@example.com"]]


def levels_of(ticket, username):
    rows = Notification.objects.filter(ticket=ticket, recipient_user__username=username)
    return sorted(rows.values_list("kind", "level", "repeat"))


def test_the_warning_tells_the_assignee_besides_the_owner(clock, ticket):
    clock.shift(90 * MINUTE)  # 30 minutes left
    run_check()

    assert levels_of(ticket, "alice") == [("warning", 1, 0)]
    # alice is also the owner: her own warning email (level 0) and the level's.
    assert [m.subject.split(":")[0] for m in sent_to("alice")] == [
        "[SLA Watchdog] SLA at risk",
        "[SLA Watchdog] SLA at risk (escalation level 1)",
    ]
    assert sent_to("bob") == []


def test_three_levels_with_repeats_each_once(clock, ticket):
    clock.shift(90 * MINUTE)
    run_check()
    clock.shift(30 * MINUTE)  # the breach
    run_check()
    run_check()
    assert levels_of(ticket, "bob") == [("missed", 2, 0)]
    for _ in range(4):  # +10, +20, +30 (the repeat, and level 3), +40: nothing more
        clock.shift(10 * MINUTE)
        run_check()
        run_check()

    assert levels_of(ticket, "bob") == [("missed", 2, n) for n in range(4)]
    assert levels_of(ticket, "manager") == [("missed", 3, 0)]
    assert len(sent_to("bob")) == 4
    assert [m.subject for m in sent_to("manager")] == [
        f"[SLA Watchdog] SLA missed (escalation level 3): #{ticket.pk} Printer on fire"
    ]
    ticket.refresh_from_db()
    assert ticket.next_check_at is None  # nothing left to fire


def test_acknowledging_at_level_two_stops_the_repeats_and_level_three(clock, ticket, people):
    clock.shift(120 * MINUTE)
    run_check()
    clock.shift(10 * MINUTE)
    run_check()  # the first repeat
    response = client_for(people["bob"]).post(f"/api/tickets/{ticket.pk}/acknowledge/")
    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == people["bob"].pk
    for _ in range(5):
        clock.shift(10 * MINUTE)
        run_check()

    assert levels_of(ticket, "bob") == [("missed", 2, 0), ("missed", 2, 1)]
    assert levels_of(ticket, "manager") == []
    ticket.refresh_from_db()
    assert ticket.next_check_at is None
    [event] = SlaEvent.objects.filter(ticket=ticket, kind="acknowledged")
    assert event.detail == "by bob"


def test_a_new_deadline_re_arms_the_escalation(clock, ticket, people):
    clock.shift(120 * MINUTE)
    run_check()
    services.acknowledge(ticket=ticket, user=people["bob"])
    services.update_ticket(ticket=ticket, deadline=datetime.now(tz=UTC) + 60 * MINUTE)
    ticket.refresh_from_db()
    assert ticket.acknowledged_at is None
    clock.shift(60 * MINUTE)
    run_check()

    assert levels_of(ticket, "bob") == [("missed", 2, 0), ("missed", 2, 0)]
    deadlines = Notification.objects.filter(ticket=ticket, recipient_user=people["bob"])
    assert len(set(deadlines.values_list("deadline", flat=True))) == 2


def test_reassigning_sends_the_new_assignee_only_what_is_still_to_come(clock, ticket, people):
    clock.shift(120 * MINUTE)
    run_check()  # level 2 to bob and alice
    services.update_ticket(ticket=ticket, assignee=people["dave"])
    run_check()
    assert levels_of(ticket, "dave") == []
    clock.shift(10 * MINUTE)
    run_check()

    assert levels_of(ticket, "alice") == [("missed", 2, 0)]
    assert levels_of(ticket, "dave") == [("missed", 2, 1)]


def test_changing_the_team_never_re_sends_what_was_sent(clock, ticket, people, make_user):
    clock.shift(120 * MINUTE)
    run_check()
    other_lead = make_user("olga")
    other = TeamFactory.create(name="Billing", members=[people["alice"]], lead=other_lead)
    services.update_ticket(ticket=ticket, team=other)
    run_check()
    clock.shift(10 * MINUTE)
    run_check()

    assert levels_of(ticket, "bob") == [("missed", 2, 0)]
    assert levels_of(ticket, "olga") == [("missed", 2, 1)]


def quiet_alice(people):
    update_profile(
        user=people["alice"],
        time_zone="Europe/Berlin",
        quiet_hours_start=time(22),
        quiet_hours_end=time(7),
    )


def held_warning_for_alice(clock, policy, people):
    """alice quiet 22:00-07:00 Berlin; her level-1 warning held at 23:00 UTC until 06:00."""
    quiet_alice(people)
    SlaPolicy.objects.filter(pk=policy.pk).update(warning_lead_times=[10 * 3600])
    clock.move_to(datetime(2026, 3, 10, 21, 0, tzinfo=UTC))
    late = services.create_ticket(
        owner=people["bob"],
        title="Late",
        priority=Priority.URGENT,
        team=people["team"],
        assignee=people["alice"],
        deadline=datetime(2026, 3, 11, 9, 0, tzinfo=UTC),
    )
    clock.move_to(datetime(2026, 3, 10, 23, 0, tzinfo=UTC))
    run_check()
    [row] = Notification.objects.filter(ticket=late, recipient_user=people["alice"])
    assert row.held_until == datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
    return row


def test_quiet_hours_hold_the_assignee_s_email_until_seven_her_time(clock, policy, people):
    """alice is quiet 22:00-07:00 in Berlin. A warning 10 hours before a 09:00 UTC
    deadline comes at 23:00 UTC, midnight in Berlin: her level-1 email waits until 07:00
    Berlin time, 06:00 UTC; the owner's own warning goes at once."""
    row = held_warning_for_alice(clock, policy, people)
    late = row.ticket

    assert (row.kind, row.status) == ("warning", DeliveryStatus.HELD)
    assert row.held_until == datetime(2026, 3, 11, 6, 0, tzinfo=UTC)  # 07:00 in Berlin
    api_rows = client_for(people["alice"]).get(f"/api/tickets/{late.pk}/notifications/").json()
    assert [r["held_until"] for r in api_rows if r["recipient_user"] == people["alice"].pk] == [
        "2026-03-11T06:00:00Z"
    ]
    assert [m.subject.split(":")[0] for m in sent_to("bob")] == [
        "[SLA Watchdog] Ticket created",
        "[SLA Watchdog] SLA at risk",
    ]
    clock.move_to(datetime(2026, 3, 11, 5, 59, tzinfo=UTC))
    run_check()
    assert sent_to("alice") == []
    clock.move_to(datetime(2026, 3, 11, 6, 0, tzinfo=UTC))
    run_check()
    row.refresh_from_db()
    assert row.status == DeliveryStatus.SENT
    assert [m.subject.split(":")[0] for m in sent_to("alice")] == [
        "[SLA Watchdog] SLA at risk (escalation level 1)"
    ]


def test_quiet_hours_changed_move_what_is_held(clock, policy, people):
    """At 23:30 UTC alice moves her quiet hours to end at 05:00 Berlin (04:00 UTC): the
    held email waits until then, not 06:00; then she drops quiet hours: it goes now."""
    row = held_warning_for_alice(clock, policy, people)
    clock.move_to(datetime(2026, 3, 10, 23, 30, tzinfo=UTC))
    update_profile(user=people["alice"], quiet_hours_end=time(5))

    row.refresh_from_db()
    assert (row.status, row.held_until) == (
        DeliveryStatus.HELD,
        datetime(2026, 3, 11, 4, 0, tzinfo=UTC),
    )
    clock.move_to(datetime(2026, 3, 11, 0, 0, tzinfo=UTC))
    client_for(people["alice"]).patch(
        "/api/me/", {"quiet_hours_start": None, "quiet_hours_end": None}, format="json"
    )
    run_check()

    row.refresh_from_db()
    assert row.status == DeliveryStatus.SENT
    assert row.held_until == datetime(2026, 3, 11, 0, 0, tzinfo=UTC)
    assert len(sent_to("alice")) == 1


def test_escalation_emails_turned_off_cancel_what_is_held(clock, policy, people):
    row = held_warning_for_alice(clock, policy, people)
    update_profile(user=people["alice"], email_enabled=False)
    clock.move_to(datetime(2026, 3, 11, 6, 0, tzinfo=UTC))
    run_check()

    row.refresh_from_db()
    assert row.status == DeliveryStatus.CANCELLED
    assert sent_to("alice") == []


def test_a_night_of_repeats_arrives_as_one_email_in_the_morning(clock, policy, people):
    """Breached at midnight in Berlin: level 2 and its three repeats fire during alice's
    quiet hours; she gets the first at 07:00, not four."""
    quiet_alice(people)
    clock.move_to(datetime(2026, 3, 10, 21, 0, tzinfo=UTC))
    late = services.create_ticket(
        owner=people["bob"],
        title="Late",
        priority=Priority.URGENT,
        team=people["team"],
        assignee=people["alice"],
    )
    for minutes in range(90, 200, 10):
        clock.move_to(datetime(2026, 3, 10, 21, 0, tzinfo=UTC) + minutes * MINUTE)
        run_check()
    clock.move_to(datetime(2026, 3, 11, 6, 0, tzinfo=UTC))
    run_check()

    rows = Notification.objects.filter(ticket=late, recipient_user=people["alice"])
    assert sorted(rows.values_list("kind", "level", "repeat", "status")) == [
        ("missed", 2, 0, DeliveryStatus.SENT),
        # The level-1 warning, held, was no longer true once the ticket breached.
        ("warning", 1, 0, DeliveryStatus.CANCELLED),
    ]
    assert len(sent_to("alice")) == 1
    assert levels_of(late, "bob") == [("missed", 2, n) for n in range(4)]


def test_a_level_that_breaks_through_wakes_its_recipient(clock, ticket, people):
    update_profile(
        user=people["manager"],
        time_zone="UTC",
        quiet_hours_start=time(0),
        quiet_hours_end=time(23, 59),
    )
    update_profile(
        user=people["bob"], time_zone="UTC", quiet_hours_start=time(0), quiet_hours_end=time(23, 59)
    )
    clock.shift(150 * MINUTE)  # 30 minutes past the breach: levels 2 and 3 at once
    run_check()

    assert len(sent_to("manager")) == 1  # level 3 breaks through
    bob = Notification.objects.get(ticket=ticket, recipient_user=people["bob"], repeat=0)
    assert bob.status == DeliveryStatus.HELD  # level 2 does not


def test_someone_who_turned_escalation_emails_off_gets_none(clock, ticket, people):
    update_profile(user=people["bob"], email_enabled=False)
    clock.shift(120 * MINUTE)
    run_check()

    assert levels_of(ticket, "bob") == []
    assert len(sent_to("alice")) == 2  # the owner's own miss, and level 2 as assignee


def test_resolving_cancels_what_is_held_and_stops_the_rest(clock, ticket, people):
    update_profile(
        user=people["bob"], time_zone="UTC", quiet_hours_start=time(0), quiet_hours_end=time(23, 59)
    )
    clock.shift(120 * MINUTE)
    run_check()
    services.update_ticket(ticket=ticket, status="resolved")
    clock.shift(60 * MINUTE)
    run_check()

    bob = Notification.objects.filter(ticket=ticket, recipient_user=people["bob"])
    assert list(bob.values_list("status", flat=True)) == [DeliveryStatus.CANCELLED]
    assert levels_of(ticket, "manager") == []


def test_without_an_escalation_policy_nothing_changes(clock, make_ticket, people):
    """No policy names one and there is no default: the owner's emails only, as always."""
    plain = make_ticket(team=people["team"], assignee=people["alice"], owner=people["dave"])
    clock.shift(110 * MINUTE)
    run_check()
    clock.shift(60 * MINUTE)
    run_check()

    rows = Notification.objects.filter(ticket=plain)
    assert not rows.filter(recipient_user__isnull=False).exists()
    assert sorted(rows.values_list("kind", "level", "repeat")) == [
        ("created", 0, 0),
        ("missed", 0, 0),
        ("warning", 0, 0),
    ]


def test_the_default_escalation_policy_serves_tickets_without_one(clock, make_ticket, people):
    default = EscalationPolicy.objects.create(name="Default", is_default=True)
    EscalationLevel.objects.create(
        policy=default, position=1, trigger="breach", roles=["team_lead"]
    )
    plain = make_ticket(team=people["team"], owner=people["dave"])
    clock.shift(3 * 60 * MINUTE)
    run_check()

    assert levels_of(plain, "bob") == [("missed", 1, 0)]


def test_the_sla_explanation_shows_what_fired_and_what_is_to_come(clock, ticket, people):
    clock.shift(130 * MINUTE)  # 10 minutes past the breach
    run_check()
    client = client_for(people["bob"])
    client.post(f"/api/tickets/{ticket.pk}/acknowledge/")

    body = client.get(f"/api/tickets/{ticket.pk}/sla/").json()

    deadline = ticket.deadline
    assert [
        (f["level"], f["repeat"], f["at"], f["fired"]) for f in body["resolution"]["escalation"]
    ] == [
        (2, 0, deadline.isoformat().replace("+00:00", "Z"), True),
        (2, 1, (deadline + 10 * MINUTE).isoformat().replace("+00:00", "Z"), True),
        (2, 2, (deadline + 20 * MINUTE).isoformat().replace("+00:00", "Z"), False),
        (2, 3, (deadline + 30 * MINUTE).isoformat().replace("+00:00", "Z"), False),
        (3, 0, (deadline + 30 * MINUTE).isoformat().replace("+00:00", "Z"), False),
    ]
    assert body["first_response"]["escalation"] == []  # the policy sets no first response
    assert body["acknowledged"]["by"] == people["bob"].pk
