"""Assignees, teams and profiles in the admin: the API's rules, as form errors."""

from datetime import timedelta

import pytest
from django.test import Client

from notifications.models import Notification
from people.models import EscalationLevel, Profile
from tests.conftest import T0
from tests.factories import TeamFactory
from tickets.models import Ticket

CHANGE = "/admin/tickets/ticket/{}/change/"


@pytest.fixture
def admin_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def posted(response, **changes):
    """The change form's current values, as the browser would send them back, changed."""
    form = response.context["adminform"].form
    data = {}
    for field in form:
        value = field.value()
        if field.name == "deadline":
            data["deadline_0"], data["deadline_1"] = value.date().isoformat(), value.time()
        elif value is not None:
            data[field.html_name] = value
    data.update(changes)
    return data


def test_the_admin_refuses_an_assignee_outside_the_ticket_s_team(
    clock, admin_client, make_ticket, alice, bob
):
    support = TeamFactory.create(name="Support", members=[alice])
    ticket = make_ticket(owner=alice, team=support)
    page = admin_client.get(CHANGE.format(ticket.pk))

    response = admin_client.post(CHANGE.format(ticket.pk), posted(page, assignee=bob.pk))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["assignee"] == [
        "The assignee must be a member of the ticket's team (or staff)."
    ]
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None


def test_staff_assign_a_team_member_in_the_admin(clock, admin_client, make_ticket, alice, bob):
    support = TeamFactory.create(name="Support", members=[alice, bob])
    ticket = make_ticket(owner=alice, team=support)
    page = admin_client.get(CHANGE.format(ticket.pk))

    response = admin_client.post(CHANGE.format(ticket.pk), posted(page, assignee=bob.pk))

    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == bob.pk


def test_the_team_and_profile_admins_load(admin_client, alice):
    TeamFactory.create(name="Support", members=[alice], lead=alice)
    Profile.objects.create(user=alice)

    assert admin_client.get("/admin/people/team/").status_code == 200
    assert admin_client.get("/admin/people/profile/").status_code == 200


def test_the_profile_admin_refuses_one_end_of_quiet_hours(admin_client, alice):
    profile = Profile.objects.create(user=alice)

    response = admin_client.post(
        f"/admin/people/profile/{profile.pk}/change/",
        {"user": alice.pk, "time_zone": "Europe/Berlin", "quiet_hours_start": "22:00"},
    )

    assert response.status_code == 200
    assert "quiet_hours_end" in response.context["adminform"].form.errors
    assert Profile.objects.get(pk=profile.pk).time_zone == "UTC"


ESCALATION_ADD = "/admin/people/escalationpolicy/add/"


def _levels_form(**level):
    data = {
        "name": "Wake the lead",
        "levels-TOTAL_FORMS": "1",
        "levels-INITIAL_FORMS": "0",
        "levels-MIN_NUM_FORMS": "0",
        "levels-MAX_NUM_FORMS": "1000",
        "levels-0-position": "1",
        "levels-0-delay": "0",
        "levels-0-repeat_limit": "0",
        "levels-0-roles": '["team_lead"]',
    }
    data.update({f"levels-0-{key}": value for key, value in level.items()})
    return data


def test_staff_add_an_escalation_policy_with_its_levels_in_the_admin(admin_client):
    response = admin_client.post(
        ESCALATION_ADD,
        _levels_form(trigger="breach", repeat_every="00:10:00", repeat_limit="3"),
    )

    assert response.status_code == 302
    [level] = EscalationLevel.objects.all()
    assert (level.trigger, level.roles, level.repeat_limit) == ("breach", ["team_lead"], 3)


@pytest.mark.parametrize(
    ("level", "message"),
    [
        ({"trigger": "warning", "repeat_every": "00:10:00", "repeat_limit": "2"}, "Only breach"),
        ({"trigger": "breach", "roles": '["boss"]'}, "Unknown roles: boss"),
        ({"trigger": "breach", "roles": "[]"}, "Name at least one role"),
        ({"trigger": "breach", "repeat_every": "00:10:00"}, "Give both"),
    ],
)
def test_the_admin_refuses_a_level_that_cannot_work(admin_client, level, message):
    response = admin_client.post(ESCALATION_ADD, _levels_form(**level))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not EscalationLevel.objects.exists()


def test_quiet_hours_changed_in_the_admin_move_what_is_held(
    clock, admin_client, make_ticket, alice
):
    profile = Profile.objects.create(
        user=alice, time_zone="Europe/Berlin", quiet_hours_start="22:00", quiet_hours_end="07:00"
    )
    ticket = make_ticket()
    held = Notification.objects.create(
        ticket=ticket,
        kind="missed",
        deadline=ticket.deadline,
        level=2,
        recipient_user=alice,
        status="held",
        held_until=ticket.deadline + timedelta(hours=9),
        next_attempt_at=ticket.deadline + timedelta(hours=9),
    )

    response = admin_client.post(
        f"/admin/people/profile/{profile.pk}/change/",
        {"user": alice.pk, "time_zone": "Europe/Berlin", "email_enabled": "on"},
    )

    assert response.status_code == 302
    held.refresh_from_db()
    assert (held.status, held.held_until) == ("pending", T0)


def test_the_notifications_admin_shows_escalation_rows(clock, admin_client, make_ticket, bob):
    ticket = make_ticket()
    Notification.objects.create(
        ticket=ticket,
        kind="missed",
        deadline=ticket.deadline,
        level=2,
        repeat=1,
        recipient_user=bob,
        status="held",
        held_until=ticket.deadline,
    )

    page = admin_client.get("/admin/notifications/notification/?level=2")

    assert page.status_code == 200
    rows = page.context["cl"].result_list
    assert [(n.level, n.repeat, n.recipient_user) for n in rows] == [(2, 1, bob)]
