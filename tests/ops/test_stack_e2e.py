"""The distributed stack for real: Celery worker and beat processes, Redis, SMTP, gunicorn.

The end-to-end test starts `celery -A watchdog worker` (prefork, two processes) and
`celery -A watchdog beat` (a check every second) against the committed test database and
a real broker (Redis; RabbitMQ too where one runs), creates fifty tickets due within
seconds or already late, and waits for every email to reach a real SMTP server exactly
once. Polling with a deadline is right here: the test waits on other processes, not on a
clock it controls.

Also here: the files that describe the stack (Procfile, docker-compose.yml, systemd units,
gunicorn.conf.py) are checked as far as this machine can: there is no Docker engine, so
the compose file is parsed, not run; systemd units go through `systemd-analyze verify`.
"""

import configparser
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import kombu
import pytest
import redis
import yaml
from django.conf import settings
from django.utils import timezone

from notifications.models import DeliveryStatus, Notification
from tests.celery_app import REDIS_HOST, REDIS_PORT, celery_configured, redis_reachable
from tests.smtp_server import LOOPBACK, free_port
from tickets import services
from tickets.checker import run_state_changes
from tickets.models import CheckerRun, Ticket

pytestmark = pytest.mark.slow

REPO = Path(settings.BASE_DIR)
BIN = Path(sys.executable).parent
# Generous for a loaded two-core machine; the whole test usually takes about 15 s.
READY_WITHIN_SECONDS = 30.0
RABBITMQ_HOST = "127.0.0.1"
RABBITMQ_PORT = 5672
DELIVERED_WITHIN_SECONDS = 30.0
# Creation emails queued at once for test_a_check_is_not_stuck_behind_a_delivery_backlog.
BACKLOG = 150


def current_database_url() -> str:
    """DATABASE_URL naming the database this test runs on (pytest-django's test copy)."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    user = quote(str(database.get("USER") or ""), safe="")
    password = quote(str(database.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    port = f":{database['PORT']}" if database.get("PORT") else ""
    host = database.get("HOST") or "localhost"
    return f"postgres://{credentials}{host}{port}/{quote(str(database['NAME']), safe='')}"


def broker_database() -> int:
    """A Redis database apart from the cache's: clearing the cache flushes its database."""
    cache_url = settings.REDIS_URL or "redis://127.0.0.1:6379/0"
    cache_database = int(cache_url.rsplit("/", 1)[-1] or 0)
    return next(n for n in (13, 12, 11) if n != cache_database)


class Processes:
    """Subprocesses in their own process groups, so a stop reaches their children too."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = (self.log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603 (our own interpreter's entry points)
            args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.started.append((name, process))

    def check_running(self) -> None:
        for name, process in self.started:
            assert process.poll() is None, f"{name} exited early:\n{self.output(name)}"

    def output(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        for _, process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)  # Celery's warm shutdown
        for _, process in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def wait_for(condition, *, within: float, what: str, processes: Processes) -> None:
    deadline = time.monotonic() + within
    while not condition():
        processes.check_running()
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {n}\n{processes.output(n)}" for n, _ in processes.started)
            pytest.fail(f"not {what} within {within} s\n{logs}")
        time.sleep(0.2)


def rabbitmq_reachable() -> bool:
    try:
        with socket.create_connection((RABBITMQ_HOST, RABBITMQ_PORT), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request):
    """A real broker, with a queue of this test's own (test runs may share a broker).

    Redis is the documented default and must be there (CI starts it); RabbitMQ, the
    documented alternative, is tried when one happens to listen on this machine.
    """
    queue = f"sla-watchdog-test-{uuid.uuid4().hex[:12]}"
    if request.param == "redis":
        if not redis_reachable():
            pytest.skip(f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT}")
        url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{broker_database()}"
        yield url, queue
        client = redis.Redis.from_url(url)
        # The queue itself and kombu's bindings for it (whatever kombu's version calls them).
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        client.close()
    else:
        if not rabbitmq_reachable():
            pytest.skip(f"RabbitMQ is not reachable on {RABBITMQ_HOST}:{RABBITMQ_PORT}")
        url = f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}//"
        yield url, queue
        with kombu.Connection(url) as connection:
            channel = connection.default_channel
            for name in (queue, f"{queue}-checks"):  # deliveries, and beat's checks
                kombu.Queue(name, kombu.Exchange(name), channel=channel).delete()
                kombu.Exchange(name, channel=channel).delete()


@pytest.fixture
def stack_options() -> dict[str, Any]:
    """How the stack's worker runs; a test parametrizes this to change it."""
    return {"concurrency": 2, "environment": {}}


@pytest.fixture
def stack(transactional_db, broker_url, smtp_server, tmp_path, settings, stack_options):
    """Celery worker and beat on the test database, the broker and the SMTP server."""
    url, queue = broker_url
    # The test process follows the same rules as the workers, and nudges them too.
    settings.SLA_WARNING_MINUTES = 1
    environment = {
        **os.environ,
        "PYTHON_DOTENV_DISABLED": "1",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": LOOPBACK,
        "DATABASE_URL": current_database_url(),
        "CELERY_BROKER_URL": url,
        "CELERY_QUEUE": queue,
        "SLA_CHECK_INTERVAL": "1",
        "SLA_WARNING_MINUTES": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": LOOPBACK,
        "EMAIL_PORT": str(smtp_server.port),
        "EMAIL_TIMEOUT": "5",
        "EMAIL_USE_TLS": "false",
        "EMAIL_USE_SSL": "false",
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "LOG_LEVEL": "WARNING",
        **stack_options["environment"],
    }
    celery = [str(BIN / "celery"), "-A", "watchdog"]
    processes = Processes(tmp_path)
    try:
        with celery_configured(broker_url=url, task_default_queue=queue):
            processes.start(
                "worker",
                [
                    *celery,
                    "worker",
                    "--pool=prefork",
                    f"--concurrency={stack_options['concurrency']}",
                    "--without-mingle",
                    "--without-gossip",
                    "--without-heartbeat",
                    f"--hostname=test-{queue}@%h",
                ],
                environment,
            )
            processes.start(
                "beat",
                [
                    *celery,
                    "beat",
                    "--schedule",
                    str(tmp_path / "beat-schedule"),
                    "--max-interval=1",
                ],
                environment,
            )
            yield processes
    finally:
        # Before the test database is flushed: no process may still hold it.
        processes.stop()


# --- End to end ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_workers_and_beat_deliver_every_email_exactly_once(stack, smtp_server, make_user):
    # Ready when beat's first check has run on a worker, against this test's database.
    wait_for(
        lambda: CheckerRun.objects.exists(),
        within=READY_WITHIN_SECONDS,
        what="a first SLA check by the worker",
        processes=stack,
    )
    now = timezone.now()
    owners = [make_user() for _ in range(5)]
    late: list[Ticket] = []
    soon: list[Ticket] = []
    entering: list[Ticket] = []
    for index in range(50):
        owner = owners[index % len(owners)]
        if index < 20:  # already late: created, then missed, both at once
            due, group = now - timedelta(hours=1), late
        elif index < 40:  # at risk at creation, missed ~6 s later by beat's check
            due, group = now + timedelta(seconds=6), soon
        else:  # on track at creation, at risk ~4 s later by beat's check
            due, group = now + timedelta(minutes=1, seconds=4), entering
        group.append(services.create_ticket(owner=owner, title=f"Ticket {index}", deadline=due))

    def settled():
        missed = Notification.objects.filter(
            kind="missed", status=DeliveryStatus.SENT, ticket__in=late + soon
        ).count()
        warned = Notification.objects.filter(
            kind="warning", status=DeliveryStatus.SENT, ticket__in=entering
        ).count()
        pending = Notification.objects.filter(status=DeliveryStatus.PENDING).count()
        sent = Notification.objects.filter(status=DeliveryStatus.SENT).count()
        return (
            missed == 40 and warned == 10 and pending == 0 and len(smtp_server.received()) == sent
        )

    wait_for(
        settled, within=DELIVERED_WITHIN_SECONDS, what="every email delivered", processes=stack
    )

    received = smtp_server.received()
    assert [n for n, times in Counter(m.message_id for m in received).items() if times > 1] == []
    sent = Notification.objects.filter(status=DeliveryStatus.SENT)
    assert {m.message_id for m in received} == {n.message_id for n in sent}
    assert not Notification.objects.filter(status=DeliveryStatus.FAILED).exists()
    kinds: dict[int, list[str]] = {}
    for message in received:
        kinds.setdefault(message.ticket_id, []).append(message.kind)
    for ticket in late:
        assert sorted(kinds[ticket.pk]) == ["created", "missed"]
    for ticket in soon:
        # The warning goes out at creation; only one still undelivered at the deadline
        # would be cancelled (superseded by the miss), and then it must not arrive.
        warned = Notification.objects.filter(
            ticket=ticket, kind="warning", status=DeliveryStatus.SENT
        ).exists()
        expected = ["created", "missed", "warning"] if warned else ["created", "missed"]
        assert sorted(kinds[ticket.pk]) == expected
    for ticket in entering:
        assert sorted(kinds[ticket.pk]) == ["created", "warning"]
    assert (
        Ticket.objects.filter(
            pk__in=[t.pk for t in late + soon], resolution_state="breached"
        ).count()
        == 40
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "stack_options",
    [
        {
            # One worker process, so a check can only run between two delivery tasks.
            "concurrency": 1,
            "environment": {"CELERY_DELIVERY_TASK_SECONDS": "0.2", "SLA_DELIVERY_BATCH_SIZE": "5"},
        }
    ],
)
def test_a_check_is_not_stuck_behind_a_delivery_backlog(stack, smtp_server, make_user):
    wait_for(
        lambda: CheckerRun.objects.exists(),
        within=READY_WITHIN_SECONDS,
        what="a first SLA check by the worker",
        processes=stack,
    )
    # A slow relay: the backlog below takes the only worker process about 8 s to send.
    smtp_server.delay_seconds = 0.05
    owner = make_user()
    far = timezone.now() + timedelta(hours=2)
    for index in range(BACKLOG):  # each creation nudges a delivery: a queue full of them
        services.create_ticket(owner=owner, title=f"Backlog {index}", deadline=far)
    watched = services.create_ticket(
        owner=owner,
        title="Watched",
        deadline=timezone.now() + timedelta(minutes=1, seconds=2),  # at risk in ~2 s
    )
    at_risk_from = watched.deadline - timedelta(minutes=1)
    backlog_left: list[int] = []

    def watched_at_risk() -> bool:
        if Ticket.objects.get(pk=watched.pk).resolution_state != "at_risk":
            return False
        backlog_left.append(
            Notification.objects.filter(kind="created", status=DeliveryStatus.PENDING).count()
        )
        return True

    wait_for(
        watched_at_risk,
        within=DELIVERED_WITHIN_SECONDS,
        what="the watched ticket at risk",
        processes=stack,
    )
    moved_at = timezone.now()

    # The state change did not wait for the backlog: most of it was still to be sent.
    assert backlog_left[0] > BACKLOG // 4, backlog_left
    assert (moved_at - at_risk_from).total_seconds() < 5

    def all_sent() -> bool:
        pending = Notification.objects.filter(status=DeliveryStatus.PENDING).exists()
        return not pending and len(smtp_server.received()) == BACKLOG + 2

    wait_for(all_sent, within=DELIVERED_WITHIN_SECONDS, what="every email sent", processes=stack)
    assert Counter(smtp_server.message_ids()).most_common(1)[0][1] == 1


# --- The web server -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_the_service_with_its_config_file(tmp_path):
    run_state_changes()  # a heartbeat, so /healthz has every reason to say 200
    port = free_port()
    environment = {
        **os.environ,
        "PYTHON_DOTENV_DISABLED": "1",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": LOOPBACK,
        "DATABASE_URL": current_database_url(),
        "HOST": LOOPBACK,
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "LOG_FORMAT": "json",
    }
    processes = Processes(tmp_path)
    processes.start(
        "gunicorn",
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "watchdog.wsgi"],
        environment,
    )
    try:
        body = None

        def answers():
            nonlocal body
            try:
                with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/healthz", timeout=5) as r:
                    body = r.read()
                    return True
            except (urllib.error.URLError, ConnectionError):
                return False

        wait_for(
            answers, within=READY_WITHIN_SECONDS, what="gunicorn answering", processes=processes
        )
    finally:
        processes.stop()

    assert body is not None
    assert b'"status": "ok"' in body
    # Its access log is JSON too, one object a line.
    access = [line for line in processes.output("gunicorn").splitlines() if "/healthz" in line]
    assert access
    assert access[0].startswith("{")
    assert '"logger": "gunicorn.access"' in access[0]


# --- The files that describe the stack ----------------------------------------------------


def test_the_compose_file_defines_postgresql_redis_web_worker_and_beat():
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text())
    services_ = compose["services"]

    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services_)
    assert services_["web"]["command"][:3] == ["gunicorn", "-c", "gunicorn.conf.py"]
    assert services_["worker"]["command"][:4] == ["celery", "-A", "watchdog", "worker"]
    assert services_["beat"]["command"][:4] == ["celery", "-A", "watchdog", "beat"]
    for name in ("web", "worker", "beat"):
        environment = services_[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["CELERY_BROKER_URL"] != environment["REDIS_URL"]
        assert services_[name]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (REPO / "deploy" / "Dockerfile").exists()


def test_the_procfile_names_web_worker_and_beat():
    entries = dict(
        line.split(": ", 1) for line in (REPO / "Procfile").read_text().splitlines() if line
    )

    assert entries["web"] == "gunicorn -c gunicorn.conf.py watchdog.wsgi"
    assert entries["worker"].startswith("celery -A watchdog worker")
    assert entries["beat"].startswith("celery -A watchdog beat")


UNITS = ["web", "worker", "beat", "checker"]


@pytest.mark.parametrize("role", UNITS)
def test_each_systemd_unit_runs_its_role_from_the_virtualenv(role):
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(REPO / "deploy" / "systemd" / f"sla-watchdog-{role}.service")

    exec_start = unit["Service"]["ExecStart"]
    assert exec_start.startswith("/opt/sla-watchdog/.venv/bin/")
    assert unit["Service"]["EnvironmentFile"] == "/etc/sla-watchdog.env"
    assert {"web": "watchdog.wsgi", "worker": "worker", "beat": "beat", "checker": "--loop"}[
        role
    ] in exec_start


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    # Installed paths rewritten to this checkout, so that verify finds every program.
    for role in UNITS:
        text = (REPO / "deploy" / "systemd" / f"sla-watchdog-{role}.service").read_text()
        text = text.replace("/opt/sla-watchdog/.venv/bin", str(BIN))
        text = text.replace("/opt/sla-watchdog", str(REPO))
        text = text.replace("EnvironmentFile=/", "EnvironmentFile=-/")
        (tmp_path / f"sla-watchdog-{role}.service").write_text(text)

    result = subprocess.run(  # noqa: S603
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.glob("*.service"))],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "sla-watchdog" not in result.stderr, result.stderr


def test_gunicorn_reads_its_settings_from_the_environment():
    result = subprocess.run(  # noqa: S603
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--print-config", "watchdog.wsgi"],
        cwd=REPO,
        env={
            **os.environ,
            "PYTHON_DOTENV_DISABLED": "1",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": LOOPBACK,
            "PORT": "8123",
            "WEB_CONCURRENCY": "3",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    config = {
        name.strip(): value.strip()
        for name, _, value in (line.partition("=") for line in result.stdout.splitlines())
    }
    assert config["bind"] == "['127.0.0.1:8123']"
    assert config["workers"] == "3"
    assert config["accesslog"] == "-"
    assert config["preload_app"] == "False"
