"""Structured logs (LOG_FORMAT=json): one JSON object a line, with ticket and notification ids.

The formatter on its own, the delivery events it is fed, and the setting switching a real
process's logs to it.
"""

import io
import json
import logging

import pytest

from notifications.models import Notification
from tests.durations import HOUR, MINUTE
from tests.processes import run, start_up
from tickets.checker import deliver_due
from watchdog.jsonlog import JsonFormatter


def as_json(record):
    line = JsonFormatter().format(record)
    assert "\n" not in line
    return json.loads(line)


@pytest.fixture
def delivery_events(caplog):
    caplog.set_level(logging.INFO, logger="notifications.delivery")

    def events():
        return [as_json(r) for r in caplog.records if r.name == "notifications.delivery"]

    return events


# --- The formatter ------------------------------------------------------------------------


def test_an_event_is_one_json_line_even_with_line_breaks_and_a_traceback():
    logger = logging.getLogger("tests.logging")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("first line\nsecond line")
        except ValueError:
            logger.exception("it broke:\n%s", "details", extra={"ticket_id": 7})
    finally:
        logger.removeHandler(handler)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["message"] == "it broke:\ndetails"
    assert event["level"] == "ERROR"
    assert event["logger"] == "tests.logging"
    assert event["ticket_id"] == 7
    assert "ValueError: first line\nsecond line" in event["exception"]
    assert event["time"].endswith("+00:00")


def test_values_json_cannot_encode_are_written_as_text():
    record = logging.makeLogRecord({"msg": "at", "deadline": object(), "when": HOUR})

    event = as_json(record)

    assert event["deadline"].startswith("<object object at")
    assert event["when"] == "1:00:00"


# --- Delivery events carry their ids ------------------------------------------------------


def test_a_sent_email_is_logged_with_its_ticket_and_notification(
    clock, make_ticket, smtp_settings, delivery_events
):
    ticket = make_ticket(due_in=2 * HOUR)

    deliver_due()

    notification = Notification.objects.get()
    [event] = delivery_events()
    assert event["message"] == f"notification {notification.pk} for ticket {ticket.pk} sent"
    assert event["ticket_id"] == ticket.pk
    assert event["notification_id"] == notification.pk
    assert event["kind"] == "created"
    assert event["attempt"] == 1
    assert event["wait_seconds"] == 0.0


def test_a_failed_attempt_is_logged_with_its_ticket_and_notification(
    clock, make_ticket, smtp_settings, delivery_events
):
    ticket = make_ticket(due_in=-MINUTE)
    smtp_settings.refused_recipients.add("alice@example.com")

    deliver_due()

    events = delivery_events()
    ids = {(e["ticket_id"], e["notification_id"]) for e in events}
    assert ids == {(ticket.pk, n.pk) for n in Notification.objects.all()}
    assert {e["level"] for e in events} == {"WARNING"}
    assert {e["permanent"] for e in events} == {True}  # 550: no such user


def test_a_skipped_email_is_logged_with_its_ticket_and_notification(
    clock, make_ticket, make_user, smtp_settings, delivery_events
):
    ticket = make_ticket(due_in=2 * HOUR, owner=make_user("nomail", email=""))

    deliver_due()

    [event] = delivery_events()
    assert event["ticket_id"] == ticket.pk
    assert event["notification_id"] == Notification.objects.get().pk
    assert "skipped" in event["message"]


# --- LOG_FORMAT ---------------------------------------------------------------------------


LOG_ONE_EVENT = (
    "import django; django.setup()\n"
    "import logging\n"
    "logging.getLogger('notifications.delivery').warning(\n"
    "    'two\\nlines', extra={'ticket_id': 3, 'notification_id': 9})\n"
)


@pytest.mark.slow
def test_log_format_json_makes_the_service_write_json_lines(tmp_path):
    result = run(["-c", LOG_ONE_EVENT], tmp_path, LOG_FORMAT="json")

    assert result.returncode == 0, result.stderr
    [line] = result.stderr.splitlines()
    event = json.loads(line)
    assert event["message"] == "two\nlines"
    assert (event["ticket_id"], event["notification_id"]) == (3, 9)
    assert event["logger"] == "notifications.delivery"


@pytest.mark.slow
def test_logs_are_plain_text_by_default(tmp_path):
    result = run(["-c", LOG_ONE_EVENT], tmp_path)

    assert result.returncode == 0, result.stderr
    assert "WARNING notifications.delivery two" in result.stderr
    assert not result.stderr.lstrip().startswith("{")


@pytest.mark.slow
def test_an_unknown_log_format_stops_start_up_by_name(tmp_path):
    result = start_up(tmp_path, LOG_FORMAT="xml")

    assert result.returncode != 0
    assert "LOG_FORMAT='xml' is not valid: expected json or plain" in result.stderr
