"""Keyset (cursor) pages of the ticket list, beside the page numbers they extend."""

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from sla.enums import Priority, Status
from tests.conftest import T0, client_for
from tests.durations import HOUR
from tickets.models import Ticket

LIST = "/api/tickets/"
PRIORITIES = [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT]
ORDERINGS = [None, "deadline", "-deadline", "created_at", "-created_at", "priority", "-priority"]
# The database's own order for each, as the API defines it: the requested key, then
# deadline and id (priority sorts by urgency, which the CASE annotation ranks).
DB_ORDER = {
    None: ("deadline", "id"),
    "deadline": ("deadline", "id"),
    "-deadline": ("-deadline", "id"),
    "created_at": ("created_at", "deadline", "id"),
    "-created_at": ("-created_at", "deadline", "id"),
    "priority": ("priority_rank", "deadline", "id"),
    "-priority": ("-priority_rank", "deadline", "id"),
}


def cursor_of(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def ids(response: Any) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def walk(api: APIClient, params: dict[str, Any], *, between: Callable[[], None] | None = None):
    """Every page from the first, following `next`; returns the responses."""
    pages = [api.get(LIST, params)]
    while pages[-1].json()["next"]:
        if between:
            between()
        pages.append(api.get(pages[-1].json()["next"]))
    return pages


def expected(owner: User, ordering: str | None) -> list[int]:
    rows = Ticket.objects.filter(owner=owner).order_by(*DB_ORDER[ordering])
    return list(rows.values_list("id", flat=True))


@pytest.fixture
def many(clock, alice: User, bob: User, no_rate_limits) -> list[Ticket]:
    """300 of alice's tickets with heavy ties: 7 deadlines, 4 priorities, one created_at
    (the clock stands still); and some of bob's, which must never show up."""
    tickets = Ticket.objects.bulk_create(
        Ticket(
            owner=alice,
            title=f"T{n}",
            deadline=T0 + (n % 7 + 1) * HOUR,
            priority=PRIORITIES[n % 4],
            status=Status.OPEN if n % 3 else Status.PENDING,
        )
        for n in range(300)
    )
    Ticket.objects.bulk_create(
        Ticket(owner=bob, title=f"B{n}", deadline=T0 + (n % 7 + 1) * HOUR) for n in range(20)
    )
    return tickets


# --- Walking the pages ----------------------------------------------------------------------


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_following_next_lists_every_ticket_once_in_order(api, alice, many, ordering):
    params = {"page_size": 7, **({"ordering": ordering} if ordering else {})}

    pages = walk(api, params)

    listed = [i for page in pages for i in ids(page)]
    assert listed == expected(alice, ordering)
    assert len(pages) == 43  # 300 / 7, rounded up
    assert all("cursor=" in page.json()["next"] for page in pages[:-1])
    assert all("page=" not in page.json()["next"] for page in pages[:-1])


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_following_previous_from_the_last_page_gives_the_same_pages_back(
    api, alice, many, ordering
):
    params = {"page_size": 7, **({"ordering": ordering} if ordering else {})}
    forwards = walk(api, params)

    backwards = [forwards[-1]]
    while backwards[-1].json()["previous"]:
        backwards.append(api.get(backwards[-1].json()["previous"]))

    assert [ids(page) for page in reversed(backwards)] == [ids(page) for page in forwards]


def test_cursor_pages_walk_a_filtered_list(api, alice, many):
    pages = walk(api, {"page_size": 9, "status": "pending", "ordering": "-priority"})

    listed = [i for page in pages for i in ids(page)]
    rows = Ticket.objects.filter(owner=alice, status=Status.PENDING)
    assert listed == list(rows.order_by(*DB_ORDER["-priority"]).values_list("id", flat=True))


def test_a_cursor_page_has_no_count_but_numbered_pages_do(api, many):
    first = api.get(LIST, {"page_size": 10})
    second = api.get(first.json()["next"])
    third_by_number = api.get(LIST, {"page_size": 10, "page": 3})

    assert first.json()["count"] == 300
    assert second.json()["count"] is None
    assert third_by_number.json()["count"] == 300


def test_a_cursor_page_answers_with_one_query_per_branch_for_the_rows_and_none_for_a_count(
    api, many
):
    first = api.get(LIST, {"page_size": 10})

    with CaptureQueriesContext(connection) as queries:
        api.get(first.json()["next"])

    # One per visibility branch: the tickets alice owns, those assigned to her (no team).
    ticket_queries = [q["sql"] for q in queries if "tickets_ticket" in q["sql"]]
    assert len(ticket_queries) == 2
    for sql in ticket_queries:
        assert "COUNT(" not in sql.upper()
        assert "OFFSET" not in sql.upper()


# --- The count ------------------------------------------------------------------------------


def counted(response: Any) -> tuple[int | None, bool | None]:
    return response.json()["count"], response.json()["count_exact"]


def test_the_count_stops_at_the_limit_and_says_there_are_more(api, many, settings):
    settings.API_COUNT_LIMIT = 100

    assert counted(api.get(LIST, {"page_size": 10})) == (100, False)
    assert counted(api.get(LIST, {"page_size": 10, "priority": "low"})) == (75, True)
    # Exactly the limit is exact: the count read one row more to tell.
    assert counted(api.get(LIST, {"page_size": 10, "status": "pending"})) == (100, True)


def test_below_the_limit_the_count_is_exact(api, many, settings):
    settings.API_COUNT_LIMIT = 299
    assert counted(api.get(LIST)) == (299, False)

    settings.API_COUNT_LIMIT = 300
    assert counted(api.get(LIST)) == (300, True)


def test_a_limit_of_zero_counts_exactly(api, many, settings):
    settings.API_COUNT_LIMIT = 0

    assert counted(api.get(LIST, {"page_size": 10})) == (300, True)


def test_a_numbered_page_past_the_limit_counts_to_its_own_end(api, alice, many, settings):
    settings.API_COUNT_LIMIT = 100

    third = api.get(LIST, {"page_size": 50, "page": 3})
    sixth = api.get(LIST, {"page_size": 50, "page": 6})

    assert counted(third) == (150, False)
    assert third.json()["next"] is not None
    assert ids(third) == expected(alice, None)[100:150]
    assert counted(sixth) == (300, True)
    assert sixth.json()["next"] is None
    assert api.get(LIST, {"page_size": 50, "page": 7}).status_code == 404


def test_the_last_page_by_name_counts_exactly(api, alice, many, settings):
    settings.API_COUNT_LIMIT = 100

    last = api.get(LIST, {"page_size": 50, "page": "last"})

    assert counted(last) == (300, True)
    assert ids(last) == expected(alice, None)[250:]


def test_a_cursor_page_has_neither_count_nor_exactness(api, many):
    first = api.get(LIST, {"page_size": 10})

    assert counted(api.get(first.json()["next"])) == (None, None)


def test_the_count_reads_at_most_one_row_past_the_limit(api, many, settings):
    settings.API_COUNT_LIMIT = 100

    with CaptureQueriesContext(connection) as queries:
        api.get(LIST, {"page_size": 10})

    (sql,) = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert "LIMIT 101" in sql
    assert "ORDER BY" not in sql.upper()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            nodes = list(plan_nodes(cursor.fetchone()[0][0]["Plan"]))
        scans = [n for n in nodes if n.get("Relation Name") == "tickets_ticket"]
        assert [n["Actual Rows"] for n in scans] == [101]


def test_filtering_by_the_tickets_own_columns_asks_for_no_distinct_rows(api, alice, many, staff):
    """`status`, `priority` and `sla_state` are columns of the ticket: a ticket matches once.
    A DISTINCT over every column made PostgreSQL sort all the matches of a staff list
    (bench/README.md, "The board at 1,000,000 tickets beside the list API")."""
    params: dict[str, str | list[str]] = {
        "status": ["open", "pending"],
        "priority": "urgent",
        "sla_state": "on_track",
        "page_size": "10",
    }
    for user in (alice, staff):
        with CaptureQueriesContext(connection) as queries:
            response = client_for(user).get(LIST, params)

        ticket_sql = [q["sql"] for q in queries if "tickets_ticket" in q["sql"]]
        assert ticket_sql
        assert not [sql for sql in ticket_sql if "DISTINCT" in sql.upper()]
        matching = Ticket.objects.filter(
            status__in=["open", "pending"], priority="urgent", resolution_state="on_track"
        ).order_by("deadline", "id")
        assert matching.count() > 10
        assert ids(response) == list(matching.values_list("id", flat=True)[:10])
        assert counted(response) == (matching.count(), True)


# --- Page numbers, as before ----------------------------------------------------------------


def test_a_numbered_page_still_pages_by_offset_and_links_back_by_number(api, alice, many):
    order = expected(alice, None)

    third = api.get(LIST, {"page_size": 10, "page": 3})
    fourth = api.get(third.json()["next"])
    second = api.get(third.json()["previous"])

    assert ids(third) == order[20:30]
    assert ids(fourth) == order[30:40]
    assert ids(second) == order[10:20]
    assert "page=2" in third.json()["previous"]


def test_a_page_number_past_the_end_is_still_a_404(api, many):
    response = api.get(LIST, {"page_size": 10, "page": 99})

    assert response.status_code == 404


def test_the_last_numbered_page_has_no_next(api, many):
    last = api.get(LIST, {"page_size": 100, "page": 3})

    assert len(ids(last)) == 100
    assert last.json()["next"] is None


# --- Concurrent changes ---------------------------------------------------------------------


def test_tickets_inserted_while_walking_neither_repeat_nor_hide_the_others(
    api, alice, many, make_ticket
):
    before = expected(alice, None)
    inserted: list[int] = []

    def insert_one_ahead_and_one_behind() -> None:
        # The soonest deadline sorts before every page already read: with OFFSET it
        # would push a row already shown onto the next page.
        inserted.append(make_ticket(title="early", deadline=T0).pk)
        inserted.append(make_ticket(title="late", deadline=T0 + 100 * HOUR).pk)

    pages = walk(api, {"page_size": 11}, between=insert_one_ahead_and_one_behind)

    listed = [i for page in pages for i in ids(page)]
    assert len(listed) == len(set(listed))
    assert [i for i in listed if i not in inserted] == before
    late = set(inserted[1::2])
    assert late <= set(listed)  # rows ahead of the cursor are found when reached


def test_a_ticket_deleted_under_the_cursor_does_not_break_the_walk(api, alice, many):
    first = api.get(LIST, {"page_size": 10})
    Ticket.objects.filter(pk=ids(first)[-1]).delete()

    second = api.get(first.json()["next"])

    assert ids(second) == expected(alice, None)[9:19]


# --- Isolation ------------------------------------------------------------------------------


def test_a_cursor_from_alice_s_list_shows_bob_only_his_own_tickets(api, bob, many):
    first = api.get(LIST, {"page_size": 5})

    response = client_for(bob).get(first.json()["next"])

    assert response.status_code == 200
    assert set(ids(response)) <= set(Ticket.objects.filter(owner=bob).values_list("id", flat=True))


# --- Bad cursors ----------------------------------------------------------------------------

_DEADLINE = "2026-03-10T13:00:00+00:00"
_GOOD = {"o": ["deadline", "id"], "k": [_DEADLINE, 1], "r": False}


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "not-base64-at-all?",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        cursor_of(None),  # type: ignore[arg-type]
        cursor_of([1, 2]),  # type: ignore[arg-type]
        cursor_of({"k": [_DEADLINE, 1]}),
        cursor_of({**_GOOD, "o": ["-priority_rank", "deadline", "id"]}),
        cursor_of({**_GOOD, "k": [_DEADLINE]}),
        cursor_of({**_GOOD, "k": "x"}),
        cursor_of({**_GOOD, "k": ["yesterday", 1]}),
        cursor_of({**_GOOD, "k": ["2026-03-10T13:00:00", 1]}),  # no offset
        cursor_of({**_GOOD, "k": [_DEADLINE, "one"]}),
        cursor_of({**_GOOD, "k": [_DEADLINE, 2**70]}),
        cursor_of({**_GOOD, "k": [_DEADLINE, None]}),
        cursor_of({**_GOOD, "k": [_DEADLINE, True]}),
        cursor_of({**_GOOD, "k": [{"a": 1}, 1]}),
        cursor_of({**_GOOD, "k": ["9999-99-99T00:00:00Z", 1]}),
        cursor_of({**_GOOD, "r": "yes"}),
        base64.urlsafe_b64encode(b"[" * 600).decode(),  # under the length cap
        cursor_of({**_GOOD, "pad": "x" * 1000}),
        "\u00e9t\u00e9",
    ],
)
def test_a_bad_cursor_is_a_400_with_a_message(api, many, cursor):
    response = api.get(LIST, {"cursor": cursor})

    assert response.status_code == 400
    assert "Invalid cursor" in response.json()["cursor"][0]


def test_a_well_formed_cursor_is_accepted(api, many):
    response = api.get(LIST, {"cursor": cursor_of(_GOOD)})

    assert response.status_code == 200


def test_a_cursor_from_another_ordering_is_a_400(api, many):
    by_priority = api.get(LIST, {"ordering": "priority", "page_size": 5})
    cursor = by_priority.json()["next"].split("cursor=")[1].split("&")[0]

    response = api.get(LIST, {"cursor": cursor, "ordering": "deadline"})

    assert response.status_code == 400
    assert "this list" in response.json()["cursor"][0]


# --- Documentation --------------------------------------------------------------------------


def test_the_schema_describes_the_cursor_and_a_nullable_count(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/tickets/"]["get"]
    page = schema["components"]["schemas"]["PaginatedTicketList"]["properties"]

    assert "cursor" in {p["name"] for p in operation["parameters"]}
    assert page["count"]["nullable"] is True
    assert "cursor" in page["count"]["description"]
    assert "API_COUNT_LIMIT" in page["count"]["description"]
    assert page["count_exact"]["type"] == "boolean"


# --- Query plan (PostgreSQL) ----------------------------------------------------------------


def test_a_deep_cursor_page_is_an_index_range_scan_on_postgresql(api, alice, many):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: checks PostgreSQL's EXPLAIN for the index range scan")
    first = api.get(LIST, {"page_size": 10})
    with CaptureQueriesContext(connection) as queries:
        api.get(first.json()["next"])
    # Two branches (tickets.pagination): alice's own tickets, and those assigned to her.
    (sql,) = branch(ticket_queries(queries), "owner_id")
    (assigned,) = branch(ticket_queries(queries), "assignee_id")
    assert_index_range(assigned, "ticket_assignee_deadline_idx", "assignee_id =", "deadline >=")

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticket")
        # 320 rows fit in a few pages: the planner rightly prefers a sequential scan
        # and a sort here. Forbidding both shows the query *can* be answered by a range
        # scan of the index alone, in index order; bench/api_load.py shows it is chosen
        # at 1,000,000 rows.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        nodes = list(plan_nodes(cursor.fetchone()[0][0]["Plan"]))

    scans = [n for n in nodes if n.get("Relation Name") == "tickets_ticket"]
    assert [n["Node Type"] for n in scans] == ["Index Scan"]
    # Either index ordered by (deadline, id) serves it; which one depends on how the
    # statistics spread the tickets over owners (at 1M for one owner: the owner's).
    assert scans[0]["Index Name"] in {"ticket_owner_deadline_idx", "ticket_deadline_idx"}
    assert "deadline >=" in scans[0]["Index Cond"]  # a range from the cursor on
    assert "Sort" not in {n["Node Type"] for n in nodes}


def explain(sql: str) -> list[dict[str, Any]]:
    """PostgreSQL's plan for `sql`, with sequential scans and sorts ruled out: on a few
    hundred rows the planner rightly prefers them, so this shows whether an index *can*
    answer the query in its order (bench/api_load.py shows it is chosen at 1M rows)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticket")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        return list(plan_nodes(cursor.fetchone()[0][0]["Plan"]))


def ticket_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries if "tickets_ticket" in q["sql"] and "COUNT(" not in q["sql"]]


def branch(sqls: list[str], column: str) -> list[str]:
    """The queries of one visibility branch: those whose WHERE names `column` = ..."""
    return [sql for sql in sqls if f'"tickets_ticket"."{column}" =' in sql.split(" WHERE ")[1]]


def assert_index_range(sql: str, index: str | set[str], *conditions: str) -> None:
    nodes = explain(sql)
    scans = [n for n in nodes if n.get("Relation Name") == "tickets_ticket"]
    assert [n["Node Type"] for n in scans] == ["Index Scan"], nodes
    assert scans[0]["Index Name"] in ({index} if isinstance(index, str) else index)
    assert "Sort" not in {n["Node Type"] for n in nodes}
    assert "Incremental Sort" not in {n["Node Type"] for n in nodes}
    for condition in conditions:
        assert condition in scans[0]["Index Cond"], scans[0]["Index Cond"]


PRIORITY_INDEXES = {False: "ticket_owner_prio_idx", True: "ticket_prio_idx"}  # by staff


@pytest.mark.parametrize("ordering", ["priority", "-priority"])
@pytest.mark.parametrize("as_staff", [False, True])
def test_pages_ordered_by_priority_are_index_ranges_on_postgresql(
    alice, staff, many, as_staff, ordering
):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: checks PostgreSQL's EXPLAIN for the index range scans")
    api = client_for(staff if as_staff else alice)
    index = PRIORITY_INDEXES[as_staff]
    owner = [] if as_staff else ["owner_id ="]

    # 75 tickets of each priority (alice's; bob's 20 are normal): a first page of 80
    # reads the first rank, then the second; the next page of 30 starts in the second.
    # alice's list has two branches (tickets.pagination): her own tickets, read here, and
    # those assigned to her (none; no index by priority: docs/api.md).
    def own(sqls: list[str]) -> list[str]:
        return sqls if as_staff else branch(sqls, "owner_id")

    with CaptureQueriesContext(connection) as queries:
        first = api.get(LIST, {"page_size": 80, "ordering": ordering})
    first_rank, second_rank = own(ticket_queries(queries))
    with CaptureQueriesContext(connection) as queries:
        page = api.get(first.json()["next"].replace("page_size=80", "page_size=30"))
    assert page.status_code == 200
    (rest_of_rank,) = own(ticket_queries(queries))

    # Each part is the range of one rank in the one index, whichever way the list runs.
    assert_index_range(first_rank, index, *owner, "priority_rank =")
    assert_index_range(second_rank, index, *owner, "priority_rank =")
    # ... and a cursor page starts at the cursor's (rank, deadline), not at its rank's start.
    assert_index_range(rest_of_rank, index, *owner, "priority_rank =", "deadline >=")
    assert "OFFSET" not in first_rank.upper() + second_rank.upper() + rest_of_rank.upper()


def test_a_previous_page_ordered_by_priority_is_a_backward_index_range_on_postgresql(
    api, alice, many
):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: checks PostgreSQL's EXPLAIN for the index range scan")
    # 75 tickets per priority: the third page starts with the 6th high one, and the page
    # before it goes back across the boundary into the urgent ones.
    first = api.get(LIST, {"page_size": 40, "ordering": "-priority"})
    second = api.get(first.json()["next"])
    third = api.get(second.json()["next"])
    with CaptureQueriesContext(connection) as queries:
        back = api.get(third.json()["previous"])
    assert ids(back) == ids(second)

    rest_of_rank, previous_rank = branch(ticket_queries(queries), "owner_id")
    index = "ticket_owner_prio_idx"
    assert_index_range(rest_of_rank, index, "owner_id =", "priority_rank =", "deadline <=")
    assert_index_range(previous_rank, index, "owner_id =", "priority_rank =")


def test_a_first_page_by_priority_skips_empty_ranks_and_keeps_its_count(api, alice, many):
    params = {"page_size": 100, "ordering": "-priority", "priority": ["low", "urgent"]}

    first = api.get(LIST, params)
    pages = walk(api, params)

    rows = Ticket.objects.filter(owner=alice, priority__in=["low", "urgent"])
    assert ids(first) == list(
        rows.order_by(*DB_ORDER["-priority"]).values_list("id", flat=True)[:100]
    )
    assert counted(first) == (150, True)
    assert first.json()["previous"] is None
    assert [len(ids(page)) for page in pages] == [100, 50]


# --- The stored rank ----------------------------------------------------------------------


def test_the_rank_follows_the_priority_and_stays_out_of_the_api(api, alice, clock):
    created = api.post(
        LIST, {"title": "T", "deadline": (T0 + HOUR).isoformat(), "priority": "low"}, format="json"
    )
    ticket_id = created.json()["id"]
    assert Ticket.objects.get(pk=ticket_id).priority_rank == 0

    changed = api.patch(f"{LIST}{ticket_id}/", {"priority": "urgent"}, format="json")

    assert Ticket.objects.get(pk=ticket_id).priority_rank == 3
    assert changed.json()["priority"] == "urgent"
    assert "priority_rank" not in changed.json()
    assert "priority_rank" not in api.get(LIST).json()["results"][0]


def test_a_cursor_page_crossing_ranks_lists_the_end_of_one_and_the_start_of_the_next(
    api, alice, many
):
    # 75 tickets of each priority: a page of 50 from the 60th urgent ticket on holds the
    # last 15 urgent ones, then the first 35 high ones, in deadline and id order.
    sixty = api.get(LIST, {"page_size": 60, "ordering": "-priority"})

    page = api.get(sixty.json()["next"].replace("page_size=60", "page_size=50"))

    listed = ids(page)
    assert listed == expected(alice, "-priority")[60:110]
    ranks = [Ticket.objects.get(pk=i).priority_rank for i in listed]
    assert ranks == [3] * 15 + [2] * 35


def plan_nodes(node: dict[str, Any]) -> Any:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)
