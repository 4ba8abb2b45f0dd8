"""/healthz: 200 when the deployment can do its job, 503 (saying which part) when not.

Real parts throughout: the test database, the cache, a real Redis as the broker (or a
closed port as a broker that is down), and a real PostgreSQL port with nobody behind it
for a database that is down (in a subprocess, since this one's database must work).
"""

import json
import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone as dj_timezone

from notifications.delivery import claim
from tests.celery_app import celery_configured, redis_reachable
from tests.conftest import T0
from tests.durations import HOUR, MINUTE
from tests.processes import run
from tests.smtp_server import free_port
from tickets.checker import deliver_due, run_check, run_state_changes
from watchdog.health import BROKER_TIMEOUT_SECONDS

SECOND = timedelta(seconds=1)


METRICS_TOKEN = "m" * 40


@pytest.fixture(autouse=True)
def _metrics_token(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN


def healthz(client):
    """The operator's view: with the metrics token, every check's facts."""
    response = client.get("/healthz", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response.status_code, response.json()


def failing(body):
    return sorted(name for name, check in body["checks"].items() if not check["ok"])


# --- Healthy ------------------------------------------------------------------------------


def test_it_answers_200_when_every_part_works(client, clock, db):
    run_check()

    status, body = healthz(client)

    assert status == 200
    assert body["status"] == "ok"
    assert failing(body) == []
    assert set(body["checks"]) == {"database", "cache", "broker", "checker", "outbox"}


def test_it_tells_an_anonymous_caller_only_that_it_is_ok(client, clock, db):
    run_check()

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_it_tells_an_anonymous_caller_only_that_it_is_unhealthy(client, db):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy"}


def test_a_wrong_metrics_token_gets_the_anonymous_answer(client, clock, db):
    run_check()

    response = client.get("/healthz", HTTP_AUTHORIZATION="Bearer " + "x" * 40)

    assert response.json() == {"status": "ok"}


def test_a_staff_session_sees_the_details(client, clock, staff):
    run_check()
    client.force_login(staff)

    body = client.get("/healthz").json()

    assert set(body["checks"]) == {"database", "cache", "broker", "checker", "outbox"}


def test_a_post_is_a_json_405_not_a_csrf_page(db):
    response = Client(enforce_csrf_checks=True).post("/healthz")

    assert response.status_code == 405


def test_with_the_token_it_says_when_the_checker_last_ran(client, clock, db):
    run_check()
    clock.move_to(T0 + 7 * SECOND)

    _, body = healthz(client)

    checker = body["checks"]["checker"]
    assert checker["last_run_at"] == T0.isoformat()
    assert checker["seconds_since_last_run"] == 7.0
    assert checker["last_run_duration_seconds"] >= 0


def test_without_a_broker_the_broker_check_passes_as_not_configured(client, clock, db):
    run_check()

    _, body = healthz(client)

    assert body["checks"]["broker"] == {"ok": True, "configured": False}


@pytest.mark.skipif(not redis_reachable(), reason="Redis is not reachable on 127.0.0.1:6379")
def test_it_reaches_a_real_redis_broker(client, clock, db):
    run_check()

    with celery_configured(broker_url="redis://127.0.0.1:6379/13"):
        status, body = healthz(client)

    assert status == 200
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["broker"]["configured"] is True


def test_it_answers_head_requests_for_probes(client, clock, db):
    run_check()

    assert client.head("/healthz").status_code == 200


def test_it_refuses_writes(client, db):
    assert client.post("/healthz").status_code == 405


def test_probes_over_plain_http_are_not_redirected_to_https(client, clock, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    run_check()

    assert client.get("/api/tickets/").status_code == 301
    assert client.get("/healthz").status_code == 200


# --- The checker --------------------------------------------------------------------------


def test_it_answers_503_when_no_check_has_ever_run(client, db):
    status, body = healthz(client)

    assert status == 503
    assert body["status"] == "unhealthy"
    assert failing(body) == ["checker"]
    assert body["checks"]["checker"]["last_run_at"] is None


def test_the_last_check_may_be_as_old_as_the_limit(client, clock, db, settings):
    run_check()
    clock.move_to(T0 + settings.HEALTH_CHECKER_STALE_SECONDS * SECOND)

    status, _ = healthz(client)

    assert status == 200


def test_it_answers_503_when_the_last_check_is_older_than_the_limit(client, clock, db, settings):
    run_check()
    clock.move_to(T0 + settings.HEALTH_CHECKER_STALE_SECONDS * SECOND + SECOND)

    status, body = healthz(client)

    assert status == 503
    assert failing(body) == ["checker"]


# --- The outbox ---------------------------------------------------------------------------


def test_it_reports_the_backlog_and_the_age_of_its_oldest_row(
    client, clock, db, make_ticket, smtp_settings
):
    make_ticket(due_in=2 * HOUR)
    make_ticket(due_in=-MINUTE)  # created and missed
    smtp_settings.stop()
    run_check()  # every attempt fails; retried after SLA_RETRY_BASE_SECONDS
    clock.move_to(T0 + 10 * SECOND)
    run_state_changes()

    status, body = healthz(client)

    assert status == 200  # waiting for a retry is not waiting for a sender
    assert body["checks"]["outbox"] == {
        "ok": True,
        "pending": 3,
        "due": 0,
        "oldest_pending_age_seconds": 10.0,
        "overdue_seconds": 0.0,
        "max_overdue_seconds": django_settings.HEALTH_MAX_OVERDUE_SECONDS,
        "stuck": 0,
        "failed_recently": 0,
        "failed_window_seconds": django_settings.HEALTH_FAILED_WINDOW_SECONDS,
    }


def test_it_answers_503_when_an_email_has_waited_too_long_for_any_sender(
    client, clock, db, make_ticket, settings
):
    make_ticket(due_in=2 * HOUR)  # its creation email is due now; nobody delivers it
    clock.move_to(T0 + (settings.HEALTH_MAX_OVERDUE_SECONDS + 1) * SECOND)
    run_state_changes()  # the checker runs, but no sender does

    status, body = healthz(client)

    assert status == 503
    assert failing(body) == ["outbox"]
    assert body["checks"]["outbox"]["due"] == 1
    assert body["checks"]["outbox"]["overdue_seconds"] == settings.HEALTH_MAX_OVERDUE_SECONDS + 1


def test_it_recovers_once_the_backlog_is_delivered(
    client, clock, db, make_ticket, settings, smtp_settings
):
    make_ticket(due_in=2 * HOUR)
    clock.move_to(T0 + (settings.HEALTH_MAX_OVERDUE_SECONDS + 1) * SECOND)
    run_state_changes()
    assert healthz(client)[0] == 503

    deliver_due()

    status, body = healthz(client)
    assert status == 200
    assert body["checks"]["outbox"]["pending"] == 0


def test_it_answers_503_for_a_row_no_sender_can_move(client, clock, db, make_ticket, settings):
    settings.SLA_DELIVERY_MAX_ATTEMPTS = 3
    make_ticket(due_in=2 * HOUR)
    lease = timedelta(seconds=settings.SLA_DELIVERY_LEASE_SECONDS)
    for claims in range(1, 5):  # each sender dies on the row: its lease runs out
        assert len(claim(now=dj_timezone.now(), limit=10)) == 1
        clock.shift(lease)
        run_state_changes()
        status, body = healthz(client)
        assert body["checks"]["outbox"]["stuck"] == (1 if claims > 3 else 0)

    assert status == 503
    assert failing(body) == ["outbox"]


def test_it_shows_the_emails_given_up_on_lately_without_failing(
    client, clock, db, make_ticket, make_user, settings, smtp_settings
):
    make_ticket(due_in=2 * HOUR, owner=make_user("eve", email='"a\x1cb"@example.com'))
    run_check()  # that email fails for good at once

    status, body = healthz(client)
    clock.shift(timedelta(seconds=settings.HEALTH_FAILED_WINDOW_SECONDS))
    run_state_changes()
    _, later = healthz(client)

    assert status == 200
    assert body["checks"]["outbox"]["failed_recently"] == 1
    assert later["checks"]["outbox"]["failed_recently"] == 0


# --- Parts that are down ------------------------------------------------------------------


def test_it_answers_503_when_the_broker_is_unreachable(client, clock, db):
    run_check()
    port = free_port()  # nothing listens there

    with celery_configured(broker_url=f"redis://:hunter2@127.0.0.1:{port}/0"):
        status, body = healthz(client)

    assert status == 503
    assert failing(body) == ["broker"]
    assert body["checks"]["broker"] == {"ok": False, "error": "OperationalError"}
    # Unauthenticated: it names what failed, never where or with which credentials.
    raw = json.dumps(body)
    assert str(port) not in raw
    assert "hunter2" not in raw


@pytest.mark.slow  # waits out a broker timeout
def test_it_answers_503_within_seconds_when_the_broker_accepts_but_never_answers(
    client, clock, db, hanging_smtp_server
):
    run_check()
    # A socket that takes connections and stays silent: a Redis that hangs.
    hung = f"redis://127.0.0.1:{hanging_smtp_server.port}/0"

    with celery_configured(broker_url=hung):
        started = time.monotonic()
        status, body = healthz(client)
        elapsed = time.monotonic() - started

    assert status == 503
    assert failing(body) == ["broker"]
    assert elapsed < 2 * BROKER_TIMEOUT_SECONDS + 1


def test_it_answers_503_without_leaking_secrets_when_the_database_and_cache_are_down(tmp_path):
    closed = free_port()
    script = (
        "import django; django.setup()\n"
        "from django.test.utils import setup_test_environment; setup_test_environment()\n"
        "from django.test import Client\n"
        "response = Client().get('/healthz', HTTP_AUTHORIZATION='Bearer ' + 'm' * 40)\n"
        "print(response.status_code); print(response.content.decode())\n"
    )

    result = run(
        ["-c", script],
        tmp_path,
        DATABASE_URL=f"postgres://watchdog:s3cret-pw@127.0.0.1:{closed}/watchdog",
        REDIS_URL=f"redis://:s3cret-pw@127.0.0.1:{closed}/0",
        LOG_LEVEL="CRITICAL",
        METRICS_TOKEN=METRICS_TOKEN,
    )

    assert result.returncode == 0, result.stderr
    status, body = result.stdout.splitlines()
    assert status == "503"
    checks = json.loads(body)["checks"]
    assert checks["database"] == {"ok": False, "error": "OperationalError"}
    assert checks["cache"] == {"ok": False, "error": "ConnectionError"}
    assert checks["checker"] == checks["outbox"] == {"ok": False, "error": "database unavailable"}
    assert "s3cret" not in body
    assert str(closed) not in body
