"""Celery tasks: thin shells around the functions `manage.py check_sla` calls.

Tasks run eagerly here (in this process, at once), against a real SMTP server on loopback;
tests/ops/test_stack_e2e.py runs them on real workers with a real broker. Messages carry no
data and the outbox row is the record, so a task repeated or redelivered sends nothing
twice.
"""

import base64
import json
import logging
import time
import uuid
import warnings
from collections import Counter
from datetime import timedelta

import pytest
import redis
from celery.exceptions import CPendingDeprecationWarning
from django.conf import settings as django_settings

from notifications.models import DeliveryStatus, Notification
from sla.enums import SlaState
from tests.celery_app import celery_configured, celery_eager, redis_reachable
from tests.conftest import T0
from tests.durations import HOUR, MINUTE
from tests.processes import start_up
from tests.smtp_server import free_port
from tickets import services, tasks
from tickets.checker import deliver_due
from tickets.engine import preview
from tickets.models import CheckerRun, Ticket
from tickets.tasks import (
    MAX_TASKS_PER_CHECK,
    NUDGE_TIMEOUT_SECONDS,
    deliver_pending,
    dispatch_deliveries,
)
from watchdog.celery import app as celery_app
from watchdog.celery import ignore_the_cancel_on_connection_loss_warning
from watchdog.checks import check_broker_apart_from_cache

# How Celery 5's consumer.CANCEL_TASKS_BY_DEFAULT begins.
CELERY_CANCEL_NOTICE = "\nIn Celery 5.1 we introduced an optional breaking change which ..."


@pytest.fixture
def eager():
    with celery_eager():
        yield


def received_kinds(server):
    return sorted((m.ticket_id, m.kind) for m in server.received())


# --- Configuration --------------------------------------------------------------------------


def test_tasks_acknowledge_late_and_go_back_to_the_queue_when_their_worker_dies():
    conf = celery_app.conf

    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result is True


def test_a_task_is_stopped_before_redis_would_hand_its_message_to_another_worker():
    conf = celery_app.conf

    assert conf.task_soft_time_limit < conf.task_time_limit
    assert conf.task_time_limit < conf.broker_transport_options["visibility_timeout"]


def test_a_running_task_is_let_finish_when_the_broker_connection_drops():
    # Killing it could cut a delivery between the SMTP server's acceptance and the row's
    # mark: a duplicate. Letting it finish costs one unacknowledged, harmless message.
    assert celery_app.conf.worker_cancel_long_running_tasks_on_connection_loss is False


def test_celery_6s_cancel_default_is_not_warned_about_at_every_lost_connection():
    with warnings.catch_warnings(record=True) as caught:
        # What a worker's logging setup does, before the worker is ready.
        warnings.filterwarnings("always", category=CPendingDeprecationWarning)
        ignore_the_cancel_on_connection_loss_warning()
        warnings.warn(CELERY_CANCEL_NOTICE, CPendingDeprecationWarning, stacklevel=1)
        warnings.warn("something else", CPendingDeprecationWarning, stacklevel=1)

    assert [str(w.message) for w in caught] == ["something else"]


def test_checks_have_a_queue_of_their_own_which_a_plain_worker_also_consumes():
    checks = django_settings.CELERY_CHECK_QUEUE
    deliveries = celery_app.conf.task_default_queue
    router = celery_app.amqp.router

    assert checks != deliveries
    assert {deliveries, checks} <= {q.name for q in celery_app.conf.task_queues}
    assert router.route({}, tasks.periodic_check.name)["queue"].name == checks
    assert router.route({}, deliver_pending.name)["queue"].name == deliveries


def test_beat_runs_the_sla_check_every_check_interval():
    entry = celery_app.conf.beat_schedule["check-sla"]

    assert entry["task"] in celery_app.tasks
    assert entry["task"] == tasks.periodic_check.name
    assert entry["schedule"] == timedelta(seconds=django_settings.SLA_CHECK_INTERVAL)


def test_both_tasks_keep_the_names_beat_and_queued_messages_use():
    assert {"tickets.tasks.check_sla", "notifications.tasks.deliver_pending"} <= set(
        celery_app.tasks
    )
    assert tasks.periodic_check.name == "tickets.tasks.check_sla"


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"CELERY_BROKER_URL": "http://127.0.0.1:6379/1"}, "CELERY_BROKER_URL"),
        ({"CELERY_TASK_TIME_LIMIT": "5000"}, "CELERY_VISIBILITY_TIMEOUT"),
        ({"CELERY_TASK_SOFT_TIME_LIMIT": "600"}, "CELERY_TASK_SOFT_TIME_LIMIT"),
        ({"CELERY_WORKER_CONCURRENCY": "two"}, "CELERY_WORKER_CONCURRENCY"),
    ],
)
def test_bad_celery_settings_stop_start_up_by_name(tmp_path, variables, named):
    result = start_up(tmp_path, **variables)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr


# --- check_sla: state changes here, deliveries handed to workers ---------------------------


def test_the_check_task_moves_due_tickets_and_has_their_emails_delivered(
    clock, make_ticket, smtp_settings, eager
):
    ticket = make_ticket(due_in=2 * HOUR)
    clock.move_to(T0 + 90 * MINUTE)

    changes = tasks.periodic_check()

    ticket.refresh_from_db()
    assert changes == 1
    assert ticket.resolution_state == SlaState.AT_RISK
    assert received_kinds(smtp_settings) == [(ticket.pk, "created"), (ticket.pk, "warning")]


def test_the_check_task_records_the_checkers_heartbeat(clock, make_ticket, eager):
    make_ticket(due_in=30 * MINUTE)
    clock.move_to(T0 + 31 * MINUTE)

    tasks.periodic_check()
    tasks.periodic_check()

    run = CheckerRun.objects.get()
    assert run.finished_at == T0 + 31 * MINUTE
    assert run.runs == 2
    assert run.state_changes == 0  # the second check found nothing left to do


def test_the_check_task_applies_exactly_what_check_sla_dry_run_plans(clock, make_ticket, eager):
    for minutes in (30, 50, 70, 200):
        make_ticket(due_in=minutes * MINUTE)
    clock.move_to(T0 + 65 * MINUTE)
    planned = {
        facts.id: result.resolution.state
        for facts, result in preview(now=T0 + 65 * MINUTE, limit=100)
    }

    changes = tasks.periodic_check()

    assert changes == len(planned) == 3
    states = dict(Ticket.objects.filter(pk__in=planned).values_list("id", "resolution_state"))
    assert states == planned


def test_a_check_hands_out_one_delivery_per_batch_due(clock, make_ticket, settings, eager):
    settings.SLA_DELIVERY_BATCH_SIZE = 2
    for _ in range(5):
        make_ticket(due_in=2 * HOUR)  # five creation emails, due now

    assert dispatch_deliveries() == 3


def test_a_check_hands_out_at_most_eight_deliveries(clock, make_ticket, settings, eager):
    settings.SLA_DELIVERY_BATCH_SIZE = 1
    for _ in range(MAX_TASKS_PER_CHECK + 3):
        make_ticket(due_in=2 * HOUR)

    assert dispatch_deliveries() == MAX_TASKS_PER_CHECK


def test_a_check_with_nothing_due_hands_out_no_delivery(clock, make_ticket, smtp_settings, eager):
    make_ticket(due_in=2 * HOUR)
    deliver_pending()

    assert dispatch_deliveries() == 0


@pytest.mark.skipif(not redis_reachable(), reason="Redis is not reachable on 127.0.0.1:6379")
def test_a_check_tops_up_the_waiting_deliveries_instead_of_piling_more_on(
    clock, make_ticket, settings
):
    settings.SLA_DELIVERY_BATCH_SIZE = 1
    queue = f"sla-watchdog-test-{uuid.uuid4().hex[:12]}"
    url = "redis://127.0.0.1:6379/13"
    broker = redis.Redis.from_url(url)
    for _ in range(3):
        make_ticket(due_in=2 * HOUR)  # three batches due; no worker takes them here
    try:
        with celery_configured(broker_url=url, task_default_queue=queue):
            assert dispatch_deliveries() == 3
            assert dispatch_deliveries() == 0, "the three queued by the last check still wait"
            for _ in range(MAX_TASKS_PER_CHECK + 2):
                make_ticket(due_in=2 * HOUR)
            assert dispatch_deliveries() == MAX_TASKS_PER_CHECK - 3
            assert broker.llen(queue) == MAX_TASKS_PER_CHECK
    finally:
        for key in broker.scan_iter(match=f"*{queue}*"):
            broker.delete(key)
        broker.close()


# --- deliver_pending: claim and send, like check_sla ------------------------------------------


def test_deliver_pending_sends_every_email_due(clock, make_ticket, smtp_settings):
    first = make_ticket(due_in=2 * HOUR)
    late = make_ticket(due_in=-MINUTE)

    result = deliver_pending()

    assert result == {"sent": 3, "retrying": 0, "failed": 0, "skipped": 0, "more_due": 0}
    assert received_kinds(smtp_settings) == sorted(
        [(first.pk, "created"), (late.pk, "created"), (late.pk, "missed")]
    )


def test_a_delivery_task_survives_an_address_no_mail_can_be_sent_to(
    clock, make_ticket, make_user, smtp_settings
):
    make_ticket(due_in=2 * HOUR, owner=make_user("eve", email='"NL\x1d~F:"@example.com'))
    fine = make_ticket(due_in=2 * HOUR)

    result = deliver_pending()

    assert result == {"sent": 1, "retrying": 0, "failed": 1, "skipped": 0, "more_due": 0}
    assert received_kinds(smtp_settings) == [(fine.pk, "created")]


def test_a_delivery_task_returns_at_its_time_budget_with_emails_still_due(
    clock, make_ticket, smtp_settings, settings
):
    settings.SLA_DELIVERY_BATCH_SIZE = 2
    settings.CELERY_DELIVERY_TASK_SECONDS = 0  # the first batch, then back to the queues
    for _ in range(5):
        make_ticket(due_in=2 * HOUR)

    result = deliver_pending()

    assert result == {"sent": 2, "retrying": 0, "failed": 0, "skipped": 0, "more_due": 1}
    assert Notification.objects.filter(status=DeliveryStatus.PENDING).count() == 3
    assert len(smtp_settings.received()) == 2


def test_a_bounded_delivery_queues_a_successor_that_carries_on_until_nothing_is_due(
    clock, make_ticket, smtp_settings, settings, eager, monkeypatch
):
    settings.SLA_DELIVERY_BATCH_SIZE = 2
    settings.CELERY_DELIVERY_TASK_SECONDS = 0
    for _ in range(5):
        make_ticket(due_in=2 * HOUR)
    runs: list[dict[str, int]] = []
    original = deliver_pending.run

    def counted() -> dict[str, int]:
        runs.append(original())
        return runs[-1]

    monkeypatch.setattr(deliver_pending, "run", counted)

    deliver_pending.delay()  # eager: the task and each successor it queues run at once

    runs.reverse()  # eagerly, each successor finishes inside the task that queued it
    assert [r["sent"] for r in runs] == [2, 2, 1]
    assert [r["more_due"] for r in runs] == [1, 1, 0], "the last batch was not full: no more"
    assert Counter(smtp_settings.message_ids()).most_common(1)[0][1] == 1
    assert len(smtp_settings.received()) == 5
    assert not Notification.objects.filter(status=DeliveryStatus.PENDING).exists()


def test_without_a_budget_deliver_due_sends_the_whole_backlog(clock, make_ticket, smtp_settings):
    for _ in range(5):
        make_ticket(due_in=2 * HOUR)

    report = deliver_due(batch_size=2)

    assert (report.sent, report.more_due) == (5, False)


def test_a_redelivered_message_sends_nothing_twice(clock, make_ticket, smtp_settings):
    make_ticket(due_in=-MINUTE)

    deliver_pending()
    again = deliver_pending()  # the same message, redelivered after a worker died

    assert again["sent"] == 0
    assert Counter(smtp_settings.message_ids()).most_common(1)[0][1] == 1
    assert len(smtp_settings.received()) == 2


def test_deliver_pending_leaves_failed_deliveries_to_the_outbox_backoff(
    clock, make_ticket, smtp_settings
):
    make_ticket(due_in=2 * HOUR)
    smtp_settings.stop()

    result = deliver_pending()  # does not raise: the row records the failure

    assert result["retrying"] == 1
    row = Notification.objects.get()
    assert row.status == DeliveryStatus.PENDING
    assert row.next_attempt_at == T0 + timedelta(seconds=django_settings.SLA_RETRY_BASE_SECONDS)


# --- Ticket writes nudge a worker, when there is a broker -----------------------------------


def test_creating_a_ticket_has_its_email_sent_once_the_transaction_commits(
    clock, alice, smtp_settings, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ticket = services.create_ticket(owner=alice, title="Printer", deadline=T0 + 2 * HOUR)
        assert smtp_settings.received() == []  # not before the commit

    assert len(callbacks) == 1
    assert received_kinds(smtp_settings) == [(ticket.pk, "created")]


def test_without_a_broker_creating_a_ticket_leaves_its_email_to_the_checker(
    clock, alice, smtp_settings, django_capture_on_commit_callbacks
):
    assert django_settings.CELERY_BROKER_URL == ""

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.create_ticket(owner=alice, title="Printer", deadline=T0 + 2 * HOUR)

    assert callbacks == []
    assert smtp_settings.received() == []
    assert Notification.objects.get().status == DeliveryStatus.PENDING


def test_an_edit_that_queues_an_email_nudges_a_worker(
    clock, make_ticket, smtp_settings, eager, django_capture_on_commit_callbacks
):
    ticket = make_ticket(due_in=2 * HOUR)
    deliver_pending()  # the creation email is out of the way

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.update_ticket(ticket=ticket, deadline=T0 - MINUTE)

    assert len(callbacks) == 1
    assert received_kinds(smtp_settings) == [(ticket.pk, "created"), (ticket.pk, "missed")]


def test_an_edit_that_queues_no_email_nudges_nobody(
    clock, make_ticket, smtp_settings, eager, django_capture_on_commit_callbacks
):
    ticket = make_ticket(due_in=2 * HOUR)
    deliver_pending()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.update_ticket(ticket=ticket, title="Printer on fire, still")

    assert callbacks == []


@pytest.mark.django_db(transaction=True)
def test_the_api_still_creates_the_ticket_when_the_broker_is_down(api, smtp_settings, caplog):
    # Nothing listens on this port: publishing fails at once with "connection refused".
    with celery_configured(broker_url=f"redis://127.0.0.1:{free_port()}/0"):
        started = time.monotonic()
        response = api.post(
            "/api/tickets/",
            {"title": "Printer on fire", "deadline": "2099-01-01T12:00:00Z"},
            format="json",
        )
        elapsed = time.monotonic() - started

    assert response.status_code == 201, response.content
    row = Notification.objects.get(ticket_id=response.json()["id"])
    assert row.status == DeliveryStatus.PENDING  # safe in the outbox for beat's next check
    assert elapsed < 5  # no publishing retries: the request does not wait for the broker
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.name for r in warnings] == ["notifications.tasks"]
    assert "could not hand deliveries to the Celery broker" in warnings[0].getMessage()


@pytest.mark.slow  # waits out a broker timeout
@pytest.mark.django_db(transaction=True)
def test_the_api_answers_within_seconds_when_the_broker_accepts_but_never_answers(
    api, smtp_settings, hanging_smtp_server, caplog
):
    # A socket that takes connections and stays silent: a Redis that hangs.
    with celery_configured(broker_url=f"redis://127.0.0.1:{hanging_smtp_server.port}/0"):
        started = time.monotonic()
        response = api.post(
            "/api/tickets/",
            {"title": "Printer on fire", "deadline": "2099-01-01T12:00:00Z"},
            format="json",
        )
        elapsed = time.monotonic() - started

    assert response.status_code == 201, response.content
    assert elapsed < 2 * NUDGE_TIMEOUT_SECONDS + 1
    assert Notification.objects.get().status == DeliveryStatus.PENDING
    assert "could not hand deliveries to the Celery broker" in caplog.text


@pytest.mark.skipif(not redis_reachable(), reason="Redis is not reachable on 127.0.0.1:6379")
def test_the_nudge_reaches_a_real_broker_as_one_message_without_data(
    clock, alice, django_capture_on_commit_callbacks
):
    queue = f"sla-watchdog-test-{uuid.uuid4().hex[:12]}"
    url = "redis://127.0.0.1:6379/13"
    broker = redis.Redis.from_url(url)
    try:
        with (
            celery_configured(broker_url=url, task_default_queue=queue),
            django_capture_on_commit_callbacks(execute=True),
        ):
            services.create_ticket(owner=alice, title="Printer", deadline=T0 + 2 * HOUR)

        [raw] = broker.lrange(queue, 0, -1)
    finally:
        for key in broker.scan_iter(match=f"*{queue}*"):
            broker.delete(key)
        broker.close()
    message = json.loads(raw)
    assert message["headers"]["task"] == "notifications.tasks.deliver_pending"
    assert json.loads(base64.b64decode(message["body"]))[:2] == [[], {}]  # no arguments


def test_a_broker_sharing_the_caches_redis_database_is_warned_about(settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0/"

    [warning] = check_broker_apart_from_cache(None)

    assert warning.id == "watchdog.W003"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/1"
    assert check_broker_apart_from_cache(None) == []
