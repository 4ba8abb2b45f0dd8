"""The report page /reports/compliance/ and its CSV, through Django's test client: the
CSV's numbers are the API's, who sees what, bad input, and a chart the CSP allows."""

import csv
import io
import re
from typing import Any

import pytest
import time_machine

from tests.conftest import T0, client_for
from tickets.reports import ROW_FIELDS

pytestmark = pytest.mark.django_db

QUERY = "period=custom&start=2026-03-01&end=2026-04-01"
PAGE = f"/reports/compliance/?{QUERY}"


@pytest.fixture
def at_t0():
    with time_machine.travel(T0, tick=False):
        yield


def csv_rows(response) -> list[dict[str, str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def as_csv(value) -> str:
    return "" if value is None else str(value)


def assert_csv_equals_api(rows: list[dict[str, str]], body: dict[str, Any]) -> None:
    expected = [*body["rows"], body["total"]]
    assert len(rows) == len(expected)
    for line, row in zip(rows, expected, strict=True):
        for name in ROW_FIELDS:
            if isinstance(row[name], float):
                assert float(line[name]) == row[name], name
            else:
                assert line[name] == as_csv(row[name]), name
        assert line["group_by"] == body["group_by"]


@pytest.mark.parametrize("group_by", ["priority", "policy", "team", "assignee"])
def test_the_csv_has_the_apis_numbers(client, alice, march, at_t0, group_by):
    client.force_login(alice)
    api = client_for(alice).get(f"/api/reports/compliance/?{QUERY}&group_by={group_by}").json()

    response = client.get(f"{PAGE}&group_by={group_by}&format=csv")

    assert response.status_code == 200
    rows = csv_rows(response)
    assert_csv_equals_api(rows, api)
    assert rows[-1]["key"] == "all"
    assert rows[-1]["tickets"] == "6"


def test_staff_see_every_ticket_and_a_user_only_their_own(client, bob, staff, march, at_t0):
    client.force_login(bob)
    assert csv_rows(client.get(f"{PAGE}&format=csv"))[-1]["tickets"] == "1"
    assert client.get(PAGE).context["report"].total.tickets == 1
    client.force_login(staff)
    assert csv_rows(client.get(f"{PAGE}&format=csv"))[-1]["tickets"] == "8"


def test_the_page_shows_the_table_a_chart_and_the_csv_link(client, alice, march, at_t0):
    client.force_login(alice)

    response = client.get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert '<tr data-key="normal">' in html
    assert f'href="/reports/compliance/?{QUERY.replace("&", "&amp;")}&amp;format=csv"' in html
    assert '<a href="/reports/compliance/">Compliance</a>' in html
    chart = re.search(r"<svg .*?</svg>", html, re.DOTALL)
    assert chart is not None
    # Nothing the Content-Security-Policy (no inline script or style) would refuse.
    assert re.search(r"<(script|style)\b|\sstyle=|\son[a-z]+=", chart.group(0)) is None
    assert "<title>Achieved % per day</title>" in chart.group(0)
    csp = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp


def test_the_page_groups_by_team_under_a_team_column(client, alice, march, at_t0):
    client.force_login(alice)

    html = client.get(f"{PAGE}&group_by=team").content.decode()

    assert '<th scope="col" rowspan="2">Team</th>' in html
    assert f'<tr data-key="{march["support"].pk}">\n  <th scope="row">Support</th>' in html
    assert '<tr data-key="">\n  <th scope="row">No team</th>' in html
    assert "Billing" not in html


def test_the_page_and_the_csv_count_days_in_the_readers_zone(client, alice, march, at_t0):
    client.force_login(alice)
    client.cookies["tz"] = "Pacific/Honolulu"

    response = client.get(PAGE)

    report = response.context["report"]
    assert report.time_zone == "Pacific/Honolulu"
    assert report.start.isoformat() == "2026-03-01T00:00:00-10:00"
    # Ticket 1 (2 March 9:00 UTC) is 1 March there.
    assert report.over_time[0].achieved_percent == 100.0
    html = response.content.decode()
    assert "Pacific/Honolulu" in html
    assert '<time datetime="2026-03-01T00:00:00-10:00">1 Mar 2026</time>' in html
    rows = csv_rows(client.get(f"{PAGE}&format=csv"))
    assert rows[-1]["start"] == "2026-03-01T00:00:00-10:00"
    api = client_for(alice).get(f"/api/reports/compliance/?{QUERY}&tz=Pacific/Honolulu")
    assert_csv_equals_api(rows, api.json())


def test_bad_input_is_a_400_page_naming_the_field(client, alice):
    client.force_login(alice)

    response = client.get("/reports/compliance/?period=custom&start=2026-03-01&end=2026-02-01")

    assert response.status_code == 400
    assert "Until (excluded): Must be after start." in response.content.decode()
    assert client.get("/reports/compliance/?group_by=owner&format=csv").status_code == 400


def test_the_page_and_the_csv_share_the_apis_report_limit(client, alice, bob, clock, settings):
    settings.RATELIMIT_REPORTS = "3/m"
    client.force_login(alice)
    api = client_for(alice)
    assert client.get(PAGE).status_code == 200
    assert client.get(f"{PAGE}&format=csv").status_code == 200
    assert api.get(f"/api/reports/compliance/?{QUERY}").status_code == 200

    for limited in (client.get(f"{PAGE}&format=csv"), client.get(PAGE)):
        assert limited.status_code == 429
        assert 1 <= int(limited["Retry-After"]) <= 60
        assert "Too many reports" in limited.content.decode()
    assert api.get(f"/api/reports/compliance/?{QUERY}").status_code == 429
    # Per user: bob still has his.
    client.force_login(bob)
    assert client.get(f"{PAGE}&format=csv").status_code == 200


def test_nothing_is_visible_without_signing_in(client, db):
    response = client.get(f"{PAGE}&format=csv")

    assert response.status_code == 302
    assert response["Location"].startswith("/sign-in/?next=")
