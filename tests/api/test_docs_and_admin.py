"""The API documentation and the admin: served from this process alone, and working."""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from rest_framework.test import APIClient

# --- API docs and schema --------------------------------------------------------------------


@pytest.fixture
def docs(db) -> str:
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def test_the_docs_page_loads_swagger_ui_from_local_static_files(docs):
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs)

    assert any("swagger-ui-bundle.js" in source for source in sources)
    assert any("swagger-ui.css" in source for source in sources)
    # The start script is the docs page's own (?script), so the CSP allows it as 'self'.
    assert all(source.startswith(("/static/", "/api/docs/?script")) for source in sources)


def test_the_docs_page_references_no_remote_url(docs):
    assert re.findall(r"https?://[^\s\"'<>]+", docs) == []


def test_the_docs_page_reads_the_local_schema(docs):
    scripts = re.findall(r'<script src="([^"]+)"', docs)
    start = Client().get(scripts[-1].replace("&amp;", "&"))

    assert start.status_code == 200
    assert '"/api/schema/"' in start.content.decode()


def test_the_docs_page_has_a_content_security_policy_it_keeps(db):
    response = Client().get("/api/docs/")
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
    )

    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    # Every script is a file of this origin: no inline <script> the policy would block.
    assert "<script>" not in response.content.decode()


def test_the_schema_and_the_api_have_a_content_security_policy_too(api):
    assert "default-src 'none'" in api.get("/api/tickets/")["Content-Security-Policy"]


@override_settings(WHITENOISE_USE_FINDERS=True)  # as with DEBUG on, without collectstatic
def test_the_static_files_the_docs_page_needs_are_installed(docs):
    sources = re.findall(r'(?:src|href)="(/static/[^"]+)"', docs)
    client = Client()

    statuses = {source: client.get(source).status_code for source in sources}

    assert set(statuses.values()) == {200}, statuses


@pytest.fixture
def schema(db) -> dict[str, Any]:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/api/tickets/", "get", {"200", "400", "401", "404", "429"}),
        ("/api/tickets/", "post", {"201", "400", "401", "429"}),
        ("/api/tickets/{id}/", "get", {"200", "401", "404"}),
        ("/api/tickets/{id}/", "put", {"200", "400", "401", "404"}),
        ("/api/tickets/{id}/", "patch", {"200", "400", "401", "404"}),
        ("/api/tickets/{id}/", "delete", {"204", "401", "404"}),
        ("/api/tickets/{id}/notifications/", "get", {"200", "401", "404"}),
        ("/api-token-auth/", "post", {"200", "400", "429"}),
        ("/api/token/", "post", {"200", "400", "401", "429"}),
        ("/api/token/refresh/", "post", {"200", "400", "401", "429"}),
        ("/api/logout/", "post", {"204", "401"}),
        ("/api/policies/", "get", {"200", "400", "401", "403", "404"}),
        ("/api/calendars/", "get", {"200", "400", "401", "403", "404"}),
        ("/register/", "post", {"201", "400", "404", "429"}),
    ],
)
def test_the_schema_documents_error_responses(schema, path, method, statuses):
    documented = set(schema["paths"][path][method]["responses"])

    assert statuses <= documented


def test_the_schema_documents_the_list_filters(schema):
    parameters = {p["name"] for p in schema["paths"]["/api/tickets/"]["get"]["parameters"]}

    assert {
        "status",
        "priority",
        "sla_state",
        "deadline_after",
        "deadline_before",
        "ordering",
        "page",
        "page_size",
    } <= parameters


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/tickets/{id}/notifications/", "get"),
        ("/api/tickets/{id}/sla/", "get"),
        ("/api/tickets/{id}/respond/", "post"),
    ],
)
def test_the_schema_documents_no_list_filters_on_a_ticket_s_own_actions(schema, path, method):
    parameters = {p["name"] for p in schema["paths"][path][method].get("parameters", [])}

    assert parameters == {"id"}


def test_a_ticket_s_own_actions_ignore_list_filters(api, make_ticket, clock):
    ticket = make_ticket()

    response = api.get(f"/api/tickets/{ticket.pk}/notifications/", {"status": "null"})

    assert response.status_code == 200


def test_the_schema_states_opening_hours_as_the_wall_clock_times_answered(schema):
    opens = schema["components"]["schemas"]["OpeningHours"]["properties"]["opens"]

    # format: time is RFC 3339's full-time, with a UTC offset these never have.
    assert "format" not in opens
    assert re.search(opens["pattern"], "09:00:00")


def test_the_schema_states_the_deadline_s_year_range_for_requests(schema):
    deadline = schema["components"]["schemas"]["TicketRequest"]["properties"]["deadline"]

    assert re.search(deadline["pattern"], "2100-12-31T23:00:00-05:00")
    assert not re.search(deadline["pattern"], "1999-12-31T23:00:00Z")
    assert not re.search(deadline["pattern"], "2101-01-01T00:00:00Z")


def test_the_schema_states_the_list_parameters_rules(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/tickets/"]["get"]["parameters"]}

    within = parameters["breaching_within"]["schema"]["pattern"]
    assert all(re.search(within, value) for value in ["2h", "1h30m", "PT2H", ""])
    assert not any(re.search(within, value) for value in ["soon", "PT", "2h1d"])
    assert parameters["cursor"]["schema"]["minLength"] == 1
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1}
    offset = parameters["deadline_after"]["schema"]["anyOf"][0]["pattern"]
    assert re.search(offset, "2026-03-10T14:00:00+15:59")
    assert not re.search(offset, "2026-03-10T14:00:00+16:00")


def test_the_schema_types_a_policy_s_warnings(schema):
    policy = schema["components"]["schemas"]["PolicyRequest"]["properties"]

    assert policy["warning_lead_times"]["items"]["type"] == "integer"
    assert policy["warning_percentages"]["items"]["type"] == "number"


def test_the_schema_marks_sla_fields_read_only(schema):
    request = schema["components"]["schemas"]["TicketRequest"]["properties"]

    assert set(request) == {
        "title",
        "description",
        "deadline",
        "status",
        "priority",
        "assignee",
        "team",
    }


# --- Admin ----------------------------------------------------------------------------------


@pytest.fixture
def admin_client(make_user) -> Client:
    superuser = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)
    return client


CHANGELIST = "/admin/tickets/ticket/"


def listed_titles(response) -> list[str]:
    return [str(ticket.title) for ticket in response.context["cl"].result_list]


def test_the_ticket_changelist_loads_for_a_superuser(clock, admin_client, make_ticket):
    make_ticket(title="Printer on fire")

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert listed_titles(response) == ["Printer on fire"]


def test_the_ticket_changelist_filters_by_status_priority_and_resolution_state(
    clock, admin_client, make_ticket
):
    make_ticket(title="Match", priority="urgent", due_in=timedelta(minutes=30))
    make_ticket(title="Low", priority="low", due_in=timedelta(minutes=30))
    make_ticket(title="Done", priority="urgent", status="resolved")

    response = admin_client.get(
        CHANGELIST,
        {
            "status__exact": "open",
            "priority__exact": "urgent",
            "resolution_state__exact": "at_risk",
        },
    )

    assert response.status_code == 200
    assert listed_titles(response) == ["Match"]


def test_the_ticket_changelist_searches_titles_and_owners(clock, admin_client, bob, make_ticket):
    make_ticket(title="Printer on fire")
    make_ticket(owner=bob, title="Stapler jammed")

    by_title = admin_client.get(CHANGELIST, {"q": "printer"})
    by_owner = admin_client.get(CHANGELIST, {"q": "bob"})

    assert listed_titles(by_title) == ["Printer on fire"]
    assert listed_titles(by_owner) == ["Stapler jammed"]


def test_the_ticket_changelist_drills_down_by_deadline(clock, admin_client, make_ticket):
    make_ticket(title="This month")
    make_ticket(title="Next month", due_in=timedelta(days=40))

    response = admin_client.get(CHANGELIST, {"deadline__year": "2026", "deadline__month": "3"})

    assert response.status_code == 200
    assert listed_titles(response) == ["This month"]


def test_a_ticket_s_change_page_loads(clock, admin_client, make_ticket):
    ticket = make_ticket()

    response = admin_client.get(f"{CHANGELIST}{ticket.pk}/change/")

    assert response.status_code == 200


def test_the_admin_refuses_a_user_who_is_not_staff(alice):
    client = Client()
    client.force_login(User.objects.get(username="alice"))

    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_schema_documents_the_414_gunicorn_answers_for_a_long_request_line(schema):
    operations = [
        operation
        for path in schema["paths"].values()
        for method, operation in path.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]

    assert operations
    assert all("414" in operation["responses"] for operation in operations)


def test_try_it_out_prefills_no_filter_of_the_ticket_list(client):
    """Swagger UI fills each parameter's example into its form: a filter would hide tickets."""
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    parameters = schema["paths"]["/api/tickets/"]["get"]["parameters"]

    prefilled = {p["name"] for p in parameters if "example" in p or "example" in p["schema"]}
    assert prefilled == set()
