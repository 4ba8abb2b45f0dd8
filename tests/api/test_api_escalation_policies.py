"""GET /api/escalation-policies/: staff read them (and their levels) to pick an SLA
policy's escalation_policy; the admin edits them."""

from datetime import timedelta

import pytest

from people.models import EscalationLevel, EscalationPolicy
from tests.conftest import client_for
from tests.factories import CalendarFactory

URL = "/api/escalation-policies/"


@pytest.fixture
def policy(db):
    made = EscalationPolicy.objects.create(name="Wake the lead", is_default=True)
    EscalationLevel.objects.create(
        policy=made,
        position=2,
        trigger="breach",
        delay=timedelta(minutes=30),
        roles=["escalation_contact"],
        breaks_quiet_hours=True,
    )
    EscalationLevel.objects.create(
        policy=made, position=1, trigger="warning", roles=["assignee", "team_channels"]
    )
    return made


def test_staff_read_the_policies_with_their_levels_in_order(staff, policy):
    body = client_for(staff).get(URL).json()

    [found] = body["results"]
    assert (found["id"], found["name"], found["is_default"]) == (policy.pk, "Wake the lead", True)
    assert [(lv["position"], lv["trigger"], lv["delay"]) for lv in found["levels"]] == [
        (1, "warning", "00:00:00"),
        (2, "breach", "00:30:00"),
    ]
    assert found["levels"][1]["breaks_quiet_hours"] is True
    assert client_for(staff).get(f"{URL}{policy.pk}/").json() == found


def test_an_sla_policy_names_one_by_that_id(staff, policy):
    calendar = CalendarFactory.create()
    response = client_for(staff).post(
        "/api/policies/",
        {
            "name": "Urgent",
            "calendar": calendar.pk,
            "resolution_target": "04:00:00",
            "escalation_policy": policy.pk,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["escalation_policy"] == policy.pk
    unknown = client_for(staff).patch(
        f"/api/policies/{response.json()['id']}/", {"escalation_policy": 999}, format="json"
    )
    assert unknown.status_code == 400


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_they_are_read_only_here(staff, policy, method):
    target = URL if method == "post" else f"{URL}{policy.pk}/"

    assert getattr(client_for(staff), method)(target, {}, format="json").status_code == 405


def test_others_get_403_and_strangers_401(alice, client, policy):
    assert client_for(alice).get(URL).status_code == 403
    assert client_for(alice).get(f"{URL}{policy.pk}/").status_code == 403
    assert client.get(URL).status_code == 401


@pytest.mark.parametrize("pk", ["999", "abc", "1" * 30])
def test_an_unknown_id_is_404(staff, pk):
    assert client_for(staff).get(f"{URL}{pk}/").status_code == 404
