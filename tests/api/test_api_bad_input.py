"""Bad input of every kind is a 4xx with a JSON body saying what is wrong, never a 500."""

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from tests.conftest import client_for
from tickets.models import Ticket
from watchdog.exceptions import json_exception_handler

GOOD = {"title": "Printer on fire", "deadline": "2026-03-10T14:00:00Z"}


def without(name: str) -> dict[str, Any]:
    return {key: value for key, value in GOOD.items() if key != name}


@dataclass(frozen=True)
class Case:
    """One bad request, the status it earns, and where in the JSON body the problem is named."""

    method: str
    path: str
    body: Any = None
    # Sent as JSON when `raw` is None; otherwise these bytes with `content_type`.
    raw: bytes | None = None
    content_type: str = "application/json"
    query: dict[str, Any] = field(default_factory=dict)
    status: int = 400
    # The key of the body whose message names the problem, and words the message contains.
    key: str = "detail"
    says: str = ""
    as_user: bool = True


CASES = {
    # --- Ticket bodies
    "missing title": Case("post", "/api/tickets/", without("title"), key="title", says="required"),
    "missing deadline": Case(
        "post", "/api/tickets/", without("deadline"), key="deadline", says="required"
    ),
    "empty title": Case("post", "/api/tickets/", {**GOOD, "title": ""}, key="title", says="blank"),
    "blank title": Case(
        "post", "/api/tickets/", {**GOOD, "title": "   "}, key="title", says="blank"
    ),
    "title over 255 characters": Case(
        "post", "/api/tickets/", {**GOOD, "title": "x" * 256}, key="title", says="255 characters"
    ),
    "multi-line title": Case(
        "post", "/api/tickets/", {**GOOD, "title": "one\ntwo"}, key="title", says="single line"
    ),
    "title with a unicode line separator": Case(
        "post", "/api/tickets/", {**GOOD, "title": "one\u2028two"}, key="title", says="single line"
    ),
    "title with a NUL character": Case(
        "post", "/api/tickets/", {**GOOD, "title": "nul\x00"}, key="title", says="null characters"
    ),
    "title with a lone surrogate": Case(
        "post", "/api/tickets/", {**GOOD, "title": "\ud800"}, key="title", says="surrogate"
    ),
    "title that is a number": Case(
        "post", "/api/tickets/", {**GOOD, "title": 42}, key="title", says="not a valid string"
    ),
    "title that is a list": Case(
        "post", "/api/tickets/", {**GOOD, "title": ["a"]}, key="title", says="not a valid string"
    ),
    "title that is an object": Case(
        "post", "/api/tickets/", {**GOOD, "title": {"a": 1}}, key="title", says="not a valid string"
    ),
    "title that is null": Case(
        "post", "/api/tickets/", {**GOOD, "title": None}, key="title", says="may not be null"
    ),
    "description that is a number": Case(
        "post",
        "/api/tickets/",
        {**GOOD, "description": 7},
        key="description",
        says="not a valid string",
    ),
    "deadline without a UTC offset": Case(
        "post",
        "/api/tickets/",
        {**GOOD, "deadline": "2026-03-10T14:00:00"},
        key="deadline",
        says="UTC offset",
    ),
    "deadline that is not a date": Case(
        "post", "/api/tickets/", {**GOOD, "deadline": "tomorrow"}, key="deadline", says="format"
    ),
    "deadline on the 30th of February": Case(
        "post",
        "/api/tickets/",
        {**GOOD, "deadline": "2026-02-30T12:00:00Z"},
        key="deadline",
        says="format",
    ),
    "deadline that is a number": Case(
        "post", "/api/tickets/", {**GOOD, "deadline": 1773144000}, key="deadline", says="format"
    ),
    "deadline that is only a date": Case(
        "post", "/api/tickets/", {**GOOD, "deadline": "2026-03-10"}, key="deadline"
    ),
    "deadline in year 1": Case(
        "post",
        "/api/tickets/",
        {**GOOD, "deadline": "0001-01-01T00:00:00Z"},
        key="deadline",
        says="year must be between",
    ),
    "deadline in year 1 that overflows on conversion to UTC": Case(
        "post",
        "/api/tickets/",
        {**GOOD, "deadline": "0001-01-01T00:30:00+01:00"},
        key="deadline",
    ),
    "deadline in year 9999": Case(
        "post",
        "/api/tickets/",
        {**GOOD, "deadline": "9999-12-31T23:59:59Z"},
        key="deadline",
        says="year must be between",
    ),
    "deadline in year 1999 as written, though 2000 in UTC": Case(
        "post",
        "/api/tickets/",
        {**GOOD, "deadline": "1999-12-31T23:30:00-01:00"},
        key="deadline",
        says="year must be between",
    ),
    "deadline in year 9999 that overflows on conversion to UTC": Case(
        "post",
        "/api/tickets/",
        {**GOOD, "deadline": "9999-12-31T23:30:00-01:00"},
        key="deadline",
    ),
    "unknown status": Case(
        "post", "/api/tickets/", {**GOOD, "status": "bogus"}, key="status", says="not a valid"
    ),
    "status of the wrong type": Case(
        "post", "/api/tickets/", {**GOOD, "status": ["open"]}, key="status", says="not a valid"
    ),
    "unknown priority": Case(
        "post", "/api/tickets/", {**GOOD, "priority": "asap"}, key="priority", says="not a valid"
    ),
    "malformed JSON": Case(
        "post", "/api/tickets/", raw=b'{"title": "Printer",', says="JSON parse error"
    ),
    "a JSON list instead of an object": Case(
        "post", "/api/tickets/", [GOOD], key="non_field_errors", says="expected a dictionary"
    ),
    "a JSON string instead of an object": Case(
        "post", "/api/tickets/", "Printer", key="non_field_errors", says="expected a dictionary"
    ),
    "form data instead of JSON": Case(
        "post",
        "/api/tickets/",
        raw=b"title=Printer&deadline=2026-03-10T14:00:00Z",
        content_type="application/x-www-form-urlencoded",
        status=415,
        says="Unsupported media type",
    ),
    "plain text instead of JSON": Case(
        "post",
        "/api/tickets/",
        raw=json.dumps(GOOD).encode(),
        content_type="text/plain",
        status=415,
        says="Unsupported media type",
    ),
    "a body in a charset that is no text encoding": Case(
        "post",
        "/api/tickets/",
        raw=json.dumps(GOOD).encode(),
        content_type="application/json; charset=bz2_codec",
        says="charset",
    ),
    "a body over DATA_UPLOAD_MAX_MEMORY_SIZE": Case(
        "post",
        "/api/tickets/",
        {**GOOD, "description": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
        status=413,
        says="too large",
    ),
    "a PATCH with an invalid field": Case(
        "patch", "/api/tickets/{ticket}/", {"priority": "asap"}, key="priority", says="not a valid"
    ),
    # --- URLs
    "a non-numeric id": Case("get", "/api/tickets/abc/", status=404, says="not found"),
    "an id too large for the database": Case(
        "get", "/api/tickets/99999999999999999999999/", status=404, says="not found"
    ),
    "an id that is large but no ticket's": Case(
        "get", "/api/tickets/999999999999999999/", status=404, says="no ticket matches"
    ),
    "a negative id": Case("get", "/api/tickets/-1/", status=404, says="not found"),
    "an unknown URL under /api/": Case("get", "/api/nothing-here/", status=404, says="not found"),
    "an unknown URL under /api/ without credentials": Case(
        "get", "/api/nothing-here/", status=404, says="not found", as_user=False
    ),
    "a method the list does not allow": Case(
        "put", "/api/tickets/", GOOD, status=405, says='method "put" not allowed'
    ),
    "a method a ticket does not allow": Case(
        "post", "/api/tickets/{ticket}/", GOOD, status=405, says='method "post" not allowed'
    ),
    "a GET to the token endpoint": Case(
        "get", "/api-token-auth/", status=405, says='method "get" not allowed', as_user=False
    ),
    # --- List queries
    "an unknown status filter": Case(
        "get", "/api/tickets/", query={"status": "bogus"}, key="status", says="valid choice"
    ),
    "an unknown priority filter": Case(
        "get", "/api/tickets/", query={"priority": "asap"}, key="priority", says="valid choice"
    ),
    "an unknown sla_state filter": Case(
        "get", "/api/tickets/", query={"sla_state": "late"}, key="sla_state", says="valid choice"
    ),
    "a naive deadline filter": Case(
        "get",
        "/api/tickets/",
        query={"deadline_after": "2026-03-10T14:00:00"},
        key="deadline_after",
        says="UTC offset",
    ),
    "a garbage deadline filter": Case(
        "get",
        "/api/tickets/",
        query={"deadline_before": "soon"},
        key="deadline_before",
        says="valid date/time",
    ),
    "a page number that is not a number": Case(
        "get", "/api/tickets/", query={"page": "abc"}, status=404, says="invalid page"
    ),
    "a page number too large for any database": Case(
        "get", "/api/tickets/", query={"page": "9" * 30}, status=404, says="invalid page"
    ),
    "a page number longer than Python will read": Case(
        "get", "/api/tickets/", query={"page": "9" * 5000}, status=404, says="invalid page"
    ),
    "a NUL byte after a filter's time": Case(
        "get",
        "/api/tickets/",
        query={"deadline_after": "2026-03-10T14:00:00Z\x00"},
        key="deadline_after",
        says="valid date/time",
    ),
    "a NUL byte after a deadline": Case(
        "post",
        "/api/tickets/",
        {**GOOD, "deadline": "2026-03-10T14:00:00Z\x00"},
        key="deadline",
        says="format",
    ),
    "a NUL byte in a cursor": Case(
        "get", "/api/tickets/", query={"cursor": "eyJv\x00"}, key="cursor", says="invalid cursor"
    ),
    "a lone surrogate in a filter, as UTF-8 bytes": Case(
        "get", "/api/tickets/?status=%ED%A0%80", key="status", says="valid choice"
    ),
    "an empty page number": Case(
        "get", "/api/tickets/", query={"page": ""}, status=404, says="invalid page"
    ),
    "a page number past the end": Case(
        "get", "/api/tickets/", query={"page": "99"}, status=404, says="invalid page"
    ),
    "a page size that is not a number": Case(
        "get", "/api/tickets/", query={"page_size": "abc"}, key="page_size", says="whole number"
    ),
    "a page size of zero": Case(
        "get", "/api/tickets/", query={"page_size": "0"}, key="page_size", says="at least 1"
    ),
    "a negative page size": Case(
        "get", "/api/tickets/", query={"page_size": "-5"}, key="page_size", says="whole number"
    ),
    "a cursor that is empty": Case(
        "get", "/api/tickets/", query={"cursor": ""}, key="cursor", says="invalid cursor"
    ),
    "a breaching_within that is no duration": Case(
        "get",
        "/api/tickets/",
        query={"breaching_within": "soon"},
        key="breaching_within",
        says="duration such as",
    ),
    "an ordering by a field that is not offered": Case(
        "get", "/api/tickets/", query={"ordering": "title"}, key="ordering", says="valid choice"
    ),
    "an unknown ordering": Case(
        "get", "/api/tickets/", query={"ordering": "owner"}, key="ordering", says="valid choice"
    ),
    # --- Authentication endpoints
    "a wrong password": Case(
        "post",
        "/api-token-auth/",
        {"username": "alice", "password": "wrong"},
        key="non_field_errors",
        says="unable to log in",
        as_user=False,
    ),
    "an unknown username": Case(
        "post",
        "/api-token-auth/",
        {"username": "nobody", "password": "wrong"},
        key="non_field_errors",
        says="unable to log in",
        as_user=False,
    ),
    "a login without a password": Case(
        "post",
        "/api-token-auth/",
        {"username": "alice"},
        key="password",
        says="required",
        as_user=False,
    ),
    "a login without a username": Case(
        "post",
        "/api-token-auth/",
        {"password": "correct horse battery staple"},
        key="username",
        says="required",
        as_user=False,
    ),
    "a login with malformed JSON": Case(
        "post",
        "/api-token-auth/",
        raw=b'{"username": ',
        says="JSON parse error",
        as_user=False,
    ),
    "a login username with a lone surrogate": Case(
        "post",
        "/api-token-auth/",
        {"username": "\udfffalice", "password": "wrong"},
        key="username",
        says="surrogate",
        as_user=False,
    ),
    "a JWT login username with a lone surrogate": Case(
        "post",
        "/api/token/",
        {"username": "alice\ud800", "password": "wrong"},
        key="username",
        says="surrogate",
        as_user=False,
    ),
    "a login whose JSON is a list": Case(
        "post",
        "/api-token-auth/",
        ["alice"],
        key="non_field_errors",
        says="expected a dictionary",
        as_user=False,
    ),
    "a JWT login with a wrong password": Case(
        "post",
        "/api/token/",
        {"username": "alice", "password": "wrong"},
        status=401,
        says="no active account",
        as_user=False,
    ),
    "a JWT login without a password": Case(
        "post", "/api/token/", {"username": "alice"}, key="password", as_user=False
    ),
    "a JWT refresh with a garbage token": Case(
        "post",
        "/api/token/refresh/",
        {"refresh": "garbage"},
        status=401,
        says="token is invalid",
        as_user=False,
    ),
    "registration with a weak password": Case(
        "post",
        "/register/",
        {"username": "dave", "email": "dave@example.com", "password": "12345678"},
        key="password",
        says="too common",
        as_user=False,
    ),
    "registration with a password like the username": Case(
        "post",
        "/register/",
        {"username": "davidson", "email": "d@example.com", "password": "davidson1"},
        key="password",
        says="too similar",
        as_user=False,
    ),
    "registration with a username taken in another case": Case(
        "post",
        "/register/",
        {"username": "ALICE", "email": "a2@example.com", "password": "a long and unusual phrase"},
        key="username",
        says="already exists",
        as_user=False,
    ),
    "registration with a bad email": Case(
        "post",
        "/register/",
        {"username": "dave", "email": "not-an-email", "password": "a long and unusual phrase"},
        key="email",
        says="valid email",
        as_user=False,
    ),
    "registration with a bad username": Case(
        "post",
        "/register/",
        {"username": "da ve", "email": "d@example.com", "password": "a long and unusual phrase"},
        key="username",
        says="letters, digits",
        as_user=False,
    ),
    "registration with a password that is a number": Case(
        "post",
        "/register/",
        {"username": "dave", "email": "d@example.com", "password": 49382716504938271650},
        key="password",
        says="not a valid string",
        as_user=False,
    ),
    "registration with a username that is a number": Case(
        "post",
        "/register/",
        {"username": 42, "email": "d@example.com", "password": "a long and unusual phrase"},
        key="username",
        says="not a valid string",
        as_user=False,
    ),
    "registration without fields": Case(
        "post", "/register/", {}, key="username", says="required", as_user=False
    ),
}


def send(client: APIClient, case: Case, path: str) -> Any:
    request: Callable[..., Any] = getattr(client, case.method)
    if case.query:
        return request(path, case.query)
    if case.raw is not None:
        return request(path, case.raw, content_type=case.content_type)
    if case.body is None:
        return request(path)
    return request(path, json.dumps(case.body), content_type=case.content_type)


def message_at(body: Any, key: str) -> str:
    value = body[key]
    return " ".join(value) if isinstance(value, list) else str(value)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
@override_settings(REGISTRATION_OPEN=True)
def test_it_answers_bad_input_with_a_4xx_naming_the_problem(clock, alice, make_ticket, case):
    ticket = make_ticket(title="Untouched")
    client = client_for(alice) if case.as_user else APIClient()

    response = send(client, case, case.path.format(ticket=ticket.pk))

    assert response.status_code == case.status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert case.key in body, body
    assert case.says.lower() in message_at(body, case.key).lower()
    assert Ticket.objects.get().title == "Untouched"


def test_there_are_at_least_twenty_distinct_kinds_of_bad_input():
    assert len(CASES) >= 20


def test_a_body_just_under_the_size_limit_is_accepted(clock, api):
    padding = settings.DATA_UPLOAD_MAX_MEMORY_SIZE - 200
    body = json.dumps({**GOOD, "description": "x" * padding})

    response = api.post("/api/tickets/", body, content_type="application/json")

    assert response.status_code == 201


# --- Inputs that once reached a 500 or a non-JSON answer ----------------------------------


@pytest.mark.parametrize("offset", ["+16:00", "-16:00", "+23:59", "-23:59"])
@pytest.mark.parametrize("name", ["deadline_after", "deadline_before"])
def test_it_refuses_a_filter_time_whose_utc_offset_postgresql_cannot_hold(api, name, offset):
    response = api.get("/api/tickets/", {name: f"2026-03-10T14:00:00{offset}"})

    assert response.status_code == 400, response.content
    assert "between -15:59 and +15:59" in response.json()[name][0]


@pytest.mark.parametrize("offset", ["+15:59", "-15:59", "Z"])
def test_it_accepts_a_filter_time_at_the_edge_of_the_offset_range(api, offset):
    response = api.get("/api/tickets/", {"deadline_after": f"2026-03-10T14:00:00{offset}"})

    assert response.status_code == 200, response.content


@pytest.mark.parametrize("offset", ["+16:00", "-23:59"])
def test_it_refuses_a_cursor_whose_utc_offset_postgresql_cannot_hold(api, offset):
    payload = {"o": ["deadline", "id"], "k": [f"2026-03-10T14:00:00{offset}", 1], "r": False}
    cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    response = api.get("/api/tickets/", {"cursor": cursor})

    assert response.status_code == 400, response.content
    assert "Invalid cursor" in response.json()["cursor"][0]


DEEP = b"[" * 3000 + b"]" * 3000


@pytest.mark.parametrize(
    ("path", "as_user"),
    [
        ("/api-token-auth/", False),
        ("/api/token/", False),
        ("/api/token/refresh/", False),
        ("/register/", False),
        ("/api/tickets/", True),
        ("/api/calendars/", True),
    ],
)
@override_settings(REGISTRATION_OPEN=True)
def test_it_answers_json_nested_too_deeply_for_python_with_a_400(staff, path, as_user):
    client = client_for(staff) if as_user else APIClient()

    response = client.post(path, DEEP, content_type="application/json")

    assert response.status_code == 400, response.content
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/tickets/abc/"),
        ("post", "/api/nope/"),
        ("put", "/api/tickets/1/nope/"),
        ("patch", "/api/"),
    ],
)
@pytest.mark.parametrize("as_user", [True, False])
def test_an_unsafe_method_on_an_unknown_api_url_is_a_json_404(alice, method, path, as_user):
    client = client_for(alice) if as_user else APIClient()
    # The test client skips CSRF checks unless asked: a real client gets them.
    client.handler.enforce_csrf_checks = True

    response = getattr(client, method)(path)

    assert response.status_code == 404, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("path", ["/api/policies/", "/api/calendars/"])
@pytest.mark.parametrize("page_size", ["abc", "0", "-1", "1.5", " 2"])
def test_a_settings_list_refuses_a_page_size_it_cannot_use(staff, path, page_size):
    response = client_for(staff).get(path, {"page_size": page_size})

    assert response.status_code == 400, response.content
    assert "whole number" in response.json()["page_size"][0]


@pytest.mark.parametrize("path", ["/api/policies/", "/api/calendars/"])
@pytest.mark.parametrize("page", ["", "abc", "0", "2"])
def test_a_settings_list_answers_a_page_it_does_not_have_with_a_404(staff, path, page):
    response = client_for(staff).get(path, {"page": page})

    assert response.status_code == 404, response.content
    assert response.json()["detail"] == "Invalid page."


@pytest.mark.parametrize("page_size", ["1000", "99999999999999999999999", "9" * 5000])
def test_a_page_size_over_the_maximum_gets_the_maximum(api, page_size):
    response = api.get("/api/tickets/", {"page_size": page_size})

    assert response.status_code == 200, response.content


def test_a_deadline_in_2100_as_written_is_accepted_though_2101_in_utc(api, clock):
    body = {**GOOD, "deadline": "2100-12-31T23:00:00-05:00"}

    response = api.post("/api/tickets/", json.dumps(body), content_type="application/json")

    assert response.status_code == 201, response.content
    assert response.json()["deadline"] == "2101-01-01T04:00:00Z"


def test_a_row_deleted_while_its_request_runs_is_a_404_not_a_500():
    # A PATCH finds the ticket, a DELETE beside it commits, the PATCH's service then fails
    # to lock it: Django's DoesNotExist, which DRF alone would let become a 500.
    response = json_exception_handler(Ticket.DoesNotExist(), {})

    assert response is not None
    assert response.status_code == 404


@pytest.mark.parametrize("padding", [" ", "\u00a0", "\t"])
def test_a_title_longer_than_255_as_sent_is_refused_even_if_trimming_would_fit(
    api, make_ticket, padding
):
    """Found by the Schemathesis gate: the schema's maxLength counts what was sent."""
    ticket = make_ticket()
    title = padding + "x" * 255

    body = {"title": title, "deadline": "2030-01-01T00:00:00Z"}
    created = api.post("/api/tickets/", body, format="json")
    replaced = api.put(f"/api/tickets/{ticket.pk}/", body, format="json")

    for response in (created, replaced):
        assert response.status_code == 400
        assert response.json() == {"title": ["Ensure this field has no more than 255 characters."]}
