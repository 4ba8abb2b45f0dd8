"""POST /api/tickets/<id>/acknowledge/: who may, when, and what the API answers."""

from datetime import timedelta

import pytest

from notifications.models import DeliveryStatus, Notification
from people.models import EscalationLevel, EscalationPolicy
from tests.conftest import client_for
from tests.factories import TeamFactory
from tickets.checker import run_check
from tickets.models import SlaEvent

MINUTE = timedelta(minutes=1)


def url(ticket):
    return f"/api/tickets/{ticket.pk}/acknowledge/"


@pytest.fixture
def team(alice, make_user):
    return TeamFactory.create(name="Support", members=[make_user("dave")], lead=make_user("bob"))


@pytest.fixture
def default_escalation(db):
    policy = EscalationPolicy.objects.create(name="Default", is_default=True)
    EscalationLevel.objects.create(
        policy=policy,
        position=1,
        trigger="breach",
        roles=["team_lead"],
        repeat_every=10 * MINUTE,
        repeat_limit=5,
    )
    return policy


@pytest.fixture
def breached(clock, make_ticket, alice, team, default_escalation):
    ticket = make_ticket(owner=alice, team=team, due_in=30 * MINUTE)
    clock.shift(31 * MINUTE)
    run_check()
    return ticket


def test_a_team_member_acknowledges_a_breach(breached, team):
    dave = team.members.get(username="dave")

    response = client_for(dave).post(url(breached))

    assert response.status_code == 200
    body = response.json()
    assert body["acknowledged_by"] == dave.pk
    assert body["acknowledged_at"] is not None
    timeline = client_for(dave).get(f"/api/tickets/{breached.pk}/sla/").json()["timeline"]
    assert [(e["kind"], e["detail"]) for e in timeline if e["kind"] == "acknowledged"] == [
        ("acknowledged", "by dave")
    ]


def test_acknowledging_again_keeps_the_first(clock, breached, team, alice):
    first = client_for(team.lead).post(url(breached)).json()
    clock.shift(5 * MINUTE)
    again = client_for(alice).post(url(breached))

    assert again.status_code == 200
    assert again.json()["acknowledged_by"] == team.lead.pk
    assert again.json()["acknowledged_at"] == first["acknowledged_at"]
    assert SlaEvent.objects.filter(ticket=breached, kind="acknowledged").count() == 1


def test_acknowledging_cancels_the_repeats_still_held(clock, breached, team):
    Notification.objects.filter(recipient_user=team.lead).update(
        status=DeliveryStatus.HELD, held_until=breached.deadline + 60 * MINUTE
    )
    client_for(team.lead).post(url(breached))

    assert list(
        Notification.objects.filter(recipient_user=team.lead).values_list("status", flat=True)
    ) == [DeliveryStatus.CANCELLED]


def test_nothing_to_acknowledge_before_a_breach_is_a_409(clock, make_ticket, alice):
    ticket = make_ticket(owner=alice)

    response = client_for(alice).post(url(ticket))

    assert response.status_code == 409
    assert response.json()["detail"] == "Neither of the ticket's deadlines is breached."


def test_a_resolved_ticket_has_nothing_to_acknowledge(breached, alice):
    client_for(alice).patch(f"/api/tickets/{breached.pk}/", {"status": "resolved"}, format="json")

    assert client_for(alice).post(url(breached)).status_code == 409


def test_someone_who_does_not_see_the_ticket_gets_404(breached, make_user):
    stranger = make_user("frank")

    assert client_for(stranger).post(url(breached)).status_code == 404
    assert not SlaEvent.objects.filter(ticket=breached, kind="acknowledged").exists()


def test_anonymous_is_401(client, breached):
    assert client.post(url(breached)).status_code == 401


def test_get_is_not_allowed(breached, alice):
    assert client_for(alice).get(url(breached)).status_code == 405
