"""Four checkers racing over a team's breaches: every webhook and Slack post made once.

The webhook version of tests/engine/test_concurrency.py: real concurrency on whichever
database the suite runs on (on PostgreSQL the checkers share the work through SKIP
LOCKED; on SQLite they take turns), threads with a connection each or separate
`manage.py check_sla` processes, a real SMTP server and a real HTTP receiver on loopback.
"""

import re
from collections import Counter

import pytest
from django.utils import timezone

from notifications.models import DeliveryStatus, Endpoint, EndpointKind, Notification
from tests.checker_processes import (
    bulk_due_tickets,
    checker_environment,
    finish,
    side_by_side,
    start_check_sla,
)
from tests.factories import TeamFactory
from tests.smtp_server import SmtpServer
from tests.webhook_receiver import LOOPBACK, Receiver
from tickets.checker import deliver_due
from tickets.engine import run_transitions
from tickets.models import Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHECKERS = 4
ALLOWED = f"{LOOPBACK}/32"


@pytest.fixture
def team_endpoints(receiver, settings) -> dict[str, Endpoint]:
    settings.WEBHOOK_ALLOWED_NETWORKS = [ALLOWED]
    team = TeamFactory.create()
    return {
        "/hook": Endpoint.objects.create(
            kind=EndpointKind.WEBHOOK, url=receiver.url("/hook"), team=team
        ),
        "/slack": Endpoint.objects.create(
            kind=EndpointKind.SLACK, url=receiver.url("/slack"), team=team, secret=""
        ),
    }


def assert_each_posted_exactly_once(
    tickets: int, endpoints: dict[str, Endpoint], receiver: Receiver, server: SmtpServer
) -> None:
    rows = list(
        Notification.objects.values_list("ticket_id", "kind", "deadline", "endpoint_id", "status")
    )
    created = Counter(row[:4] for row in rows)
    assert [key for key, count in created.items() if count > 1] == []
    assert Counter(row[3] for row in rows) == {
        None: tickets,
        endpoints["/hook"].pk: tickets,
        endpoints["/slack"].pk: tickets,
    }
    assert {row[4] for row in rows} == {DeliveryStatus.SENT}
    for path, endpoint in endpoints.items():
        posted = Counter(
            got.headers["X-Watchdog-Event-Id"] for got in receiver.received if got.path == path
        )
        assert [event for event, count in posted.items() if count > 1] == []
        keys = Notification.objects.filter(endpoint=endpoint).values_list("message_key", flat=True)
        assert set(posted) == {str(key) for key in keys}
    delivered = Counter(server.message_ids())
    assert [message_id for message_id, count in delivered.items() if count > 1] == []
    assert len(delivered) == tickets


def test_four_checker_threads_post_each_of_900_endpoint_copies_exactly_once(
    alice, smtp_settings, settings, team_endpoints, receiver
):
    settings.SLA_DELIVERY_BATCH_SIZE = 20  # many small claims, so the four interleave
    now = timezone.now()
    bulk_due_tickets(owner=alice, now=now, count=450)
    Ticket.objects.update(team=team_endpoints["/hook"].team)

    def check() -> tuple[int, int]:
        changes = run_transitions(now=now, batch_size=25)
        return changes, deliver_due(now=now).sent

    results = side_by_side(*[check] * CHECKERS)

    assert sum(changes for changes, _ in results) == 450
    assert sum(sent for _, sent in results) == 3 * 450
    assert len([sent for _, sent in results if sent]) > 1, results  # they did share
    assert_each_posted_exactly_once(450, team_endpoints, receiver, smtp_settings)
    # Every claim took a row no other sender held: one attempt each.
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}


def test_four_check_sla_processes_post_each_endpoint_copy_exactly_once(
    alice, smtp_server, team_endpoints, receiver
):
    now = timezone.now()
    bulk_due_tickets(owner=alice, now=now, count=300)
    Ticket.objects.update(team=team_endpoints["/hook"].team)
    environment = checker_environment(
        smtp_port=smtp_server.port, SLA_DELIVERY_BATCH_SIZE=10, WEBHOOK_ALLOWED_NETWORKS=ALLOWED
    )

    processes = [start_check_sla(environment) for _ in range(CHECKERS)]
    summaries = [finish(process) for process in processes]

    sent = [int(re.findall(r"(\d+) sent", summary)[0]) for summary in summaries]
    assert sum(sent) == 3 * 300, summaries
    assert_each_posted_exactly_once(300, team_endpoints, receiver, smtp_server)
