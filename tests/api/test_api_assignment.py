"""Assignees and teams on the ticket API: who sees a ticket, who may put it in whose hands.

The rules are docs/api.md's "Assignees and teams"; each has its 404, 403 or 400 here.
"""

import pytest
from django.contrib.auth.models import User

from tests.conftest import client_for
from tests.factories import TeamFactory
from tickets.models import Ticket

LIST = "/api/tickets/"


def detail(ticket: Ticket, suffix: str = "") -> str:
    return f"/api/tickets/{ticket.pk}/{suffix}"


@pytest.fixture
def dave(make_user):
    return make_user("dave")


@pytest.fixture
def erin(make_user):
    return make_user("erin")


@pytest.fixture
def frank(make_user):
    return make_user("frank")


@pytest.fixture
def support(alice, dave, erin):
    """alice (who files tickets), dave and erin work in Support; frank is in no team."""
    return TeamFactory.create(name="Support", members=[alice, dave, erin], lead=erin)


@pytest.fixture
def billing(make_user):
    return TeamFactory.create(name="Billing", members=[make_user("gina")])


@pytest.fixture
def ticket(make_ticket, alice, support, dave):
    """alice's ticket, in Support, assigned to dave."""
    return make_ticket(owner=alice, team=support, assignee=dave)


# --- Who sees a ticket -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "sla/", "notifications/"])
@pytest.mark.parametrize(
    ("who", "status"),
    [("alice", 200), ("dave", 200), ("erin", 200), ("carol", 200), ("frank", 404)],
)
def test_owner_assignee_team_and_staff_see_a_ticket_and_nobody_else(
    ticket, staff, frank, who, status, path
):
    user = User.objects.get(username=who)

    response = client_for(user).get(detail(ticket, path))

    assert response.status_code == status


def test_a_member_of_another_team_does_not_see_the_ticket(ticket, billing):
    gina = User.objects.get(username="gina")

    assert client_for(gina).get(detail(ticket)).status_code == 404
    assert client_for(gina).get(LIST).json()["count"] == 0


def test_the_list_holds_what_each_user_sees(make_ticket, alice, dave, erin, frank, support):
    own = make_ticket(owner=frank, title="frank's own")
    assigned = make_ticket(owner=alice, assignee=frank, title="assigned to frank")
    in_team = make_ticket(owner=alice, team=support, title="Support's")
    make_ticket(owner=alice, title="alice's private")

    frank_sees = {row["id"] for row in client_for(frank).get(LIST).json()["results"]}
    erin_sees = {row["id"] for row in client_for(erin).get(LIST).json()["results"]}

    assert frank_sees == {own.pk, assigned.pk}
    assert erin_sees == {in_team.pk}


def test_a_ticket_owned_and_assigned_to_the_same_user_is_listed_once(make_ticket, alice):
    ticket = make_ticket(owner=alice, assignee=alice)

    body = client_for(alice).get(LIST).json()

    assert [row["id"] for row in body["results"]] == [ticket.pk]
    assert body["count"] == 1


def test_a_removed_member_no_longer_sees_the_team_s_tickets(make_ticket, alice, erin, support):
    ticket = make_ticket(owner=alice, team=support)
    support.lead = None
    support.save()
    support.members.remove(erin)

    assert client_for(erin).get(detail(ticket)).status_code == 404


def test_the_lead_and_the_escalation_contact_see_the_team_s_tickets(
    make_ticket, make_user, alice, frank, support
):
    """They are told of its breaches, so they can open it, though not members."""
    manager = make_user("manager")
    support.lead = frank
    support.escalation_contact = manager
    support.save()
    ticket = make_ticket(owner=alice, team=support)

    assert client_for(frank).get(detail(ticket)).status_code == 200
    assert client_for(manager).get(detail(ticket)).status_code == 200
    listed = client_for(manager).get(LIST).json()["results"]
    assert [row["id"] for row in listed] == [ticket.pk]

    support.escalation_contact = None
    support.save()
    assert client_for(manager).get(detail(ticket)).status_code == 404


def test_the_ticket_shows_its_assignee_and_team_as_ids(ticket, alice, dave, support):
    row = client_for(alice).get(detail(ticket)).json()

    assert row["assignee"] == dave.pk
    assert row["team"] == support.pk
    assert row["owner"] == "alice"


# --- The owner and staff assign ------------------------------------------------------------


def test_the_owner_assigns_a_ticket_without_team_to_any_user(make_ticket, alice, frank):
    ticket = make_ticket(owner=alice)

    response = client_for(alice).patch(detail(ticket), {"assignee": frank.pk}, format="json")

    assert response.status_code == 200
    assert response.json()["assignee"] == frank.pk
    assert client_for(frank).get(detail(ticket)).status_code == 200


def test_the_owner_puts_a_ticket_in_a_team_of_theirs(make_ticket, alice, erin, support):
    ticket = make_ticket(owner=alice)

    response = client_for(alice).patch(detail(ticket), {"team": support.pk}, format="json")

    assert response.status_code == 200
    assert client_for(erin).get(detail(ticket)).status_code == 200


def test_the_owner_may_not_put_a_ticket_in_a_team_they_are_not_in(make_ticket, alice, billing):
    ticket = make_ticket(owner=alice)

    response = client_for(alice).patch(detail(ticket), {"team": billing.pk}, format="json")

    assert response.status_code == 400
    assert "does not exist" in response.json()["team"][0]
    assert Ticket.objects.get(pk=ticket.pk).team_id is None


def test_staff_put_a_ticket_in_any_team(make_ticket, alice, staff, billing):
    ticket = make_ticket(owner=alice)

    response = client_for(staff).patch(detail(ticket), {"team": billing.pk}, format="json")

    assert response.status_code == 200
    assert response.json()["team"] == billing.pk


def test_the_assignee_must_be_in_the_ticket_s_team(make_ticket, alice, frank, support):
    ticket = make_ticket(owner=alice, team=support)

    response = client_for(alice).patch(detail(ticket), {"assignee": frank.pk}, format="json")

    assert response.status_code == 400
    assert response.json()["assignee"] == [
        "The assignee must be a member of the ticket's team (or staff)."
    ]


def test_even_staff_assign_a_team_ticket_only_within_the_team(
    make_ticket, alice, staff, frank, support
):
    ticket = make_ticket(owner=alice, team=support)

    response = client_for(staff).patch(detail(ticket), {"assignee": frank.pk}, format="json")

    assert response.status_code == 400
    assert "assignee" in response.json()


def test_a_staff_user_may_be_assigned_a_team_ticket(make_ticket, alice, staff, support):
    ticket = make_ticket(owner=alice, team=support)

    response = client_for(alice).patch(detail(ticket), {"assignee": staff.pk}, format="json")

    assert response.status_code == 200


def test_moving_a_ticket_to_a_team_its_assignee_is_not_in_is_refused(
    make_ticket, alice, staff, frank, billing
):
    ticket = make_ticket(owner=alice, assignee=frank)

    response = client_for(staff).patch(detail(ticket), {"team": billing.pk}, format="json")

    assert response.status_code == 400
    assert "assignee" in response.json()
    assert Ticket.objects.get(pk=ticket.pk).team_id is None


def test_creating_a_ticket_checks_the_same_rules(alice, frank, support, billing):
    api = client_for(alice)
    base = {"title": "Printer", "deadline": "2030-01-01T00:00:00Z"}

    in_team = api.post(LIST, {**base, "team": support.pk, "assignee": frank.pk}, format="json")
    other_team = api.post(LIST, {**base, "team": billing.pk}, format="json")
    fine = api.post(LIST, {**base, "team": support.pk}, format="json")

    assert in_team.status_code == 400
    assert "assignee" in in_team.json()
    assert other_team.status_code == 400
    assert "team" in other_team.json()
    assert fine.status_code == 201
    assert fine.json()["team"] == support.pk


@pytest.mark.parametrize("value", [999_999, "x", -1, True])
def test_an_assignee_that_is_no_user_is_a_400(make_ticket, alice, value):
    ticket = make_ticket(owner=alice)

    response = client_for(alice).patch(detail(ticket), {"assignee": value}, format="json")

    assert response.status_code == 400
    assert "assignee" in response.json()


def test_a_disabled_user_cannot_be_assigned(make_ticket, alice, frank):
    frank.is_active = False
    frank.save()
    ticket = make_ticket(owner=alice)

    response = client_for(alice).patch(detail(ticket), {"assignee": frank.pk}, format="json")

    assert response.status_code == 400
    assert "assignee" in response.json()


def test_the_owner_unassigns_and_takes_the_ticket_out_of_its_team(ticket, alice, dave):
    response = client_for(alice).patch(
        detail(ticket), {"assignee": None, "team": None}, format="json"
    )

    assert response.status_code == 200
    assert client_for(dave).get(detail(ticket)).status_code == 404


# --- Team members take tickets; assignees hand them back -------------------------------------


def test_a_team_member_takes_a_team_ticket(ticket, erin):
    response = client_for(erin).patch(detail(ticket), {"assignee": erin.pk}, format="json")

    assert response.status_code == 200
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == erin.pk


def test_a_team_member_may_not_assign_the_ticket_to_someone_else(ticket, alice, erin):
    response = client_for(erin).patch(detail(ticket), {"assignee": alice.pk}, format="json")

    assert response.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == User.objects.get(username="dave").pk


def test_a_team_member_may_not_unassign_someone_else(ticket, erin):
    response = client_for(erin).patch(detail(ticket), {"assignee": None}, format="json")

    assert response.status_code == 403


@pytest.mark.parametrize("team", [None, "billing"])
def test_only_the_owner_and_staff_change_the_team(ticket, erin, dave, billing, team):
    value = billing.pk if team else None

    for user in (erin, dave):
        response = client_for(user).patch(detail(ticket), {"team": value}, format="json")
        assert response.status_code in (400, 403)
        if team is None:
            assert response.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).team is not None


def test_the_assignee_hands_the_ticket_back(ticket, dave):
    response = client_for(dave).patch(detail(ticket), {"assignee": None}, format="json")

    assert response.status_code == 200
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None
    # Still in Support, which dave is in: he still sees it.
    assert client_for(dave).get(detail(ticket)).status_code == 200


def test_an_assignee_outside_the_team_may_not_pass_the_ticket_on(make_ticket, alice, frank, dave):
    ticket = make_ticket(owner=alice, assignee=frank)

    response = client_for(frank).patch(detail(ticket), {"assignee": dave.pk}, format="json")

    assert response.status_code == 403


def test_a_stranger_gets_404_whatever_they_send(ticket, frank):
    api = client_for(frank)

    assert api.patch(detail(ticket), {"assignee": frank.pk}, format="json").status_code == 404
    assert api.delete(detail(ticket)).status_code == 404


def test_a_put_resending_the_same_assignee_and_team_is_no_change(ticket, erin, support, dave):
    row = client_for(erin).get(detail(ticket)).json()
    body = {k: row[k] for k in ("title", "description", "deadline", "status", "priority")}

    response = client_for(erin).put(
        detail(ticket), {**body, "assignee": dave.pk, "team": support.pk}, format="json"
    )

    assert response.status_code == 200


def test_the_assignee_and_the_team_work_the_ticket(ticket, dave, erin):
    resolved = client_for(dave).patch(detail(ticket), {"status": "resolved"}, format="json")
    responded = client_for(erin).post(detail(ticket, "respond/"))

    assert resolved.status_code == 200
    assert responded.status_code in (200, 409)  # resolving recorded the first response


@pytest.mark.parametrize("who", ["dave", "erin"])
def test_only_the_owner_and_staff_delete_a_ticket(ticket, staff, who):
    user = User.objects.get(username=who)

    response = client_for(user).delete(detail(ticket))

    assert response.status_code == 403
    assert Ticket.objects.filter(pk=ticket.pk).exists()
    assert client_for(staff).delete(detail(ticket)).status_code == 204


# --- Filters -----------------------------------------------------------------------------------


def test_it_filters_by_assignee_and_team(make_ticket, alice, dave, support):
    mine = make_ticket(owner=alice, assignee=alice, title="mine")
    daves = make_ticket(owner=alice, team=support, assignee=dave, title="dave's")
    nobody = make_ticket(owner=alice, title="nobody's")
    api = client_for(alice)

    def listed(**params):
        return {row["id"] for row in api.get(LIST, params).json()["results"]}

    assert listed(assignee="me") == {mine.pk}
    assert listed(assignee=dave.pk) == {daves.pk}
    assert listed(assignee="none") == {nobody.pk}
    assert listed(team=support.pk) == {daves.pk}
    assert listed(team="none") == {mine.pk, nobody.pk}
    assert client_for(dave).get(LIST, {"assignee": "me"}).json()["count"] == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("assignee", "you"),
        ("assignee", "1" * 19),
        ("team", "me"),
        ("team", "-1"),
        ("team", "\u0661"),
    ],
)
def test_a_bad_assignee_or_team_filter_is_a_400(alice, name, value):
    response = client_for(alice).get(LIST, {name: value})

    assert response.status_code == 400
    assert name in response.json()
