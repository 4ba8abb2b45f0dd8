"""GET/PATCH /api/me/: who you are, and your time zone, quiet hours and channels."""

import pytest
from rest_framework.test import APIClient

from people.models import Profile
from tests.conftest import client_for
from tests.factories import CalendarFactory, TeamFactory

ME = "/api/me/"


def test_it_shows_who_you_are_and_the_defaults_of_a_new_profile(alice, bob):
    TeamFactory.create(name="Support", members=[alice])
    TeamFactory.create(name="Billing", members=[bob])

    body = client_for(alice).get(ME).json()

    assert body == {
        "username": "alice",
        "email": "alice@example.com",
        "teams": [{"id": body["teams"][0]["id"], "name": "Support"}],
        "time_zone": "UTC",
        "quiet_hours_start": None,
        "quiet_hours_end": None,
        "quiet_calendar": None,
        "email_enabled": True,
    }
    assert Profile.objects.filter(user=alice).count() == 1


def test_a_profile_is_made_once_however_often_it_is_read(alice):
    api = client_for(alice)

    api.get(ME)
    api.get(ME)

    assert Profile.objects.filter(user=alice).count() == 1


def test_it_answers_401_without_credentials(db):
    assert APIClient().get(ME).status_code == 401
    assert APIClient().patch(ME, {}, format="json").status_code == 401


def test_you_set_your_time_zone_quiet_hours_and_channels(alice):
    calendar = CalendarFactory.create(name="Office")
    api = client_for(alice)

    response = api.patch(
        ME,
        {
            "time_zone": "Europe/Berlin",
            "quiet_hours_start": "22:00",
            "quiet_hours_end": "07:00",
            "quiet_calendar": calendar.pk,
            "email_enabled": False,
        },
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["quiet_hours_start"] == "22:00:00"
    profile = Profile.objects.get(user=alice)
    assert (profile.time_zone, str(profile.quiet_hours_end)) == ("Europe/Berlin", "07:00:00")
    assert profile.quiet_calendar == calendar
    assert profile.email_enabled is False


def test_you_clear_quiet_hours_with_both_ends_null(alice):
    api = client_for(alice)
    api.patch(ME, {"quiet_hours_start": "22:00", "quiet_hours_end": "07:00"}, format="json")

    response = api.patch(ME, {"quiet_hours_start": None, "quiet_hours_end": None}, format="json")

    assert response.status_code == 200
    assert Profile.objects.get(user=alice).quiet_hours_start is None


def test_one_end_may_change_alone(alice):
    api = client_for(alice)
    api.patch(ME, {"quiet_hours_start": "22:00", "quiet_hours_end": "07:00"}, format="json")

    response = api.patch(ME, {"quiet_hours_end": "06:30"}, format="json")

    assert response.status_code == 200
    assert response.json()["quiet_hours_end"] == "06:30:00"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone"),
        ({"time_zone": ""}, "time_zone"),
        ({"time_zone": "Europe/Berlin\x00"}, "time_zone"),
        ({"time_zone": 5}, "time_zone"),
        ({"quiet_hours_start": "25:00", "quiet_hours_end": "07:00"}, "quiet_hours_start"),
        ({"quiet_hours_start": "22:00", "quiet_hours_end": "soon"}, "quiet_hours_end"),
        ({"quiet_hours_start": "22:00"}, "quiet_hours_end"),
        ({"quiet_hours_end": "07:00"}, "quiet_hours_start"),
        ({"quiet_hours_start": "22:00", "quiet_hours_end": "22:00"}, "quiet_hours_end"),
        ({"quiet_calendar": 999_999}, "quiet_calendar"),
        ({"quiet_calendar": "office"}, "quiet_calendar"),
        ({"email_enabled": "perhaps"}, "email_enabled"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(alice, body, field):
    response = client_for(alice).patch(ME, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Profile.objects.get(user=alice).time_zone == "UTC"


def test_username_email_and_teams_are_not_yours_to_change_here(alice):
    response = client_for(alice).patch(
        ME, {"username": "root", "email": "x@example.com", "teams": [1]}, format="json"
    )

    assert response.status_code == 200
    alice.refresh_from_db()
    assert (alice.username, alice.email) == ("alice", "alice@example.com")


@pytest.mark.parametrize("method", ["put", "post", "delete"])
def test_it_offers_only_get_and_patch(alice, method):
    response = getattr(client_for(alice), method)(ME, {}, format="json")

    assert response.status_code == 405


def test_each_user_sees_only_their_own_profile(alice, bob):
    client_for(bob).patch(ME, {"time_zone": "Asia/Tokyo"}, format="json")

    assert client_for(alice).get(ME).json()["time_zone"] == "UTC"
    assert client_for(bob).get(ME).json()["username"] == "bob"
