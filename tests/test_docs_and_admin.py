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
    assert all(source.startswith("/static/") for source in sources), sources


def test_the_docs_page_references_no_remote_url(docs):
    assert re.findall(r"https?://[^\s\"'<>]+", docs) == []


def test_the_docs_page_reads_the_local_schema(docs):
    assert '"/api/schema/"' in docs


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
        ("/api/tickets/", "get", {"200", "401", "429"}),
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


def test_the_schema_marks_sla_fields_read_only(schema):
    request = schema["components"]["schemas"]["TicketRequest"]["properties"]

    assert set(request) == {"title", "description", "deadline", "status", "priority"}


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


def test_the_ticket_changelist_filters_by_status_priority_and_sla_state(
    clock, admin_client, make_ticket
):
    make_ticket(title="Match", priority="urgent", due_in=timedelta(minutes=30))
    make_ticket(title="Low", priority="low", due_in=timedelta(minutes=30))
    make_ticket(title="Done", priority="urgent", status="resolved")

    response = admin_client.get(
        CHANGELIST,
        {"status__exact": "open", "priority__exact": "urgent", "sla_state__exact": "at_risk"},
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
