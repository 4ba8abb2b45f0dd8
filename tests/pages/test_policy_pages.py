"""The calendars and SLA policies pages through Django's test client: every signed-in
user reads them, nobody else; staff get a link to the admin's change page; every name
and holiday shows as text."""

import re
from datetime import date, time

import pytest
from django.test import Client

from policies import services as policy_services
from sla.enums import Priority
from tests.calendars import berlin_office
from tests.durations import HOUR, MINUTE
from tests.factories import CalendarFactory, PolicyFactory

pytestmark = pytest.mark.django_db

XSS = "<img src=x onerror=alert(1)>"


def squeezed(html: str) -> str:
    """The page with each run of whitespace as one space (template tags leave blank lines)."""
    return re.sub(r"\s+", " ", html)


@pytest.fixture
def rules(clock):
    clock.move_to("2026-03-10T12:00:00Z")
    office = berlin_office()
    policy_services.update_calendar(calendar=office, holidays=[(date(2026, 12, 24), XSS)])
    urgent = PolicyFactory.create(
        name=f"Urgent {XSS}",
        calendar=office,
        priority=Priority.URGENT,
        resolution_target=4 * HOUR,
        first_response_target=30 * MINUTE,
        warning_lead_times=[3600, 900],
        warning_percentages=[50],
    )
    around = CalendarFactory.create(name="Around the clock")
    default = PolicyFactory.create(name="Default", calendar=around, resolution_target=2 * 24 * HOUR)
    return {"office": office, "around": around, "urgent": urgent, "default": default}


def test_nobody_signed_out_reads_them(client: Client, rules):
    for url in ["/calendars/", f"/calendars/{rules['office'].pk}/", "/policies/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/sign-in/")


def test_the_calendar_shows_its_hours_and_holidays_as_text(client: Client, alice, rules):
    client.force_login(alice)

    html = client.get(f"/calendars/{rules['office'].pk}/").content.decode()

    assert "<h1>Berlin office</h1>" in html
    assert "Time zone Europe/Berlin." in html
    assert '<tr><th scope="row">Monday</th><td>09:00\u201317:00</td></tr>' in html
    assert '<tr><th scope="row">Sunday</th><td>Closed</td></tr>' in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert XSS not in html
    # Germany's public holidays of the coming year, from the holidays package.
    assert "Good Friday" in html
    assert "Edit in the admin" not in html


def test_a_24x7_calendar_says_so(client: Client, alice, rules):
    client.force_login(alice)

    html = client.get(f"/calendars/{rules['around'].pk}/").content.decode()

    assert "Open around the clock" in html
    assert "No holidays of its own." in html


def test_the_policies_say_which_applies_to_each_priority(client: Client, alice, rules):
    client.force_login(alice)

    html = squeezed(client.get("/policies/").content.decode())

    urgent, default = rules["urgent"], rules["default"]
    assert (
        f'<th scope="row">Urgent</th> <td><a href="/policies/{urgent.pk}/">Urgent &lt;img' in html
    )
    assert "<td>30 min</td> <td>4 h 00 min</td>" in html
    for priority in ["High", "Normal", "Low"]:
        assert (
            f'<th scope="row">{priority}</th> <td><a href="/policies/{default.pk}/">Default</a>'
            " (default)</td> <td>Not tracked</td> <td>2 d 0 h</td>" in html
        )
    assert XSS not in html


def test_a_policy_shows_its_targets_thresholds_and_calendar(client: Client, alice, rules):
    client.force_login(alice)
    urgent = rules["urgent"]

    html = client.get(f"/policies/{urgent.pk}/").content.decode()

    assert "For Urgent tickets" in html
    assert f'<a href="/calendars/{rules["office"].pk}/">Berlin office</a>' in html
    assert "30 min of business time" in html
    assert "1 h 00 min of business time before a deadline" in html
    assert "15 min of business time before a deadline" in html
    assert "When 50 % of the target has elapsed" in html
    assert "Urgent &lt;img" in html


def test_a_policy_without_thresholds_warns_by_the_default_window(
    client: Client, alice, rules, settings
):
    settings.SLA_WARNING_MINUTES = 45
    client.force_login(alice)

    html = client.get(f"/policies/{rules['default'].pk}/").content.decode()

    assert "The default policy" in html
    assert "One, 45 minutes of business time before each deadline" in html


def test_staff_get_the_admins_change_page(client: Client, staff, rules):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    office, urgent = rules["office"], rules["urgent"]

    calendar_page = client.get(f"/calendars/{office.pk}/").content.decode()
    policy_page = client.get(f"/policies/{urgent.pk}/").content.decode()

    assert f'href="/admin/policies/businesscalendar/{office.pk}/change/"' in calendar_page
    assert f'href="/admin/policies/slapolicy/{urgent.pk}/change/"' in policy_page
    assert client.get(f"/admin/policies/slapolicy/{urgent.pk}/change/").status_code == 200


def test_staff_who_may_not_change_them_get_no_admin_link(client: Client, staff, rules):
    client.force_login(staff)

    html = client.get(f"/policies/{rules['urgent'].pk}/").content.decode()

    assert "Edit in the admin" not in html


def test_an_unknown_calendar_or_policy_is_a_404_page(client: Client, alice, rules):
    client.force_login(alice)

    assert client.get("/calendars/999999/").status_code == 404
    response = client.get("/policies/999999999999999999/")
    assert response.status_code == 404
    assert "No such policy." in response.content.decode()


def test_the_list_names_each_calendar_and_its_policies(client: Client, alice, rules):
    client.force_login(alice)

    html = client.get("/calendars/").content.decode()

    assert f'<a href="/calendars/{rules["office"].pk}/">Berlin office</a>' in html
    assert "5 opening intervals a week" in html
    assert "DE" in html
    assert f'<a href="/policies/{rules["default"].pk}/">Default</a>' in html
    assert time(9).isoformat() not in html  # hours are on the calendar's own page
