"""A list seen through several branches (own, assigned, teams') pages as one list.

tickets.pagination reads each branch on its own index and merges them
(watchdog.pagination.keyset.read): the pages must hold exactly the tickets visible_to the
user, each once, in the list's order, forwards and backwards, whatever the ordering.
"""

import pytest
from django.db.models import F

from sla.enums import Priority, Status
from tests.api.test_api_pagination import ids, walk
from tests.conftest import T0, client_for
from tests.durations import HOUR
from tests.factories import TeamFactory
from tickets.models import Ticket

PRIORITIES = [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT]
ORDERINGS = {
    None: ("deadline", "id"),
    "-deadline": ("-deadline", "id"),
    "created_at": ("created_at", "deadline", "id"),
    "priority": ("priority_rank", "deadline", "id"),
    "-priority": ("-priority_rank", "deadline", "id"),
    # NULL: later than any time, as the API has it (SQLite's own order puts it first).
    "next_breach_at": (F("next_breach_at").asc(nulls_last=True), "id"),
    "-next_breach_at": (F("next_breach_at").desc(nulls_first=True), "id"),
}


@pytest.fixture
def spread(clock, make_user, alice, bob, no_rate_limits):
    """Tickets alice owns, is assigned, and her two teams have, overlapping (owned and
    assigned to her, in her team and assigned to her), with heavy ties; and others'."""
    carl = make_user("carl")
    support = TeamFactory.create(name="Support", members=[alice, carl])
    billing = TeamFactory.create(name="Billing", members=[alice])
    elsewhere = TeamFactory.create(name="Elsewhere", members=[carl])
    shapes = [
        {"owner": alice},
        {"owner": bob, "assignee": alice},
        {"owner": bob, "team": support},
        {"owner": carl, "team": billing},
        {"owner": alice, "assignee": alice, "team": support},
        {"owner": bob, "team": support, "assignee": alice},
        {"owner": bob},  # never alice's
        {"owner": carl, "team": elsewhere},  # never alice's
    ]
    Ticket.objects.bulk_create(
        Ticket(
            title=f"T{n}",
            deadline=T0 + (n % 5 + 1) * HOUR,
            priority=PRIORITIES[n % 4],
            status=Status.OPEN,
            next_breach_at=None if n % 6 == 0 else T0 + (n % 3 + 1) * HOUR,
            **shapes[n % len(shapes)],
        )
        for n in range(160)
    )


def expected(user, ordering):
    rows = Ticket.objects.visible_to(user).order_by(*ORDERINGS[ordering])
    return list(rows.values_list("id", flat=True))


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_the_pages_hold_every_visible_ticket_once_in_order(spread, alice, ordering):
    api = client_for(alice)
    params = {"page_size": 9, **({"ordering": ordering} if ordering else {})}

    pages = walk(api, params)

    listed = [i for page in pages for i in ids(page)]
    assert listed == expected(alice, ordering)
    assert len(listed) == 120  # six of the eight shapes
    assert pages[0].json()["count"] == 120


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_previous_walks_the_same_pages_back(spread, alice, ordering):
    api = client_for(alice)
    params = {"page_size": 11, **({"ordering": ordering} if ordering else {})}
    forwards = walk(api, params)

    backwards = [forwards[-1]]
    while backwards[-1].json()["previous"]:
        backwards.append(api.get(backwards[-1].json()["previous"]))

    assert [ids(page) for page in reversed(backwards)] == [ids(page) for page in forwards]


def test_a_numbered_page_past_the_first_reads_the_same_list(spread, alice):
    api = client_for(alice)

    second = api.get("/api/tickets/", {"page_size": 9, "page": 2})

    assert ids(second) == expected(alice, None)[9:18]


def test_a_filter_applies_to_every_branch(spread, alice):
    api = client_for(alice)

    pages = walk(api, {"page_size": 5, "priority": "normal", "assignee": "me"})

    listed = [i for page in pages for i in ids(page)]
    rows = Ticket.objects.visible_to(alice).filter(priority="normal", assignee=alice)
    assert listed == list(rows.order_by("deadline", "id").values_list("id", flat=True))
    assert listed
