"""`manage.py check_sla`: one pass of state changes and deliveries, as cron runs it.

Deliveries go to a real SMTP server on loopback; the clock is frozen and moved by hand.
"""

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

import tickets.checker
from notifications.models import DeliveryStatus, Notification
from sla.enums import SlaState
from tests.conftest import T0
from tests.durations import HOUR, MINUTE
from tickets import services
from tickets.management.commands import check_sla as check_sla_command
from tickets.models import Ticket

BASE_DIR = Path(django_settings.BASE_DIR)


def check_sla(*args):
    out = StringIO()
    call_command("check_sla", *args, stdout=out)
    return out.getvalue()


def received_by_ticket(server):
    """{ticket id: [kinds in arrival order]} of what the mail server accepted."""
    by_ticket: dict[int, list[str]] = {}
    for message in server.received():
        by_ticket.setdefault(message.ticket_id, []).append(message.kind)
    return by_ticket


# --- The summary --------------------------------------------------------------------------


def test_it_prints_a_one_line_summary(clock, make_ticket, smtp_settings):
    for due_in in (30 * MINUTE, 2 * HOUR, -MINUTE):
        make_ticket(due_in=due_in)

    out = check_sla()

    assert out == "check_sla: 0 state changes, 5 sent, 0 retrying, 0 failed, 0 skipped\n"


def test_the_summary_counts_state_changes_and_every_delivery_outcome(
    clock, make_ticket, make_user, smtp_settings
):
    make_ticket(due_in=2 * HOUR)  # alice: refused with 550
    make_ticket(due_in=2 * HOUR, owner=make_user("bob"))
    make_ticket(due_in=2 * HOUR, owner=make_user("nomail", email=""))
    smtp_settings.refused_recipients.add("alice@example.com")
    clock.move_to(T0 + HOUR)

    out = check_sla()

    assert out == "check_sla: 3 state changes, 2 sent, 0 retrying, 2 failed, 2 skipped\n"


def test_it_succeeds_when_deliveries_failed_and_were_rescheduled(clock, make_ticket, smtp_settings):
    make_ticket(due_in=30 * MINUTE)
    smtp_settings.stop()

    out = check_sla()  # raises (a non-zero exit from manage.py) if the check failed

    assert out == "check_sla: 0 state changes, 0 sent, 2 retrying, 0 failed, 0 skipped\n"
    assert set(Notification.objects.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    assert Notification.objects.filter(next_attempt_at__gt=T0).count() == 2


def test_one_address_no_mail_can_be_sent_to_does_not_stop_the_check(
    clock, make_ticket, make_user, smtp_settings
):
    make_ticket(due_in=2 * HOUR, owner=make_user("eve", email='"NL\x1d~F:"@example.com'))
    make_ticket(due_in=2 * HOUR)

    out = check_sla()

    assert out == "check_sla: 0 state changes, 1 sent, 0 retrying, 1 failed, 0 skipped\n"


def test_the_loop_logs_a_failed_pass_and_goes_on_to_the_next(
    clock, make_ticket, smtp_settings, monkeypatch, caplog
):
    make_ticket(due_in=2 * HOUR)
    passes: list[int] = []

    def failing_once():
        passes.append(len(passes) + 1)
        if len(passes) == 1:
            raise ValueError("a row no pass can digest")
        report = tickets.checker.run_check()
        os.kill(os.getpid(), signal.SIGTERM)  # the loop's own handler: stop after this pass
        return report

    monkeypatch.setattr(check_sla_command, "run_check", failing_once)
    # The test's database connection holds its transaction: the loop must not close it.
    monkeypatch.setattr(check_sla_command, "close_old_connections", lambda: None)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        out = check_sla("--loop", "--max-interval", "0.01")
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)

    assert passes == [1, 2]
    assert "check_sla: the check failed, retrying" in caplog.text
    assert "a row no pass can digest" in caplog.text
    assert "1 sent" in out
    assert out.endswith("check_sla: stopped\n")


def _database_url():
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def _manage_py(*args, env):
    return subprocess.run(  # noqa: S603 (our own manage.py, fixed arguments)
        [sys.executable, str(BASE_DIR / "manage.py"), "check_sla", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_manage_py_exits_0_when_the_mail_server_is_down(make_ticket, smtp_server):
    # A separate process on real time: it reads the committed test database.
    make_ticket(due_in=30 * MINUTE)
    smtp_server.stop()

    result = _manage_py(
        env={
            "DATABASE_URL": _database_url(),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_server.port),
            "EMAIL_TIMEOUT": "1",
        }
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "check_sla: 0 state changes, 0 sent, 2 retrying, 0 failed, 0 skipped\n"
    assert Notification.objects.filter(status=DeliveryStatus.PENDING, attempts=1).count() == 2


@pytest.mark.slow
def test_manage_py_exits_non_zero_when_the_check_itself_cannot_run(tmp_path):
    result = _manage_py(env={"DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"})

    assert result.returncode != 0
    assert "check_sla:" not in result.stdout


# --- --dry-run ----------------------------------------------------------------------------


def snapshot():
    return (
        list(Ticket.objects.order_by("id").values()),
        list(Notification.objects.order_by("id").values()),
    )


def test_dry_run_reports_what_is_due_and_changes_nothing(clock, make_ticket, smtp_settings):
    entering = make_ticket(due_in=2 * HOUR)
    missing = make_ticket(due_in=30 * MINUTE)
    clock.move_to(T0 + 90 * MINUTE)
    before = snapshot()

    out = check_sla("--dry-run")

    assert out.splitlines() == [
        f"ticket {missing.pk}: at_risk -> breached, would announce resolution missed",
        f"ticket {entering.pk}: on_track -> at_risk, would announce resolution warning",
        "check_sla --dry-run: 2 due tickets, 3 emails due",
    ]
    assert snapshot() == before
    assert smtp_settings.received() == []

    check_sla()  # the same moment for real, to show the dry run had something to skip
    assert snapshot() != before
    assert received_by_ticket(smtp_settings) == {
        entering.pk: ["created", "warning"],
        missing.pk: ["created", "missed"],  # its undelivered warning was dropped
    }


def test_dry_run_with_nothing_due_says_so(clock, smtp_settings, db):
    assert check_sla("--dry-run") == "check_sla --dry-run: 0 due tickets, 0 emails due\n"


# --- The whole story ----------------------------------------------------------------------


def test_each_email_goes_exactly_once_however_often_the_check_runs(
    clock, make_ticket, smtp_settings
):
    soon = make_ticket(due_in=30 * MINUTE)
    later = make_ticket(due_in=2 * HOUR)
    late = make_ticket(due_in=-MINUTE)

    for _ in range(3):
        check_sla()

    assert received_by_ticket(smtp_settings) == {
        soon.pk: ["created", "warning"],
        later.pk: ["created"],
        late.pk: ["created", "missed"],
    }

    clock.move_to(T0 + 3 * HOUR)  # past every deadline, without a check in between
    outputs = [check_sla() for _ in range(3)]

    assert outputs[0] == "check_sla: 2 state changes, 2 sent, 0 retrying, 0 failed, 0 skipped\n"
    assert set(outputs[1:]) == {
        "check_sla: 0 state changes, 0 sent, 0 retrying, 0 failed, 0 skipped\n"
    }
    assert received_by_ticket(smtp_settings) == {
        soon.pk: ["created", "warning", "missed"],
        later.pk: ["created", "missed"],  # never seen inside its window: no stale warning
        late.pk: ["created", "missed"],
    }
    assert Counter(smtp_settings.kinds()) == {"created": 3, "warning": 1, "missed": 3}
    assert len(set(smtp_settings.message_ids())) == 7
    assert {t.resolution_state for t in Ticket.objects.all()} == {SlaState.BREACHED}
    assert set(Ticket.objects.values_list("next_check_at", flat=True)) == {None}


def test_a_check_every_ten_minutes_warns_each_ticket_before_it_misses(
    clock, make_ticket, smtp_settings
):
    soon = make_ticket(due_in=30 * MINUTE)
    later = make_ticket(due_in=2 * HOUR)
    late = make_ticket(due_in=-MINUTE)

    for minutes in range(0, 4 * 60, 10):
        clock.move_to(T0 + minutes * MINUTE)
        check_sla()
        check_sla()

    assert received_by_ticket(smtp_settings) == {
        soon.pk: ["created", "warning", "missed"],
        later.pk: ["created", "warning", "missed"],
        late.pk: ["created", "missed"],
    }


def test_emails_refused_during_an_outage_go_out_once_when_it_ends(
    clock, make_ticket, smtp_settings
):
    make_ticket(due_in=30 * MINUTE)
    smtp_settings.refusing_temporarily = True
    check_sla()
    check_sla()

    smtp_settings.refusing_temporarily = False
    for seconds in range(0, 120, 5):
        clock.move_to(T0 + timedelta(seconds=seconds))
        check_sla()

    assert smtp_settings.kinds() == ["created", "warning"]
    assert len(smtp_settings.refused) == 2


def test_a_ticket_resolved_before_the_check_gets_no_sla_email(clock, make_ticket, smtp_settings):
    ticket = make_ticket(due_in=30 * MINUTE)
    services.update_ticket(ticket=ticket, status="resolved", now=timezone.now())
    clock.move_to(T0 + HOUR)

    check_sla()

    assert smtp_settings.kinds() == ["created"]
