"""GET /api/reports/compliance/: the report's numbers over HTTP, its 400s, who sees what."""

import pytest
import time_machine
from rest_framework.test import APIClient

from tests.conftest import T0, client_for

pytestmark = pytest.mark.django_db

MARCH = "/api/reports/compliance/?period=custom&start=2026-03-01&end=2026-04-01"


@pytest.fixture
def at_t0():
    with time_machine.travel(T0, tick=False):
        yield


def test_it_answers_the_reports_numbers_for_the_caller(api, march, at_t0):
    response = api.get(MARCH)

    assert response.status_code == 200
    body = response.json()
    assert body["start"] == "2026-03-01T00:00:00Z"
    assert body["end"] == "2026-04-01T00:00:00Z"
    assert body["group_by"] == "priority"
    normal = next(row for row in body["rows"] if row["key"] == "normal")
    assert normal["name"] == "Normal"
    assert (normal["tickets"], normal["achieved"], normal["breached"]) == (4, 2, 1)
    assert normal["achieved_percent"] == 66.7
    assert normal["first_response_median_seconds"] == 1200.0
    assert normal["resolution_p90_seconds"] == 22320.0
    assert normal["paused_seconds"] == 10800.0
    assert body["total"]["tickets"] == 6
    assert body["bucket"] == "day"
    assert body["over_time"][:2] == [
        {"starts_on": "2026-03-01", "achieved_percent": None},
        {"starts_on": "2026-03-02", "achieved_percent": 100.0},
    ]


def test_staff_count_every_ticket_and_a_user_only_their_own(bob, staff, march, at_t0):
    assert client_for(bob).get(MARCH).json()["total"]["tickets"] == 1
    assert client_for(staff).get(MARCH).json()["total"]["tickets"] == 8


def test_named_periods_count_from_today(api, march, at_t0):
    # T0 is Tuesday 10 March: this week began on Monday 9 March (ticket 6 only).
    this_week = api.get("/api/reports/compliance/?period=this_week").json()
    assert (this_week["start"], this_week["end"]) == (
        "2026-03-09T00:00:00Z",
        "2026-03-16T00:00:00Z",
    )
    assert this_week["total"]["tickets"] == 1
    last_month = api.get("/api/reports/compliance/?period=last_month").json()
    assert last_month["start"] == "2026-02-01T00:00:00Z"
    assert last_month["total"]["tickets"] == 1
    default = api.get("/api/reports/compliance/").json()
    assert default["start"] == "2026-03-01T00:00:00Z"
    assert default["total"]["tickets"] == 6


def test_grouped_by_policy(api, march, at_t0):
    body = api.get(MARCH + "&group_by=policy").json()

    assert [(row["name"], row["tickets"]) for row in body["rows"]] == [
        ("Default", 4),
        ("Urgent", 2),
    ]


def test_the_days_begin_at_midnight_in_the_tz_asked_for(api, march, at_t0):
    # Honolulu is UTC-10 all year: tickets created at 9:00 UTC belong to the day before.
    honolulu = api.get(MARCH + "&tz=Pacific/Honolulu").json()

    assert honolulu["time_zone"] == "Pacific/Honolulu"
    assert (honolulu["start"], honolulu["end"]) == (
        "2026-03-01T10:00:00Z",
        "2026-04-01T10:00:00Z",
    )
    assert honolulu["total"]["tickets"] == 6
    assert [point["achieved_percent"] for point in honolulu["over_time"][:6]] == [
        100.0,  # ticket 1, created 2 March 9:00 UTC
        100.0,
        0.0,
        100.0,
        0.0,  # ticket 5, created 6 March 9:00 UTC
        None,
    ]
    # 2 March in Honolulu holds ticket 2 (3 March 9:00 UTC); in UTC, ticket 1.
    day = "/api/reports/compliance/?period=custom&start=2026-03-02&end=2026-03-03"
    there = api.get(day + "&tz=Pacific/Honolulu").json()
    assert (there["total"]["tickets"], there["total"]["first_response_breached"]) == (1, 1)
    utc = api.get(day).json()
    assert utc["time_zone"] == "UTC"
    assert (utc["total"]["tickets"], utc["total"]["first_response_breached"]) == (1, 0)


def test_grouped_by_team_and_by_assignee(api, alice, march, at_t0):
    teams = api.get(MARCH + "&group_by=team").json()
    assert teams["group_by"] == "team"
    assert [(row["key"], row["name"], row["tickets"]) for row in teams["rows"]] == [
        (str(march["support"].pk), "Support", 3),
        ("", "No team", 3),
    ]
    assert teams["rows"][1]["paused_seconds"] == 10800.0
    assignees = api.get(MARCH + "&group_by=assignee").json()
    assert [(row["name"], row["tickets"]) for row in assignees["rows"]] == [
        ("alice", 2),
        ("dana", 1),
        ("Unassigned", 3),
    ]
    assert assignees["total"]["tickets"] == 6


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("period=yesterday", "period"),
        ("group_by=owner", "group_by"),
        ("group_by=priority;drop", "group_by"),
        ("period=custom&end=2026-04-01", "start"),
        ("period=custom&start=2026-03-01", "end"),
        ("period=custom&start=2026-13-01&end=2026-04-01", "start"),
        ("period=custom&start=2026-03-01&end=tomorrow", "end"),
        ("period=custom&start=2026-03-01&end=2026-03-01", "end"),
        ("period=custom&start=2026-03-01&end=2027-04-01", "end"),
        ("period=custom&start=0001-01-01&end=9999-12-31", "end"),
        ("period=custom&start=0001-01-01&end=0001-01-02", "start"),
        ("period=custom&start=9999-12-30&end=9999-12-31", "start"),
        ("period=last_month&start=2026-03-01", "start"),
        ("start=%00", "start"),
        # Blank is not absent: the schema's date, enum and choices allow no empty value.
        ("start=", "start"),
        ("period=&group_by=policy", "period"),
        ("group_by=", "group_by"),
        ("tz=", "tz"),
        ("tz=Mars/Olympus", "tz"),
        ("tz=../../etc/passwd", "tz"),
        ("tz=%00", "tz"),
        ("tz=" + "A" * 65, "tz"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(api, query, parameter):
    response = api.get(f"/api/reports/compliance/?{query}")

    assert response.status_code == 400
    assert parameter in response.json()


def test_the_11th_report_in_a_minute_is_a_429_and_the_next_minute_answers(alice, clock):
    api = client_for(alice)
    answers = [api.get(MARCH).status_code for _ in range(10)]
    assert answers == [200] * 10

    limited = api.get(MARCH)

    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "throttled" in limited.json()["detail"].lower()
    clock.shift(61)
    assert api.get(MARCH).status_code == 200


def test_it_needs_credentials(db):
    assert APIClient().get(MARCH).status_code == 401


def test_it_is_in_the_openapi_schema(api):
    schema = api.get("/api/schema/?format=json").json()

    operation = schema["paths"]["/api/reports/compliance/"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters) == {"period", "start", "end", "group_by", "tz"}
    assert {"UTC", "Europe/Berlin", "Pacific/Honolulu"} <= set(parameters["tz"]["schema"]["enum"])
    assert "Mars/Olympus" not in parameters["tz"]["schema"]["enum"]
    assert set(parameters["group_by"]["schema"]["enum"]) == {
        "priority",
        "policy",
        "team",
        "assignee",
    }
    assert set(operation["responses"]) >= {"200", "400", "401"}
    row = schema["components"]["schemas"]["ComplianceRow"]["properties"]
    for metric in ("first_response", "resolution"):
        for kind in ("", "business_"):
            for statistic in ("median", "p90"):
                assert row[f"{metric}_{kind}{statistic}_seconds"]["type"] == "number"
    assert "less the open time paused" in row["resolution_business_median_seconds"]["description"]
    assert row["paused_business_seconds"]["type"] == "number"
