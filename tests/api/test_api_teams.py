"""GET /api/teams/: a user's teams; staff read and write every team."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from people.models import Team
from tests.conftest import client_for
from tests.factories import TeamFactory

LIST = "/api/teams/"


@pytest.fixture
def support(alice, bob):
    return TeamFactory.create(name="Support", members=[alice, bob], lead=bob)


@pytest.fixture
def billing(bob):
    return TeamFactory.create(name="Billing", members=[bob])


def names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


def test_a_user_lists_their_own_teams(alice, bob, support, billing):
    assert names(client_for(alice).get(LIST)) == ["Support"]
    assert names(client_for(bob).get(LIST)) == ["Billing", "Support"]


def test_staff_list_every_team(staff, support, billing):
    assert names(client_for(staff).get(LIST)) == ["Billing", "Support"]


def test_a_team_shows_its_members_lead_and_escalation_contact(alice, bob, support):
    row = client_for(alice).get(f"{LIST}{support.pk}/").json()

    assert row == {
        "id": support.pk,
        "name": "Support",
        "members": sorted([alice.pk, bob.pk]),
        "lead": bob.pk,
        "escalation_contact": None,
    }


def test_another_team_is_a_404(alice, billing):
    assert client_for(alice).get(f"{LIST}{billing.pk}/").status_code == 404


def test_it_answers_401_without_credentials(db):
    assert APIClient().get(LIST).status_code == 401


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_only_staff_write_teams(alice, support, method):
    path = LIST if method == "post" else f"{LIST}{support.pk}/"

    response = getattr(client_for(alice), method)(path, {"name": "Mine"}, format="json")

    assert response.status_code == 403
    assert Team.objects.get(pk=support.pk).name == "Support"


def test_staff_create_and_change_a_team(staff, alice, bob):
    api = client_for(staff)

    created = api.post(
        LIST,
        {"name": "Support", "members": [alice.pk], "lead": bob.pk, "escalation_contact": staff.pk},
        format="json",
    )
    team = Team.objects.get(name="Support")
    changed = api.patch(f"{LIST}{team.pk}/", {"members": [alice.pk, bob.pk]}, format="json")

    assert created.status_code == 201
    assert changed.status_code == 200
    assert set(team.members.values_list("username", flat=True)) == {"alice", "bob"}
    assert team.lead == bob
    assert team.escalation_contact == staff


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "Support"}, "name"),  # taken
        ({"name": "New", "members": [999_999]}, "members"),
        ({"name": "New", "members": "1"}, "members"),
        ({"name": "New", "members": {}}, "members"),  # an object is not a list
        ({"name": "New", "members": {"1": 1}}, "members"),
        ({"name": "New", "lead": "boss"}, "lead"),
        ({"name": "New", "escalation_contact": 999_999}, "escalation_contact"),
    ],
)
def test_bad_team_input_is_a_400_naming_the_field(staff, support, body, field):
    response = client_for(staff).post(LIST, body, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_a_member_listed_twice_is_a_400(staff, alice):
    response = client_for(staff).post(
        LIST, {"name": "New", "members": [alice.pk, alice.pk]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["members"] == ["A member is listed twice."]


def test_deleting_a_team_leaves_its_tickets_to_their_owners(
    staff, alice, bob, support, make_ticket
):
    ticket = make_ticket(owner=alice, team=support)

    assert client_for(staff).delete(f"{LIST}{support.pk}/").status_code == 204
    assert client_for(bob).get(f"/api/tickets/{ticket.pk}/").status_code == 404
    assert client_for(alice).get(f"/api/tickets/{ticket.pk}/").status_code == 200
    assert User.objects.filter(pk=bob.pk).exists()
