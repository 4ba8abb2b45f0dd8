"""/metrics: Prometheus metrics for the whole deployment, read from the database.

Protected: a bearer token (METRICS_TOKEN) or a staff user's session; otherwise 404 when
no token is configured, 401 when one is. Values are checked by parsing the exposition
with prometheus_client's own parser, as Prometheus would read it.
"""

import math
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone as dj_timezone
from prometheus_client.parser import text_string_to_metric_families

from notifications import latency
from notifications.delivery import claim
from notifications.models import DeliveryStatus, Notification
from sla.enums import SlaState, Status
from tests.conftest import T0
from tests.durations import HOUR, MINUTE
from tests.processes import start_up
from tickets import services
from tickets.checker import deliver_due, run_check
from tickets.models import Ticket

TOKEN = "a-metrics-token-that-is-long-enough-0123456789"
SECOND = timedelta(seconds=1)


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client, *, token=TOKEN):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


# --- Who may read them ----------------------------------------------------------------------


def test_without_a_token_configured_an_anonymous_scrape_gets_404(client, db):
    assert client.get("/metrics").status_code == 404


def test_without_a_token_configured_no_bearer_token_is_accepted(client, db):
    response = client.get("/metrics", headers={"Authorization": "Bearer "})

    assert response.status_code == 404


def test_with_a_token_configured_a_missing_token_gets_401(client, db, metrics_token):
    response = client.get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_with_a_token_configured_a_wrong_token_gets_401(client, db, metrics_token):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})

    assert response.status_code == 401


def test_the_right_bearer_token_reads_them(client, db, metrics_token):
    assert scrape(client)


def test_a_staff_user_signed_in_reads_them_without_a_token(client, db, staff):
    client.force_login(staff)

    response = client.get("/metrics")

    assert response.status_code == 200
    assert b"sla_watchdog_open_tickets" in response.content


def test_a_signed_in_user_who_is_not_staff_gets_404(client, db, alice):
    client.force_login(alice)

    assert client.get("/metrics").status_code == 404


def test_a_short_metrics_token_stops_start_up_by_name(tmp_path):
    result = start_up(tmp_path, METRICS_TOKEN="too-short")

    assert result.returncode != 0
    assert "METRICS_TOKEN must be at least 32 characters" in result.stderr


# --- What they say ------------------------------------------------------------------------


def test_it_counts_open_tickets_by_sla_state(client, clock, make_ticket, metrics_token):
    make_ticket(due_in=2 * HOUR)
    make_ticket(due_in=3 * HOUR)
    make_ticket(due_in=30 * MINUTE)
    make_ticket(due_in=-MINUTE)
    waiting = make_ticket(due_in=2 * HOUR)
    services.update_ticket(ticket=waiting, status="pending")
    done = make_ticket(due_in=2 * HOUR)
    services.update_ticket(ticket=done, status="resolved")
    late = make_ticket(due_in=-MINUTE)
    services.update_ticket(ticket=late, status="closed")

    samples = scrape(client)

    assert value(samples, "sla_watchdog_open_tickets", sla_state="on_track") == 3
    assert value(samples, "sla_watchdog_open_tickets", sla_state="at_risk") == 1
    assert value(samples, "sla_watchdog_open_tickets", sla_state="breached") == 1
    # Resolved and closed tickets (achieved, breached) are not counted at all.
    assert value(samples, "sla_watchdog_open_tickets", sla_state="achieved") == 0
    assert not any(name == "sla_watchdog_tickets" for name, _ in samples)


def test_it_counts_open_tickets_by_first_response_state(client, clock, make_ticket, metrics_token):
    tracked = [make_ticket(due_in=2 * HOUR) for _ in range(4)]
    make_ticket(due_in=2 * HOUR)  # no first-response target
    Ticket.objects.filter(pk__in=[t.pk for t in tracked[:2]]).update(
        first_response_state=SlaState.ON_TRACK
    )
    Ticket.objects.filter(pk=tracked[2].pk).update(first_response_state=SlaState.ACHIEVED)
    Ticket.objects.filter(pk=tracked[3].pk).update(
        first_response_state=SlaState.BREACHED, status=Status.RESOLVED
    )

    samples = scrape(client)

    def first_response(state):
        return value(samples, "sla_watchdog_open_first_response_tickets", state=state)

    assert first_response("on_track") == 2
    assert first_response("achieved") == 1
    assert first_response("breached") == 0  # resolved: not counted
    assert first_response("at_risk") == 0


def test_it_counts_unsent_notifications_by_status_and_kind(
    client, clock, make_ticket, make_user, metrics_token, smtp_settings
):
    make_ticket(due_in=2 * HOUR)
    make_ticket(due_in=-MINUTE)
    make_ticket(due_in=2 * HOUR, owner=make_user("nomail", email=""))
    deliver_due()
    make_ticket(due_in=2 * HOUR)  # not delivered yet
    Notification.objects.filter(kind="missed").update(status=DeliveryStatus.FAILED)

    samples = scrape(client)

    def unsent(status, kind):
        return value(samples, "sla_watchdog_notifications_unsent", status=status, kind=kind)

    assert unsent("pending", "created") == 1
    assert unsent("failed", "missed") == 1
    assert unsent("failed", "warning") == 0
    assert unsent("pending", "missed") == 0
    # Sent and skipped rows grow forever: not counted; the latency histogram counts sent.
    assert not any(
        labels and dict(labels).get("status") in {"sent", "skipped", "cancelled"}
        for _, labels in samples
    )
    assert value(samples, "sla_watchdog_delivery_latency_seconds_count") == 3  # as sent


def test_a_scrape_reads_tickets_and_notifications_only_through_partial_indexes(
    client, clock, make_ticket, metrics_token
):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: checks PostgreSQL's EXPLAIN")
    for n in range(20):
        make_ticket(due_in=(n + 1) * HOUR)
    with CaptureQueriesContext(connection) as queries:
        scrape(client)
    statements = [
        q["sql"]
        for q in queries
        if "tickets_ticket" in q["sql"] or "notifications_notification" in q["sql"]
    ]

    scanned = []
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticket, notifications_notification")
        # A few rows: the planner would rightly read the table. Ruling that out shows an
        # index can answer each statement (bench/api_load.py shows it is chosen at 1M).
        cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in statements:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            scanned += [
                (node["Node Type"], node.get("Index Name"))
                for node in plan_nodes(cursor.fetchone()[0][0]["Plan"])
                if "Scan" in node["Node Type"]
            ]

    assert ("Index Only Scan", "ticket_open_states_idx") in scanned
    assert ("Index Only Scan", "notification_failed_idx") in scanned
    assert "Seq Scan" not in {node_type for node_type, _ in scanned}
    assert {index for _, index in scanned} - {None} <= {
        "ticket_open_states_idx",
        "notification_failed_idx",
        "notification_pending_age_idx",
        "notification_claim_idx",
        "notification_retried_idx",
        "notification_failed_at_idx",
    }, scanned
    # The stuck emails (notifications.backlog); the recently failed ones read one of the
    # two failed-only indexes, whichever the planner finds cheaper.
    assert "notification_retried_idx" in {index for _, index in scanned}


def plan_nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def test_delivery_latency_is_a_histogram_of_how_long_sent_emails_waited(
    client, clock, make_ticket, metrics_token, smtp_settings
):
    make_ticket(due_in=2 * HOUR)
    make_ticket(due_in=2 * HOUR)
    clock.move_to(T0 + 3 * SECOND)
    deliver_due()  # two emails that waited 3 s
    make_ticket(due_in=2 * HOUR)
    clock.move_to(T0 + 103 * SECOND)
    deliver_due()  # one that waited 100 s

    samples = scrape(client)

    def bucket(le):
        return value(samples, "sla_watchdog_delivery_latency_seconds_bucket", le=le)

    assert bucket("1.0") == 0
    assert bucket("5.0") == 2
    assert bucket("60.0") == 2
    assert bucket("120.0") == 3
    assert bucket("+Inf") == 3
    assert value(samples, "sla_watchdog_delivery_latency_seconds_count") == 3
    assert value(samples, "sla_watchdog_delivery_latency_seconds_sum") == 106.0


def test_latency_buckets_only_ever_grow_as_batches_add_to_them(db):
    latency.record([0.5, 7.0, 7.0])
    latency.record([7.0, 90_000.0])
    latency.record([])

    histogram = latency.histogram()

    assert histogram.count == 5
    assert histogram.sum_seconds == pytest.approx(90_021.5)
    cumulative = dict(histogram.buckets)
    assert cumulative[1] == 1
    assert cumulative[15] == 4
    assert cumulative[24 * 3600] == 4
    assert cumulative[math.inf] == 5


def test_it_reports_how_often_and_how_long_the_checker_ran(clock, client, db, metrics_token):
    run_check()
    clock.move_to(T0 + 5 * SECOND)
    run_check()

    samples = scrape(client)

    assert value(samples, "sla_watchdog_checker_run_duration_seconds_count") == 2
    assert value(samples, "sla_watchdog_checker_run_duration_seconds_sum") >= 0
    assert value(samples, "sla_watchdog_checker_last_run_duration_seconds") >= 0
    last_run = value(samples, "sla_watchdog_checker_last_run_timestamp_seconds")
    assert last_run == (T0 + 5 * SECOND).timestamp()


def test_before_any_check_the_checker_has_run_zero_times(client, db, metrics_token):
    samples = scrape(client)

    assert value(samples, "sla_watchdog_checker_run_duration_seconds_count") == 0
    assert ("sla_watchdog_checker_last_run_timestamp_seconds", ()) not in samples


def test_it_reports_the_outbox_backlog(client, clock, make_ticket, metrics_token, smtp_settings):
    make_ticket(due_in=2 * HOUR)
    make_ticket(due_in=-MINUTE)
    smtp_settings.stop()
    deliver_due()  # all three fail; retried 15 s later
    clock.move_to(T0 + 20 * SECOND)

    samples = scrape(client)

    assert value(samples, "sla_watchdog_outbox_pending") == 3
    assert value(samples, "sla_watchdog_outbox_due") == 3
    assert value(samples, "sla_watchdog_outbox_oldest_pending_age_seconds") == 20
    assert value(samples, "sla_watchdog_outbox_overdue_seconds") == 5


def test_it_reports_rows_no_sender_can_move_and_emails_given_up_on(
    client, clock, make_ticket, make_user, metrics_token, settings, smtp_settings
):
    settings.SLA_DELIVERY_MAX_ATTEMPTS = 1
    make_ticket(due_in=2 * HOUR, owner=make_user("eve", email='"a\x1cb"@example.com'))
    deliver_due()  # eve's email fails for good at once
    make_ticket(due_in=2 * HOUR)
    for _ in range(2):  # two senders die on alice's email: their leases run out
        claim(now=dj_timezone.now(), limit=1)
        clock.shift(timedelta(seconds=settings.SLA_DELIVERY_LEASE_SECONDS))

    samples = scrape(client)

    assert value(samples, "sla_watchdog_outbox_stuck") == 1
    assert value(samples, "sla_watchdog_outbox_failed_recently") == 1
