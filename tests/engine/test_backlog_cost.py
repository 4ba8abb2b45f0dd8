"""A first pass over a backlog costs the database the same per email whatever its size.

bench/backlog.py times a first pass over 10,000 to 100,000 tickets; this is its CI-sized
check. Time on a shared 2-core machine is too noisy to assert on, so the cost of a batch
is the database work its statements do, counted by PostgreSQL: each statement is
explained (EXPLAIN (ANALYZE, BUFFERS), in a savepoint that is rolled back) right before it
runs, and its work is the buffers its plan touched plus the rows its scans read and threw
away (Rows Removed by Filter). That does not depend on the machine's load.

The outbox is analyzed while idle first, as it is most of the time: statistics that say
nothing is pending are what made each email cost in proportion to the backlog before
(a plan that read every pending row to mark one; bench/README.md). Autovacuum never runs
during the test, like on a server with it off, so dead index entries pile up as they
would. PostgreSQL only: SQLite has neither the planner statistics nor a way to count the
work of a statement.
"""

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

from notifications import delivery
from notifications.models import DeliveryStatus, Notification
from sla.enums import Announcement
from tests.smtp_server import SmtpServer
from tickets.checker import run_state_changes
from tickets.engine import run_transitions, stamp_warnings_sent
from tickets.models import Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BATCH = 100
SMALL, BIG = 400, 3000  # tickets, one "missed" email each
T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL's work per statement (EXPLAIN ANALYZE, BUFFERS)")


class WorkMeter:
    """A Django execute wrapper: explains each statement, then runs it as it was."""

    def __init__(self) -> None:
        self.work = 0
        self.plans: list[str] = []

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if not many and sql.lstrip()[:6].upper() in {"SELECT", "UPDATE", "INSERT", "DELETE"}:
            raw = context["cursor"].cursor
            inside = context["connection"].in_atomic_block
            raw.execute("SAVEPOINT work_meter" if inside else "BEGIN")
            raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(str(row[0]) for row in raw.fetchall())
            raw.execute("ROLLBACK TO SAVEPOINT work_meter" if inside else "ROLLBACK")
            self.work += work_of(plan)
            self.plans.append(plan)
        return execute(sql, params, many, context)


def work_of(plan: str) -> int:
    """Buffers the whole statement touched (its top node), plus every row read for nothing."""
    executed = plan.split("\nPlanning", 1)[0]
    top = re.search(r"^  Buffers: (.*)$", executed, re.MULTILINE)
    buffers = sum(int(n) for n in re.findall(r"(?:hit|read)=(\d+)", top[1])) if top else 0
    removed = sum(int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", executed))
    return buffers + removed


@contextmanager
def metered() -> Iterator[WorkMeter]:
    meter = WorkMeter()
    with connection.execute_wrapper(meter):
        yield meter


def backlog(owner: User, *, tickets: int, due_at: datetime) -> None:
    """`tickets` open tickets, each with a creation email sent long ago, all on track until
    their deadlines, which fall within the hour before `due_at`; then an idle ANALYZE."""
    created = due_at - timedelta(days=3)
    made = Ticket.objects.bulk_create(
        Ticket(
            owner=owner,
            title=f"Printer {n} jams",
            deadline=due_at - timedelta(seconds=1 + n % 3600),
            created_at=created,
        )
        for n in range(tickets)
    )
    run_transitions(now=created)  # assessed: on track, nothing announced
    Notification.objects.bulk_create(
        Notification(
            ticket=ticket,
            kind=Announcement.CREATED,
            deadline=ticket.deadline,
            status=DeliveryStatus.SENT,
            attempts=1,
            sent_at=created,
            recipient=owner.email,
        )
        for ticket in made
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE notifications_notification")
        cursor.execute("ANALYZE tickets_ticket")


def drain(now: datetime) -> list[float]:
    """One check at `now`: its state changes, then every email, batch by batch; the
    database work per email of each full batch."""
    run_state_changes(now=now)
    per_email = []
    while True:
        with metered() as meter:
            claimed = delivery.claim(now=now, limit=BATCH)
            if not claimed:
                break
            report = delivery.send_batch(claimed, on_sent=stamp_warnings_sent)
        assert report.sent == len(claimed), report.errors
        if len(claimed) == BATCH:
            per_email.append(meter.work / BATCH)
    return per_email


def test_an_email_costs_the_same_at_the_end_of_a_drain_and_in_a_bigger_backlog(
    make_user: Callable[..., User], smtp_settings: SmtpServer
) -> None:
    owner = make_user("owner")
    backlog(owner, tickets=SMALL, due_at=T)
    small = drain(T)
    assert len(smtp_settings.received()) == SMALL

    later = T + timedelta(days=7)
    backlog(owner, tickets=BIG, due_at=later)
    big = drain(later)
    assert len(smtp_settings.received()) == SMALL + BIG
    assert not Notification.objects.filter(status=DeliveryStatus.PENDING).exists()

    start, end = big[0], big[-1]
    print(f"work per email: {small[0]:.0f} ({SMALL}), {start:.0f} then {end:.0f} ({BIG})")
    # Within one drain: dead index entries of the rows already sent must not be walked.
    assert end <= 2 * start, f"per email: {start:.0f} at the start, {end:.0f} at the end"
    # Across sizes: nothing per email may read the backlog (7.5 times bigger here).
    assert start <= 2 * small[0], f"per email: {small[0]:.0f} for {SMALL}, {start:.0f} for {BIG}"
