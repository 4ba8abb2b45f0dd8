"""The pages' times in the reader's zone: their profile's when they chose one, else the
browser's (the `tz` cookie pages.js writes), else TIME_ZONE."""

import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from dashboard.timezones import display_zone
from people.services import update_profile
from tests.factories import PASSWORD

BROWSER_ZONE = re.compile(r"\bCES?T\b")  # the browser's, Europe/Paris (tests/pages/conftest.py)
PROFILE_ZONE = re.compile(r"\bE[SD]T\b")  # America/New_York


def request_of(rf, user, cookie: str = ""):
    request = rf.get("/board/")
    request.user = user
    request.COOKIES["tz"] = cookie
    return request


@pytest.mark.django_db
def test_a_zone_chosen_in_the_profile_wins_over_the_browsers(rf, alice):
    update_profile(user=alice, time_zone="Asia/Tokyo")

    assert display_zone(request_of(rf, alice, "Europe/Paris")) == ZoneInfo("Asia/Tokyo")
    assert display_zone(request_of(rf, alice)) == ZoneInfo("Asia/Tokyo")


@pytest.mark.django_db
def test_a_profile_at_its_default_follows_the_browser(rf, alice, bob, settings):
    settings.TIME_ZONE = "Europe/Lisbon"
    update_profile(user=alice, time_zone="UTC")  # the default: never chosen, or UTC

    assert display_zone(request_of(rf, alice, "Europe/Paris")) == ZoneInfo("Europe/Paris")
    assert display_zone(request_of(rf, alice)) == ZoneInfo("Europe/Lisbon")
    # bob has no profile row at all.
    assert display_zone(request_of(rf, bob, "America/Lima")) == ZoneInfo("America/Lima")


@pytest.mark.django_db
def test_the_board_shows_times_in_the_profiles_zone(client, alice, make_ticket):
    make_ticket(title="due soon")
    update_profile(user=alice, time_zone="America/New_York")
    client.force_login(alice)
    client.cookies["tz"] = "Europe/Paris"

    html = client.get("/board/").content.decode()

    assert PROFILE_ZONE.search(html)
    assert not BROWSER_ZONE.search(html)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_in_the_browser_the_story_follows_the_profile_once_chosen(watched, alice, make_ticket):
    ticket = make_ticket(title="Zones")
    page = watched.page
    page.goto("/sign-in/")
    page.get_by_label("Username").fill(alice.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="At risk")).to_be_visible()

    page.goto(f"/tickets/{ticket.pk}/")
    timeline = page.locator(".timeline").inner_text()
    assert BROWSER_ZONE.search(timeline), timeline

    update_profile(user=alice, time_zone="America/New_York")
    page.reload()
    timeline = page.locator(".timeline").inner_text()
    assert PROFILE_ZONE.search(timeline), timeline
    assert not BROWSER_ZONE.search(timeline)
    assert watched.errors == []
