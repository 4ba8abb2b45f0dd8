"""The staff-only API for business calendars and SLA policies."""

from datetime import time, timedelta

import pytest
from rest_framework.test import APIClient

from policies import services
from policies.models import BusinessCalendar, OpeningHours, SlaPolicy
from tests.conftest import client_for
from tests.factories import urgent_policy
from tickets.models import Ticket

CALENDARS = "/api/calendars/"
POLICIES = "/api/policies/"

OFFICE = {
    "name": "Berlin office",
    "time_zone": "Europe/Berlin",
    "holiday_country": "DE",
    "opening_hours": [
        {"weekday": weekday, "opens": "09:00", "closes": "17:00"} for weekday in range(5)
    ],
    "holidays": [{"date": "2026-12-24", "name": "Christmas Eve"}],
}


@pytest.fixture
def admin_api(staff) -> APIClient:
    return client_for(staff)


@pytest.fixture
def office(db) -> BusinessCalendar:
    return services.create_calendar(
        name="Office",
        time_zone="Europe/Berlin",
        opening_hours=[(weekday, time(9), time(17)) for weekday in range(5)],
    )


@pytest.fixture
def urgent(office) -> SlaPolicy:
    return urgent_policy(office)


def detail(base: str, pk: int) -> str:
    return f"{base}{pk}/"


# --- Who may use it -------------------------------------------------------------------------


VERBS = [
    ("get", CALENDARS),
    ("post", CALENDARS),
    ("get", "{calendar}"),
    ("put", "{calendar}"),
    ("patch", "{calendar}"),
    ("delete", "{calendar}"),
    ("get", POLICIES),
    ("post", POLICIES),
    ("get", "{policy}"),
    ("put", "{policy}"),
    ("patch", "{policy}"),
    ("delete", "{policy}"),
]


def _url(template: str, office: BusinessCalendar, urgent: SlaPolicy) -> str:
    return template.format(
        calendar=detail(CALENDARS, office.pk), policy=detail(POLICIES, urgent.pk)
    )


@pytest.mark.parametrize(("method", "template"), VERBS)
def test_a_user_who_is_not_staff_gets_403_on_every_verb(api, office, urgent, method, template):
    response = getattr(api, method)(_url(template, office, urgent), {}, format="json")

    assert response.status_code == 403
    assert "permission" in response.json()["detail"]
    assert BusinessCalendar.objects.count() == SlaPolicy.objects.count() == 1


@pytest.mark.parametrize(("method", "template"), VERBS)
def test_an_anonymous_client_gets_401_on_every_verb(office, urgent, method, template):
    response = getattr(APIClient(), method)(_url(template, office, urgent), {}, format="json")

    assert response.status_code == 401


# --- Calendars ------------------------------------------------------------------------------


def test_staff_create_a_calendar_with_its_hours_and_holidays(admin_api):
    response = admin_api.post(CALENDARS, OFFICE, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["opening_hours"][0] == {"weekday": 0, "opens": "09:00:00", "closes": "17:00:00"}
    assert body["holidays"] == [{"date": "2026-12-24", "name": "Christmas Eve"}]
    calendar = BusinessCalendar.objects.get(pk=body["id"])
    assert (calendar.holiday_country, len(calendar.opening_hours_rows())) == ("DE", 5)


def test_staff_list_and_read_calendars(admin_api, office):
    listed = admin_api.get(CALENDARS)
    read = admin_api.get(detail(CALENDARS, office.pk))

    assert [c["name"] for c in listed.json()["results"]] == ["Office"]
    assert read.json()["time_zone"] == "Europe/Berlin"


def test_a_24x7_calendar_needs_no_opening_hours(admin_api):
    response = admin_api.post(
        CALENDARS, {"name": "Always", "time_zone": "UTC", "is_24x7": True}, format="json"
    )

    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("changes", "key", "says"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", "IANA"),
        ({"time_zone": 42}, "time_zone", "valid string"),
        ({"holiday_country": "XX"}, "holiday_country", "No public holidays"),
        ({"holiday_country": "__dict__"}, "holiday_country", "No public holidays"),
        ({"holiday_subdivision": "XX"}, "holiday_subdivision", "No public holidays"),
        ({"opening_hours": []}, "opening_hours", "at least one weekday"),
        (
            {
                "opening_hours": [
                    {"weekday": 0, "opens": "09:00", "closes": "13:00"},
                    {"weekday": 0, "opens": "12:00", "closes": "17:00"},
                ]
            },
            "opening_hours",
            "overlap",
        ),
        (
            {"opening_hours": [{"weekday": 0, "opens": "17:00", "closes": "09:00"}]},
            "opening_hours",
            "closing must be after opening",
        ),
        (
            {"opening_hours": [{"weekday": 9, "opens": "09:00", "closes": "17:00"}]},
            "opening_hours",
            "valid choice",
        ),
        (
            {"opening_hours": [{"weekday": 0, "opens": "25:00", "closes": "17:00"}]},
            "opening_hours",
            "format",
        ),
        (
            {"holidays": [{"date": "2026-12-24"}, {"date": "2026-12-24"}]},
            "holidays",
            "only once",
        ),
        ({"name": ""}, "name", "blank"),
    ],
)
def test_a_calendar_it_cannot_use_is_a_400_naming_the_problem(admin_api, changes, key, says):
    response = admin_api.post(CALENDARS, {**OFFICE, **changes}, format="json")

    assert response.status_code == 400
    assert says in str(response.json()[key])
    assert not BusinessCalendar.objects.exists()


def test_a_calendar_without_opening_hours_or_24x7_is_a_400(admin_api):
    body = {"name": "Never", "time_zone": "UTC"}

    response = admin_api.post(CALENDARS, body, format="json")

    assert response.status_code == 400
    assert "at least one weekday" in str(response.json()["opening_hours"])


def test_a_duplicate_calendar_name_is_a_400(admin_api, office):
    response = admin_api.post(CALENDARS, {**OFFICE, "name": "Office"}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()


def test_put_replaces_the_opening_hours(admin_api, office):
    body = {**OFFICE, "opening_hours": [{"weekday": 5, "opens": "10:00", "closes": "14:00"}]}

    response = admin_api.put(detail(CALENDARS, office.pk), body, format="json")

    assert response.status_code == 200, response.json()
    assert office.opening_hours_rows() == [(5, time(10), time(14))]


def test_patch_without_opening_hours_keeps_them(admin_api, office):
    response = admin_api.patch(
        detail(CALENDARS, office.pk), {"holiday_country": "AT"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert len(office.opening_hours_rows()) == 5


def test_turning_24x7_off_on_a_calendar_without_hours_is_a_400(admin_api):
    always = services.create_calendar(name="Always", time_zone="UTC", is_24x7=True)

    response = admin_api.patch(detail(CALENDARS, always.pk), {"is_24x7": False}, format="json")

    assert response.status_code == 400
    always.refresh_from_db()
    assert always.is_24x7


def test_a_refused_update_changes_nothing(admin_api, office):
    body = {
        "time_zone": "UTC",
        "opening_hours": [{"weekday": 0, "opens": "9:00", "closes": "8:00"}],
    }

    response = admin_api.patch(detail(CALENDARS, office.pk), body, format="json")

    assert response.status_code == 400
    office.refresh_from_db()
    assert (office.time_zone, len(office.opening_hours_rows())) == ("Europe/Berlin", 5)


def test_deleting_a_calendar_in_use_is_a_409_and_keeps_it(admin_api, office, urgent):
    response = admin_api.delete(detail(CALENDARS, office.pk))

    assert response.status_code == 409
    assert "Urgent" in response.json()["detail"]
    assert BusinessCalendar.objects.filter(pk=office.pk).exists()


def test_deleting_an_unused_calendar_is_a_204(admin_api, office):
    response = admin_api.delete(detail(CALENDARS, office.pk))

    assert response.status_code == 204
    assert not OpeningHours.objects.exists()


# --- Policies -------------------------------------------------------------------------------


def test_staff_create_a_policy_with_targets_and_thresholds(admin_api, office):
    body = {
        "name": "Urgent",
        "calendar": office.pk,
        "priority": "urgent",
        "resolution_target": "04:00:00",
        "first_response_target": "PT30M",
        "warning_lead_times": [14400, 3600],
        "warning_percentages": [75, 90],
    }

    response = admin_api.post(POLICIES, body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json() == {
        **body,
        "id": response.json()["id"],
        "first_response_target": "00:30:00",
        "escalation_policy": None,
    }


def test_a_policy_without_a_priority_is_the_default(admin_api, office):
    body = {"name": "Default", "calendar": office.pk, "resolution_target": "16:00:00"}

    response = admin_api.post(POLICIES, body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["priority"] is None
    assert response.json()["warning_lead_times"] == []


def test_a_second_default_policy_is_a_400(admin_api, office):
    services.create_policy(name="Default", calendar=office, resolution_target=timedelta(hours=8))
    body = {"name": "Another", "calendar": office.pk, "priority": None, "resolution_target": "1:00"}

    response = admin_api.post(POLICIES, body, format="json")

    assert response.status_code == 400
    assert "already a default policy" in str(response.json())


def test_a_second_policy_for_a_priority_is_a_400(admin_api, office, urgent):
    body = {
        "name": "Another",
        "calendar": office.pk,
        "priority": "urgent",
        "resolution_target": "1:00",
    }

    response = admin_api.post(POLICIES, body, format="json")

    assert response.status_code == 400
    assert "already a policy for this priority" in str(response.json())


def test_changing_a_policy_keeps_its_own_priority_slot(admin_api, urgent):
    response = admin_api.patch(
        detail(POLICIES, urgent.pk), {"priority": "urgent", "name": "Renamed"}, format="json"
    )

    assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"resolution_target": "0:00"}, "resolution_target"),
        ({"resolution_target": "soon"}, "resolution_target"),
        ({"resolution_target": None}, "resolution_target"),
        ({"first_response_target": "-1:00:00"}, "first_response_target"),
        ({"warning_percentages": [0, 50]}, "warning_percentages"),
        ({"warning_percentages": [100]}, "warning_percentages"),
        ({"warning_percentages": "75"}, "warning_percentages"),
        ({"warning_lead_times": [-60]}, "warning_lead_times"),
        ({"warning_lead_times": [60.5]}, "warning_lead_times"),
        ({"priority": "asap"}, "priority"),
        ({"calendar": 999_999}, "calendar"),
        ({"calendar": "x"}, "calendar"),
    ],
)
def test_a_policy_it_cannot_use_is_a_400(admin_api, office, changes, key):
    body = {"name": "P", "calendar": office.pk, "priority": "low", "resolution_target": "4:00:00"}

    response = admin_api.post(POLICIES, {**body, **changes}, format="json")

    assert response.status_code == 400
    assert key in response.json()
    assert not SlaPolicy.objects.exists()


def test_deleting_a_policy_keeps_its_tickets_and_their_deadlines(
    clock, admin_api, make_ticket, urgent
):
    ticket = make_ticket(priority="urgent", deadline=None)

    response = admin_api.delete(detail(POLICIES, urgent.pk))

    assert response.status_code == 204
    after = Ticket.objects.get(pk=ticket.pk)
    assert (after.policy, after.deadline) == (None, ticket.deadline)


def test_the_schema_documents_the_staff_endpoints(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()

    assert {"401", "403", "409"} <= set(
        schema["paths"]["/api/calendars/{id}/"]["delete"]["responses"]
    )
    assert {"400", "403"} <= set(schema["paths"]["/api/policies/"]["post"]["responses"])


def test_a_second_default_policy_is_an_error_of_the_priority_field(admin_api, office):
    services.create_policy(name="Default", calendar=office, resolution_target=timedelta(hours=8))
    body = {"name": "Another", "calendar": office.pk, "priority": None, "resolution_target": "1:00"}

    response = admin_api.post(POLICIES, body, format="json")

    assert response.json() == {"priority": ["There is already a default policy."]}


def test_a_second_policy_for_a_priority_is_an_error_of_the_priority_field(
    admin_api, office, urgent
):
    body = {
        "name": "Other",
        "calendar": office.pk,
        "priority": "urgent",
        "resolution_target": "1:00",
    }

    response = admin_api.post(POLICIES, body, format="json")

    assert response.json() == {"priority": ["There is already a policy for this priority."]}


def test_moving_a_policy_onto_a_taken_priority_is_an_error_of_the_priority_field(
    admin_api, office, urgent
):
    other = services.create_policy(
        name="High", calendar=office, priority="high", resolution_target=timedelta(hours=8)
    )

    response = admin_api.patch(detail(POLICIES, other.pk), {"priority": "urgent"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"priority": ["There is already a policy for this priority."]}
