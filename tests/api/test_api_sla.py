"""The SLA surface of the ticket API: first responses, the /sla/ explanation, and lists by
next breach (?breaching_within=, ?ordering=next_breach_at).

The worked example: a Monday-to-Friday 9-17 Berlin calendar closed on German public
holidays; urgent tickets have 4 business hours to resolution and 1 to first response, and
warn 1 business hour before each deadline and at 75 % of the target. An urgent ticket
created on Friday 2026-03-13 at 16:00 Berlin time is due for a first response at 17:00 and
for resolution on Monday at 12:00; pending from 10:00 to 11:00 on Monday, at 13:00.
"""

import base64
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from policies.models import SlaPolicy
from sla.enums import SlaState, Status
from tests.calendars import berlin_office
from tests.conftest import client_for
from tests.durations import HOUR
from tests.factories import urgent_policy
from tickets import services
from tickets.engine import run_transitions
from tickets.models import Ticket

BERLIN = ZoneInfo("Europe/Berlin")
LIST = "/api/tickets/"

FRIDAY_16_00 = datetime(2026, 3, 13, 16, tzinfo=BERLIN)
FRIDAY_16_30 = datetime(2026, 3, 13, 16, 30, tzinfo=BERLIN)
FRIDAY_16_45 = datetime(2026, 3, 13, 16, 45, tzinfo=BERLIN)
FRIDAY_17_00 = datetime(2026, 3, 13, 17, tzinfo=BERLIN)
MONDAY = datetime(2026, 3, 16, tzinfo=BERLIN)


def monday(hour: int, minute: int = 0) -> datetime:
    return MONDAY.replace(hour=hour, minute=minute)


def utc(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def detail(ticket: Ticket) -> str:
    return f"{LIST}{ticket.pk}/"


def titles(response: Any) -> list[str]:
    return [row["title"] for row in response.json()["results"]]


def thresholds(metric: dict[str, Any]) -> list[tuple[int, datetime | None, bool]]:
    return [(t["seconds_left"], utc(t["at"]), t["passed"]) for t in metric["thresholds"]]


@pytest.fixture
def urgent(db: None) -> SlaPolicy:
    return urgent_policy(
        berlin_office(),
        first_response_target=HOUR,
        warning_lead_times=[3600],
        warning_percentages=[75],
    )


@pytest.fixture
def friday(clock):
    clock.move_to(FRIDAY_16_00)
    return clock


@pytest.fixture
def ticket(friday, api: APIClient, urgent: SlaPolicy) -> Ticket:
    """Created through the API on Friday at 16:00 Berlin time."""
    response = api.post(LIST, {"title": "Printer on fire", "priority": "urgent"}, format="json")
    assert response.status_code == 201, response.json()
    return Ticket.objects.get(pk=response.json()["id"])


def sla(api: APIClient, ticket: Ticket) -> dict[str, Any]:
    response = api.get(f"{detail(ticket)}sla/")
    assert response.status_code == 200, response.json()
    body: dict[str, Any] = response.json()
    return body


# --- The ticket's new read-only fields ------------------------------------------------------


def test_a_ticket_shows_both_deadlines_and_its_next_breach(ticket, api):
    body = api.get(detail(ticket)).json()

    assert utc(body["deadline"]) == monday(12)
    assert utc(body["first_response_due"]) == FRIDAY_17_00
    # The 1-hour lead time is as long as the 1-hour target, so it does not apply to first
    # response: the ticket starts on track.
    assert body["first_response_state"] == SlaState.ON_TRACK
    assert (body["first_responded_at"], body["paused_at"]) == (None, None)
    assert utc(body["next_breach_at"]) == FRIDAY_17_00


def test_the_new_fields_are_ignored_when_a_client_sends_them(friday, api, urgent):
    forged = {
        "first_response_due": "2001-01-01T00:00:00Z",
        "first_responded_at": "2001-01-01T00:00:00Z",
        "first_response_state": "achieved",
        "paused_at": "2001-01-01T00:00:00Z",
        "next_breach_at": "2001-01-01T00:00:00Z",
    }

    created = api.post(LIST, {"title": "P", "priority": "urgent", **forged}, format="json")
    patched = api.patch(f"{LIST}{created.json()['id']}/", forged, format="json")

    assert (created.status_code, patched.status_code) == (201, 200)
    saved = Ticket.objects.get(pk=created.json()["id"])
    assert (saved.first_response_due, saved.first_responded_at) == (FRIDAY_17_00, None)
    assert (saved.paused_at, saved.next_breach_at) == (None, FRIDAY_17_00)
    assert saved.first_response_state == SlaState.ON_TRACK
    assert patched.json()["first_response_state"] == SlaState.ON_TRACK


# --- /sla/ ----------------------------------------------------------------------------------


def test_the_explanation_names_the_policy_calendar_and_targets(ticket, api, urgent):
    body = sla(api, ticket)

    assert body["policy"] == {"id": urgent.pk, "name": "Urgent"}
    assert body["calendar"] == {
        "id": urgent.calendar_id,
        "name": "Berlin office",
        "time_zone": "Europe/Berlin",
    }
    assert (body["deadline_source"], utc(body["next_breach_at"])) == ("policy", FRIDAY_17_00)
    first, resolution = body["first_response"], body["resolution"]
    assert (first["target"], first["target_seconds"]) == ("PT1H", 3600)
    assert (resolution["target"], resolution["target_seconds"]) == ("PT4H", 14400)
    assert (utc(first["deadline"]), utc(resolution["deadline"])) == (FRIDAY_17_00, monday(12))


def test_the_explanation_shows_when_each_warning_threshold_is_passed(ticket, api):
    body = sla(api, ticket)

    # First response: 75 % of 1 h, i.e. 15 min before. The 1 h lead time would be passed
    # at creation, so it is dropped for a 1-hour target.
    assert thresholds(body["first_response"]) == [(900, FRIDAY_16_45, False)]
    # Resolution: 1 h before and 75 % of 4 h are the same threshold: Monday 11:00.
    assert thresholds(body["resolution"]) == [(3600, monday(11), False)]


def test_elapsed_and_remaining_are_business_time_at_now(ticket, api, clock):
    clock.move_to(FRIDAY_16_30)
    friday_body = sla(api, ticket)
    clock.move_to(monday(9, 30))  # the weekend counts for nothing
    monday_body = sla(api, ticket)

    assert utc(friday_body["at"]) == FRIDAY_16_30
    for metric, elapsed, remaining in [("first_response", 1800, 1800), ("resolution", 1800, 12600)]:
        assert friday_body[metric]["elapsed_seconds"] == elapsed
        assert friday_body[metric]["remaining_seconds"] == remaining
    # First response was due Friday 17:00: an hour ago in business time.
    assert monday_body["first_response"]["remaining_seconds"] == -1800
    assert monday_body["resolution"]["elapsed_seconds"] == 5400
    assert monday_body["resolution"]["remaining_seconds"] == 9000


def test_a_pending_ticket_stops_its_resolution_clock_and_the_pause_moves_the_deadline(
    ticket, api, clock
):
    clock.move_to(monday(10))
    assert api.patch(detail(ticket), {"status": "pending"}, format="json").status_code == 200
    clock.move_to(monday(10, 30))
    paused = sla(api, ticket)
    clock.move_to(monday(11))
    resumed = api.patch(detail(ticket), {"status": "open"}, format="json")
    after = sla(api, ticket)

    resolution = paused["resolution"]
    assert (resolution["paused"], resolution["state"]) == (True, SlaState.PAUSED)
    assert utc(api.get(detail(ticket)).json()["paused_at"]) is None  # read after resuming
    # Frozen at the moment it stopped: 2 hours used (Friday 16-17, Monday 9-10), 2 left.
    assert (resolution["elapsed_seconds"], resolution["remaining_seconds"]) == (7200, 7200)
    assert resolution["pauses"] == [
        {"started_at": "2026-03-16T09:00:00Z", "ended_at": None, "business_seconds": 1800}
    ]
    assert utc(resumed.json()["deadline"]) == monday(13)
    resolution = after["resolution"]
    assert utc(resolution["deadline"]) == monday(13)
    assert (resolution["paused"], resolution["state"]) == (False, SlaState.ON_TRACK)
    assert (resolution["elapsed_seconds"], resolution["remaining_seconds"]) == (7200, 7200)
    assert resolution["pauses"] == [
        {
            "started_at": "2026-03-16T09:00:00Z",
            "ended_at": "2026-03-16T10:00:00Z",
            "business_seconds": 3600,
        }
    ]
    assert thresholds(resolution) == [(3600, monday(12), False)]


def test_while_paused_the_ticket_shows_when_it_stopped(ticket, api, clock):
    clock.move_to(monday(10))

    body = api.patch(detail(ticket), {"status": "pending"}, format="json").json()

    assert (body["sla_state"], utc(body["paused_at"])) == (SlaState.PAUSED, monday(10))


def test_the_timeline_lists_what_set_and_moved_each_deadline_in_order(ticket, api, clock):
    clock.move_to(monday(10))
    api.patch(detail(ticket), {"status": "pending"}, format="json")
    clock.move_to(monday(11))
    api.patch(detail(ticket), {"status": "open"}, format="json")
    clock.move_to(monday(11, 15))
    api.post(f"{detail(ticket)}respond/")

    timeline = sla(api, ticket)["timeline"]

    assert [(e["kind"], e["metric"]) for e in timeline] == [
        ("policy_applied", "resolution"),
        ("policy_applied", "first_response"),
        ("paused", "resolution"),
        ("resumed", "resolution"),
        ("responded", "first_response"),
    ]
    assert [utc(e["at"]) for e in timeline] == [
        FRIDAY_16_00,
        FRIDAY_16_00,
        monday(10),
        monday(11),
        monday(11, 15),
    ]
    resumed = timeline[3]
    assert (utc(resumed["deadline"]), utc(resumed["previous_deadline"])) == (monday(13), monday(12))
    assert timeline[0]["detail"] == "policy Urgent"


def test_a_manual_deadline_without_a_policy_is_explained_in_wall_clock_time(friday, api):
    created = api.post(
        LIST, {"title": "P", "deadline": "2026-03-14T15:00:00Z"}, format="json"
    ).json()
    ticket = Ticket.objects.get(pk=created["id"])

    body = sla(api, ticket)

    assert (body["policy"], body["calendar"], body["deadline_source"]) == (None, None, "manual")
    resolution = body["resolution"]
    assert (resolution["target"], resolution["target_seconds"]) == (None, None)
    # Saturday 15:00Z is 24 wall-clock hours away, weekend or not.
    assert (resolution["elapsed_seconds"], resolution["remaining_seconds"]) == (0, 86400)
    assert thresholds(resolution) == [(3600, datetime(2026, 3, 14, 14, tzinfo=UTC), False)]
    first = body["first_response"]
    assert (first["deadline"], first["state"], first["thresholds"]) == (None, "", [])
    assert (first["elapsed_seconds"], first["remaining_seconds"]) == (None, None)
    assert [e["kind"] for e in body["timeline"]] == ["manual_deadline"]


def test_a_resolved_ticket_is_explained_as_it_stood_when_resolved(ticket, api, clock):
    clock.move_to(FRIDAY_16_30)
    api.patch(detail(ticket), {"status": "resolved"}, format="json")
    clock.move_to(monday(15))

    body = sla(api, ticket)

    for metric in ("first_response", "resolution"):
        assert (body[metric]["state"], utc(body[metric]["met_at"])) == (
            SlaState.ACHIEVED,
            FRIDAY_16_30,
        )
        assert body[metric]["elapsed_seconds"] == 1800
    assert body["next_breach_at"] is None
    assert [e["kind"] for e in body["timeline"]][-1] == "resolved"


def test_bob_gets_404_for_the_explanation_of_alice_s_ticket(ticket, bob):
    response = client_for(bob).get(f"{detail(ticket)}sla/")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_the_explanation_needs_credentials(ticket):
    assert APIClient().get(f"{detail(ticket)}sla/").status_code == 401


# --- /respond/ ------------------------------------------------------------------------------


def test_a_response_in_time_achieves_the_first_response(ticket, api, clock):
    clock.move_to(FRIDAY_16_30)

    response = api.post(f"{detail(ticket)}respond/")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == ticket.pk
    assert (body["first_response_state"], utc(body["first_responded_at"])) == (
        SlaState.ACHIEVED,
        FRIDAY_16_30,
    )
    # Only resolution is left to breach.
    assert utc(body["next_breach_at"]) == monday(12)
    explained = sla(api, ticket)["first_response"]
    assert (explained["state"], utc(explained["met_at"])) == (SlaState.ACHIEVED, FRIDAY_16_30)
    assert (explained["elapsed_seconds"], explained["remaining_seconds"]) == (1800, 1800)


def test_a_late_response_leaves_the_first_response_breached(ticket, api, clock):
    clock.move_to(monday(9, 30))
    run_transitions()  # the checker has noticed the miss meanwhile

    body = api.post(f"{detail(ticket)}respond/").json()

    assert (body["first_response_state"], utc(body["first_responded_at"])) == (
        SlaState.BREACHED,
        monday(9, 30),
    )
    assert sla(api, ticket)["first_response"]["remaining_seconds"] == -1800


def test_a_second_response_is_a_409_naming_the_first(ticket, api, clock):
    clock.move_to(FRIDAY_16_30)
    api.post(f"{detail(ticket)}respond/")
    clock.move_to(FRIDAY_16_45)

    response = api.post(f"{detail(ticket)}respond/")

    assert response.status_code == 409
    assert "first response was recorded at 2026-03-13T15:30:00" in response.json()["detail"]
    assert Ticket.objects.get(pk=ticket.pk).first_responded_at == FRIDAY_16_30


def test_bob_gets_404_for_responding_to_alice_s_ticket_and_nothing_is_recorded(ticket, bob):
    response = client_for(bob).post(f"{detail(ticket)}respond/")

    assert response.status_code == 404
    assert Ticket.objects.get(pk=ticket.pk).first_responded_at is None


def test_responding_needs_credentials(ticket):
    assert APIClient().post(f"{detail(ticket)}respond/").status_code == 401


def test_a_ticket_without_a_first_response_target_records_the_response_all_the_same(
    friday, api, make_ticket
):
    plain = make_ticket()

    body = api.post(f"{detail(plain)}respond/").json()

    assert (utc(body["first_responded_at"]), body["first_response_state"]) == (FRIDAY_16_00, "")


# --- Lists by next breach -------------------------------------------------------------------


@pytest.fixture
def three(ticket, alice, bob, no_rate_limits) -> dict[str, Ticket]:
    """At Friday 16:00: "urgent" (first response due 17:00, resolution Monday 12:00),
    "manual" (due 18:00, nothing else), "done" (resolved: nothing left to breach), and one
    of bob's due in an hour, which alice never sees."""
    manual = services.create_ticket(
        owner=alice, title="manual", deadline=datetime(2026, 3, 13, 18, tzinfo=BERLIN)
    )
    done = services.create_ticket(
        owner=alice, title="done", deadline=monday(9), status=Status.RESOLVED
    )
    services.create_ticket(owner=bob, title="bob's", deadline=FRIDAY_17_00)
    Ticket.objects.filter(pk=ticket.pk).update(title="urgent")
    return {"urgent": ticket, "manual": manual, "done": done}


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        # By deadline, "urgent" (Monday) comes after "manual" (Friday 18:00)...
        ("deadline", ["manual", "done", "urgent"]),
        # ...but its first response is due sooner than anything else; nothing to breach last.
        ("next_breach_at", ["urgent", "manual", "done"]),
        ("-next_breach_at", ["done", "manual", "urgent"]),
    ],
)
def test_it_orders_by_the_next_breach_of_either_metric(three, api, ordering, expected):
    response = api.get(LIST, {"ordering": ordering})

    assert response.status_code == 200
    assert titles(response) == expected


@pytest.mark.parametrize(
    ("within", "expected"),
    [
        ("30m", []),
        ("90s", []),
        ("1h", ["urgent"]),  # the first response, due at 17:00 exactly
        ("90m", ["urgent"]),
        ("1h30m", ["urgent"]),
        ("2h", ["urgent", "manual"]),
        ("PT2H", ["urgent", "manual"]),
        ("1d", ["urgent", "manual"]),
        ("P366D", ["urgent", "manual"]),
    ],
)
def test_breaching_within_lists_the_tickets_due_that_soon(three, api, within, expected):
    response = api.get(LIST, {"breaching_within": within, "ordering": "next_breach_at"})

    assert response.status_code == 200, response.json()
    assert titles(response) == expected


def test_breaching_within_counts_the_metric_still_running(three, api, clock):
    clock.move_to(FRIDAY_16_30)
    api.post(f"{detail(three['urgent'])}respond/")

    response = api.get(LIST, {"breaching_within": "2h"})

    assert titles(response) == ["manual"]


def test_breaching_within_keeps_a_ticket_already_past_its_deadline_until_checked(three, api, clock):
    clock.move_to(datetime(2026, 3, 13, 18, 30, tzinfo=BERLIN))  # no check has run

    before = api.get(LIST, {"breaching_within": "1m"})
    run_transitions()
    after = api.get(LIST, {"breaching_within": "1m"})

    assert titles(before) == ["manual", "urgent"]  # by deadline: Friday 18:00, Monday 12:00
    assert titles(after) == []


@pytest.mark.parametrize(
    ("within", "says"),
    [
        ("soon", "such as 90s"),
        ("2 hours", "such as 90s"),
        ("2H", "such as 90s"),
        ("h", "such as 90s"),
        ("3600", "such as 90s"),
        ("P1M", "such as 90s"),
        ("1h2d", "such as 90s"),
        ("-2h", "more than zero"),
        ("-PT2H", "more than zero"),
        ("0s", "more than zero"),
        ("PT0S", "more than zero"),
        ("367d", "at most 366 days"),
        ("P400D", "at most 366 days"),
        ("999999999d999999999h", "at most 366 days"),
        ("9" * 100 + "d", "such as 90s"),
        ("P" + "9" * 100 + "D", "such as 90s"),
        ("\x00", "such as 90s"),
    ],
)
def test_a_bad_breaching_within_is_a_400_saying_why(three, api, within, says):
    response = api.get(LIST, {"breaching_within": within})

    assert response.status_code == 400
    (message,) = response.json()["breaching_within"]
    assert says in message


# --- Cursor pages ordered by a nullable key -------------------------------------------------


@pytest.fixture
def many(clock, alice, bob, no_rate_limits) -> None:
    """60 of alice's tickets: next breaches on 5 distinct instants (heavy ties) and 20 with
    none (NULL); bob's must never show up."""
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    Ticket.objects.bulk_create(
        Ticket(
            owner=alice,
            title=f"T{n}",
            deadline=now + (n % 7 + 1) * HOUR,
            next_breach_at=None if n % 3 == 0 else now + (n % 5 + 1) * HOUR,
        )
        for n in range(60)
    )
    Ticket.objects.bulk_create(
        Ticket(owner=bob, title=f"B{n}", deadline=now, next_breach_at=None if n % 2 else now)
        for n in range(10)
    )


def expected_order(alice, *, descending: bool) -> list[int]:
    rows = list(Ticket.objects.filter(owner=alice).values_list("id", "next_breach_at"))
    if descending:  # NULL first, then latest first; ties by id, ascending
        rows.sort(key=lambda r: (r[1] is not None, -(r[1].timestamp() if r[1] else 0), r[0]))
    else:
        rows.sort(key=lambda r: (r[1] is None, r[1].timestamp() if r[1] else 0, r[0]))
    return [pk for pk, _ in rows]


def walk(api: APIClient, params: dict[str, Any]) -> list[Any]:
    pages = [api.get(LIST, params)]
    while pages[-1].json()["next"]:
        pages.append(api.get(pages[-1].json()["next"]))
    return pages


def ids(response: Any) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize("descending", [False, True])
def test_cursor_pages_by_next_breach_list_every_ticket_once_nulls_included(
    api, alice, many, descending
):
    params = {"page_size": 4, "ordering": f"{'-' if descending else ''}next_breach_at"}

    pages = walk(api, params)
    backwards = [pages[-1]]
    while backwards[-1].json()["previous"]:
        backwards.append(api.get(backwards[-1].json()["previous"]))

    assert all(page.status_code == 200 for page in pages + backwards)
    assert [i for page in pages for i in ids(page)] == expected_order(alice, descending=descending)
    assert len(pages) == 15
    assert all("cursor=" in page.json()["next"] for page in pages[:-1])
    assert [ids(page) for page in reversed(backwards)] == [ids(page) for page in pages]


def test_cursor_pages_by_next_breach_walk_a_breaching_within_list(api, alice, many, clock):
    pages = walk(api, {"page_size": 3, "ordering": "next_breach_at", "breaching_within": "3h"})

    listed = [i for page in pages for i in ids(page)]
    soon = datetime(2026, 3, 10, 15, tzinfo=UTC)
    assert listed == [
        pk
        for pk in expected_order(alice, descending=False)
        if (at := Ticket.objects.get(pk=pk).next_breach_at) is not None and at <= soon
    ]
    assert len(listed) == 24


def test_a_cursor_by_next_breach_is_refused_for_another_ordering(api, many):
    first = api.get(LIST, {"ordering": "next_breach_at", "page_size": 5})
    cursor = first.json()["next"].split("cursor=")[1].split("&")[0]

    response = api.get(LIST, {"cursor": cursor, "ordering": "-next_breach_at"})

    assert response.status_code == 400
    assert "this list" in response.json()["cursor"][0]


def test_a_null_cursor_key_on_a_list_without_nulls_is_a_400(api, many):
    first = api.get(LIST, {"ordering": "next_breach_at", "page_size": 5, "breaching_within": "1d"})
    cursor = first.json()["next"].split("cursor=")[1].split("&")[0]
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    payload["k"][0] = None
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    with_nulls = api.get(LIST, {"ordering": "next_breach_at", "cursor": forged})
    without = api.get(
        LIST, {"ordering": "next_breach_at", "cursor": forged, "breaching_within": "1d"}
    )

    assert with_nulls.status_code == 200  # a NULL key is a position in this list
    assert without.status_code == 400
    assert "Invalid cursor" in without.json()["cursor"][0]


# --- Documentation --------------------------------------------------------------------------


def test_the_schema_describes_the_explanation_respond_and_the_filter(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    paths, components = schema["paths"], schema["components"]["schemas"]

    explanation = paths["/api/tickets/{id}/sla/"]["get"]["responses"]["200"]
    assert explanation["content"]["application/json"]["schema"]["$ref"].endswith("SlaExplanation")
    assert {"first_response", "resolution", "timeline", "policy", "calendar"} <= set(
        components["SlaExplanation"]["properties"]
    )
    assert {"pauses", "paused", "thresholds"} <= set(components["SlaResolution"]["properties"])
    assert {"200", "409", "404"} <= set(paths["/api/tickets/{id}/respond/"]["post"]["responses"])
    parameters = {p["name"]: p for p in paths["/api/tickets/"]["get"]["parameters"]}
    assert "PT2H" in parameters["breaching_within"]["description"]
    assert "next_breach_at" in parameters["ordering"]["schema"]["items"]["enum"]
    assert {"first_response_due", "next_breach_at", "paused_at"} <= set(
        components["Ticket"]["properties"]
    )


# --- Query plan (PostgreSQL) ----------------------------------------------------------------


def test_breaching_soonest_first_is_read_from_the_breach_index_on_postgresql(api, alice, many):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: checks PostgreSQL's EXPLAIN")
    params = {"breaching_within": "3h", "ordering": "next_breach_at", "page_size": 5}
    first = api.get(LIST, params)
    with CaptureQueriesContext(connection) as queries:
        api.get(api.get(first.json()["next"]).json()["next"])  # the third page
    sql = queries.captured_queries[-1]["sql"]

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticket")
        # A few rows: forbid the sequential scan and the sort, to see that the index can
        # answer it in its order (as in test_api_pagination).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        nodes = list(plan_nodes(cursor.fetchone()[0][0]["Plan"]))

    scans = [n for n in nodes if n.get("Relation Name") == "tickets_ticket"]
    assert [n["Node Type"] for n in scans] == ["Index Scan"]
    # Either breach index serves it, depending on how the statistics spread the tickets
    # over owners.
    assert scans[0]["Index Name"] in {"ticket_owner_breach_idx", "ticket_breach_idx"}
    assert "next_breach_at >=" in scans[0]["Index Cond"]  # a range from the cursor on
    assert "Sort" not in {n["Node Type"] for n in nodes}


def plan_nodes(node: dict[str, Any]) -> Any:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def test_a_ticket_created_resolved_counts_as_responded_to_at_creation(friday, api, urgent, clock):
    created = api.post(
        LIST, {"title": "Done already", "priority": "urgent", "status": "resolved"}, format="json"
    ).json()
    clock.move_to(monday(12))

    response = api.post(f"{LIST}{created['id']}/respond/")

    assert (utc(created["first_responded_at"]), created["first_response_state"]) == (
        FRIDAY_16_00,
        SlaState.ACHIEVED,
    )
    assert response.status_code == 409
    assert Ticket.objects.get(pk=created["id"]).first_response_state == SlaState.ACHIEVED
