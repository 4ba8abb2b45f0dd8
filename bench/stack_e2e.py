"""End-to-end and chaos benchmark of the distributed stack: beat + 2 workers + Redis + SMTP.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/watchdog \
        .venv/bin/python bench/stack_e2e.py                  # 100,000 tickets over 10 minutes
    ... bench/stack_e2e.py --tickets 20000                   # another scale, same schedule
    ... bench/stack_e2e.py --quick                           # 2,000 tickets over 2 minutes
    ... bench/stack_e2e.py --fanout                          # + escalation to people, endpoints
    ... bench/stack_e2e.py --render bench/results/stack_e2e-....json

DATABASE_URL picks the PostgreSQL *server*; the benchmark uses its own database on it
(`sla_bench_stack`, created when missing, emptied at every run). It starts everything else
itself, on 127.0.0.1 only: a Redis server of its own on a free port (broker in /1, cache in
/0), never the machine's shared one; a recording SMTP server (aiosmtpd, own process); one
`celery beat` and two `celery worker --concurrency 1` processes. It loads N tickets whose
deadlines are spread evenly over the window, lets the stack announce them, and breaks it
on a fixed schedule: SIGKILL a worker (replacement 10 s later), kill and restart Redis,
stop the SMTP server for a minute. Then it waits (bounded) until everything is delivered
and compares what the SMTP server accepted with what was due. See bench/README.md
("Distributed stack end to end").

`--fanout` (issue 13): the tickets belong to a team (a lead, an assignee) with two
endpoints, a signed webhook and a Slack-compatible one, on a recording HTTP receiver
(bench/http_sink.py, its own process); the default escalation policy tells the assignee
by email and the Slack endpoint at the warning (level 1), the lead by email and the
webhook at the breach (level 2), besides the owner's two emails: six deliveries per
ticket, each measured from its threshold to its acceptance, by channel.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import dataset  # noqa: E402
from bench.http_sink import HttpSink  # noqa: E402
from bench.smtp_sink import HOST, CountingHandler, _free_port  # noqa: E402

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Event

RESULTS_DIR = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
DEFAULT_PG_NAME = "sla_bench_stack"
USERS = 1000
# The engine's settings for the run, the same in every process (workers, beat, this one).
# SLA_WARNING_MINUTES is set per run (warning_minutes): half the window, 5 min for the
# 10-minute one. With the default 60, every ticket due within 10 minutes would be at risk
# the moment it exists, and warnings would have no thresholds spread over time.
RUN_SETTINGS = {
    "SLA_CHECK_INTERVAL": "1",  # beat's check every second
    "SLA_RETRY_BASE_SECONDS": "2",  # 2, 4, 8, 16, 30, 30 ... s after SMTP failures
    "SLA_RETRY_MAX_SECONDS": "30",
    "SLA_DELIVERY_LEASE_SECONDS": "60",  # rows held by a killed worker return within the run
    "EMAIL_TIMEOUT": "5",  # 6 x 5 s <= the 60 s lease (system check watchdog.W002)
}
LEGACY_WARNING_MINUTES = 5
SAMPLE_EVERY_SECONDS = 5.0
REPLACEMENT_AFTER_SECONDS = 10.0
# How long after each disruption its emails count as "in a chaos window" (by threshold).
LEASE_SECONDS = int(RUN_SETTINGS["SLA_DELIVERY_LEASE_SECONDS"])
RECOVERY_SECONDS = {"worker_kill": LEASE_SECONDS + 15, "redis_restart": 30, "smtp_outage": 45}
# --fanout: the team's endpoints on the recording HTTP receiver, and the channels reported.
FANOUT_SECRET = "bench-stack-fanout-secret"  # noqa: S105 -- the benchmark endpoint's
WEBHOOK_PATH, SLACK_PATH = "/hook", "/slack"
CHANNELS = ("email_owner", "email_person", "webhook", "slack")


def say(message: str) -> None:
    print(f"[{datetime.now(UTC).strftime('%H:%M:%S')}] {message}", flush=True)


# --- the recording SMTP server ---------------------------------------------------------------

_HEADER = re.compile(
    rb"^(Message-ID|X-SLA-Watchdog-Kind|X-SLA-Watchdog-Ticket):\s*(\S+)", re.I | re.M
)


class RecordingHandler(CountingHandler):
    """Counts as bench.smtp_sink does, and writes one line per accepted message."""

    def __init__(self, received: Any, out: TextIO) -> None:
        super().__init__(received)
        self.out = out

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        accepted_at = time.time()
        content: bytes = envelope.original_content or envelope.content
        head = content.split(b"\r\n\r\n", 1)[0]
        found = {name.decode().lower(): value.decode() for name, value in _HEADER.findall(head)}
        self.out.write(
            f"{accepted_at:.6f}\t{found.get('message-id', '')}\t"
            f"{found.get('x-sla-watchdog-kind', '')}\t{found.get('x-sla-watchdog-ticket', '')}\n"
        )
        return await super().handle_DATA(server, session, envelope)


def _serve_recording(port: int, received: Any, path: str, ready: Event, stop: Event) -> None:
    from aiosmtpd.controller import Controller

    with open(path, "a", buffering=1) as out:  # line-buffered: every acceptance on disk
        controller = Controller(RecordingHandler(received, out), hostname=HOST, port=port)
        controller.start()
        ready.set()
        stop.wait()
        controller.stop()


class RecordingSink:
    """A real SMTP server on a fixed port that can be stopped and started again."""

    def __init__(self, record_dir: Path) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.port = _free_port()
        self.record_dir = record_dir
        self.received: Synchronized[int] = self.context.Value("q", 0)
        self.files: list[Path] = []
        self.process: Any = None
        self._stop: Event | None = None

    def start(self) -> None:
        path = self.record_dir / f"smtp-accepted-{len(self.files)}.tsv"
        self.files.append(path)
        ready, self._stop = self.context.Event(), self.context.Event()
        self.process = self.context.Process(
            target=_serve_recording,
            args=(self.port, self.received, str(path), ready, self._stop),
            name="bench-smtp-recorder",
            daemon=True,
        )
        self.process.start()
        if not ready.wait(30):
            self.process.terminate()
            raise RuntimeError("the recording SMTP server did not start within 30 s")

    def stop(self) -> None:
        if self.process is None or self._stop is None:
            return
        self._stop.set()
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self.process = None

    def records(self) -> list[tuple[float, str, str, str]]:
        rows = []
        for path in self.files:
            for line in path.read_text().splitlines():
                at, message_id, kind, ticket = line.split("\t")
                rows.append((float(at), message_id, kind, ticket))
        return rows


# --- processes: Redis, workers, beat ---------------------------------------------------------


class Processes:
    """Subprocesses in their own process groups, so a signal reaches their children too."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(  # noqa: S603 (our own programs)
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self, name: str) -> None:
        process = self.running.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def exited(self) -> list[str]:
        return [name for name, p in self.running.items() if p.poll() is not None]

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)  # Celery's warm shutdown
        for process in self.running.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self.running.clear()


def start_redis(processes: Processes, port: int, env: dict[str, str]) -> None:
    import redis

    processes.start(
        "redis",
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(processes.log_dir),
        ],
        env,
    )
    client = redis.Redis(host=HOST, port=port, socket_connect_timeout=1)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    client.close()


def celery(role: str, name: str, schedule: Path, concurrency: int = 1) -> list[str]:
    base = [str(BIN / "celery"), "-A", "watchdog", role]
    if role == "beat":
        return [*base, "--schedule", str(schedule), "--max-interval=1"]
    return [
        *base,
        "--pool=prefork",
        f"--concurrency={concurrency}",
        "--without-mingle",
        "--without-gossip",
        f"--hostname={name}@%h",
    ]


# --- the database ---------------------------------------------------------------------------


def configure(
    *, pg_database: str, redis_port: int, smtp_port: int, warning_minutes: int, fanout: bool
) -> dict[str, str]:
    """The environment for this process and every child; returns the children's."""
    from dotenv import load_dotenv

    load_dotenv(ROOT / ".env", override=False)
    source = os.environ.get("DATABASE_URL", "")
    if urlsplit(source).scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit("DATABASE_URL must name a PostgreSQL server (postgres://...)")
    url = dataset.bench_database_url(source, pg_name=pg_database)
    values = {
        "PYTHON_DOTENV_DISABLED": "1",
        "DJANGO_SETTINGS_MODULE": "watchdog.settings",
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": HOST,
        "REDIS_URL": f"redis://{HOST}:{redis_port}/0",
        "CELERY_BROKER_URL": f"redis://{HOST}:{redis_port}/1",
        "CELERY_QUEUE": "sla-watchdog-bench",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": HOST,
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_USE_TLS": "false",
        "EMAIL_USE_SSL": "false",
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "LOG_LEVEL": "WARNING",
        **RUN_SETTINGS,
        "SLA_WARNING_MINUTES": str(warning_minutes),
    }
    if fanout:  # the receiver is on loopback, which the SSRF guard refuses otherwise
        values["WEBHOOK_ALLOWED_NETWORKS"] = f"{HOST}/32"
    os.environ.update(values)
    return dict(os.environ)


def recreate_database(url: str) -> None:
    """Drop and create the benchmark's database: a fresh schema whatever the last run left."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: not a benchmark database (no 'bench')")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    dataset.ensure_postgres_database(url)


def setup_django(pg_database: str) -> None:
    import django

    django.setup()
    from django.db import connection

    if connection.settings_dict["NAME"] != pg_database:
        raise SystemExit(f"refusing to run against {connection.settings_dict['NAME']!r}")


def execute(statement: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement)
        return int(cursor.rowcount)


def scalar(statement: str) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement)
        row = cursor.fetchone()
    return float(row[0] or 0) if row else 0.0


def empty_database() -> None:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    execute(
        "TRUNCATE notifications_notification, notifications_deliverylatency, "
        "tickets_checkerrun, tickets_ticket, auth_user RESTART IDENTITY CASCADE"
    )
    User.objects.bulk_create(
        User(
            username=f"stack-bench-{i}",
            email=f"stack-bench-{i}@example.com",
            password=make_password(None),
        )
        for i in range(1, USERS + 1)
    )


def create_fanout(http: HttpSink) -> dict[str, int]:
    """--fanout: the team every ticket belongs to, its endpoints and the escalation policy.

    Issue 13's walkthrough, for every ticket: at the warning the assignee gets an email
    and the team's Slack-compatible channel a message (level 1); at the breach the lead
    gets an email and the signed webhook a POST (level 2). Returns the team's and the
    assignee's ids for the tickets' rows.
    """
    from django.contrib.auth.models import User

    from notifications.models import Endpoint, EndpointKind
    from people.models import EscalationLevel, EscalationPolicy
    from people.services import create_team

    assignee = User.objects.create_user("stack-assignee", email="stack-assignee@example.com")
    lead = User.objects.create_user("stack-lead", email="stack-lead@example.com")
    team = create_team(name="Support", members=[assignee], lead=lead)
    webhook = Endpoint.objects.create(
        kind=EndpointKind.WEBHOOK, url=http.url(WEBHOOK_PATH), team=team, secret=FANOUT_SECRET
    )
    slack = Endpoint.objects.create(kind=EndpointKind.SLACK, url=http.url(SLACK_PATH), team=team)
    policy = EscalationPolicy.objects.create(name="Stack bench", is_default=True)
    EscalationLevel.objects.create(
        policy=policy, position=1, trigger="warning", roles=["assignee"], endpoint=slack
    )
    EscalationLevel.objects.create(
        policy=policy, position=2, trigger="breach", roles=["team_lead"], endpoint=webhook
    )
    return {"team_id": team.pk, "assignee_id": assignee.pk}


def load_tickets(
    *,
    tickets: int,
    first_deadline: datetime,
    deadline_seconds: float,
    warning: timedelta,
    columns: dict[str, int] | None = None,
    every: int = 1,
) -> float:
    """N open, on-track tickets, deadlines evenly over [first_deadline, + deadline_seconds].

    As the engine would leave them: on_track, next_check_at = deadline - warning window.
    Returns the commit time. With the legacy schedule, those whose warning moment is already
    past are due at once (their threshold is the commit, the moment a checker can first see
    them). Ids follow deadlines. `columns`: values every `every`th ticket gets, the others
    NULL (--fanout: the team and the assignee).
    """
    from django.core.exceptions import FieldDoesNotExist
    from django.db import transaction

    from tickets.models import Ticket

    d = dataset.Dialect("postgresql")
    start = d.moment(first_deadline)
    step = deadline_seconds / tickets
    # Columns added since this was written (with a plain default) take that default.
    extra_columns, extra_values = "", ""
    for name in ("deadline_source",):
        try:
            default = Ticket._meta.get_field(name).get_default()
        except FieldDoesNotExist:
            continue
        extra_columns += f", {name}"
        extra_values += f", '{default}'"
    for name, value in (columns or {}).items():
        extra_columns += f", {name}"
        extra_values += f", CASE WHEN i % {int(every)} = 0 THEN {int(value)} END"
    with transaction.atomic():
        execute(
            f"""INSERT INTO tickets_ticket (id, owner_id, title, description, deadline, status,
                priority, created_at, updated_at, resolved_at, resolution_state,
                resolution_warning_sent_at, resolution_breached_at, next_check_at{extra_columns})
            SELECT i, 1 + i % {USERS}, 'Stack bench ticket ' || i, '', dl, 'open', 'normal',
                now(), now(), NULL, 'on_track', NULL, NULL,
                dl - INTERVAL '{int(warning.total_seconds())} seconds'{extra_values}
            FROM (SELECT i, {start} + (i * {step}) * INTERVAL '1 second' AS dl
                  FROM {d.numbers(1, tickets)}) AS t"""  # noqa: S608
        )
        execute(
            "SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), "
            "(SELECT MAX(id) FROM tickets_ticket))"
        )
    committed_at = time.time()
    execute("VACUUM (ANALYZE) auth_user, tickets_ticket, notifications_notification")
    return committed_at


def vacuum() -> None:
    # This PostgreSQL server runs without autovacuum; production would not.
    execute("VACUUM (ANALYZE) tickets_ticket, notifications_notification")


def sample(sink: RecordingSink, started: float, http: HttpSink | None) -> dict[str, float]:
    now = "clock_timestamp()"
    return {
        "t": round(time.time() - started, 1),
        "tickets_due": scalar(
            f"SELECT COUNT(*) FROM tickets_ticket WHERE next_check_at <= {now}"  # noqa: S608
        ),
        "tickets_open_states": scalar(
            "SELECT COUNT(*) FROM tickets_ticket WHERE next_check_at IS NOT NULL"
        ),
        "pending_due": scalar(
            "SELECT COUNT(*) FROM notifications_notification "  # noqa: S608
            f"WHERE status = 'pending' AND next_attempt_at <= {now}"
        ),
        "pending": scalar(
            "SELECT COUNT(*) FROM notifications_notification WHERE status = 'pending'"
        ),
        "sent": scalar("SELECT COUNT(*) FROM notifications_notification WHERE status = 'sent'"),
        # Emails the SMTP server accepted, and with --fanout the requests the HTTP receiver read.
        "accepted": float(sink.received.value + (http.received.value if http else 0)),
    }


# --- CPU time, from /proc: what each part of the stack cost, whatever else the machine ran ----


CPU_ROLES = ("workers", "beat", "postgresql", "smtp_server", "redis", "http_server")


class CpuMeter:
    """User + system CPU seconds of the stack's processes, by role, from /proc.

    Workers and beat by their command lines, PostgreSQL by its backends on the benchmark's
    database, the SMTP recorder by pid, Redis by its port; and the whole machine, from
    /proc/stat. Read at every sample, so a process that exits (a database connection
    past its CONN_MAX_AGE, the killed worker, the SMTP server stopped for its outage)
    still counts up to the last reading before it went: a few seconds of it are missed.
    A process first seen after the start counts from zero.
    """

    def __init__(
        self, *, pg_database: str, redis_port: int, smtp_pid: Any, http_pid: int | None = None
    ) -> None:
        self.pg_database = pg_database
        self.http_pid = http_pid  # --fanout: the HTTP receiver's
        self.redis_port = redis_port
        self.smtp_pid = smtp_pid  # () -> int | None: the recorder's current pid
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self.machine: list[tuple[float, float]] = []  # (total, busy) seconds

    def read(self) -> None:
        started = bool(self.machine)
        for pid, role, seconds in self._processes():
            self.first.setdefault(pid, seconds if not started else 0.0)
            self.last[pid] = (role, seconds)
        with open("/proc/stat") as machine:
            jiffies = [int(v) for v in machine.readline().split()[1:]]
        tick = os.sysconf("SC_CLK_TCK")
        idle = jiffies[3] + jiffies[4]  # idle, iowait
        self.machine.append((sum(jiffies) / tick, (sum(jiffies) - idle) / tick))

    def totals(self) -> dict[str, float]:
        totals = dict.fromkeys(CPU_ROLES, 0.0)
        for pid, (role, seconds) in self.last.items():
            totals[role] += seconds - self.first[pid]
        if len(self.machine) > 1:
            totals["machine_total"] = self.machine[-1][0] - self.machine[0][0]
            totals["machine_busy"] = self.machine[-1][1] - self.machine[0][1]
        return totals

    def _processes(self) -> list[tuple[int, str, float]]:
        tick = os.sysconf("SC_CLK_TCK")
        smtp_pid = self.smtp_pid()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                raw = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            command = raw.replace(b"\0", b" ").decode(errors="replace")
            fields = stat.rsplit(")", 1)[1].split()
            seconds = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            pid = int(entry.name)
            role = None
            if "celery" in command and " worker" in command and "bench-w" in command:
                role = "workers"
            elif "celery" in command and " beat" in command and str(RESULTS_DIR) in command:
                role = "beat"
            elif command.startswith("postgres:") and f" {self.pg_database} " in command:
                role = "postgresql"
            elif smtp_pid is not None and pid == smtp_pid:
                role = "smtp_server"
            elif self.http_pid is not None and pid == self.http_pid:
                role = "http_server"
            elif command.startswith("redis-server") and f":{self.redis_port}" in command:
                role = "redis"
            if role is not None:
                found.append((pid, role, seconds))
        return found


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Config:
    tickets: int
    window_seconds: float
    lead_seconds: float
    drain_max_seconds: float
    smtp_outage_seconds: float
    chaos: bool
    vacuum_every_seconds: float
    pg_database: str
    concurrency: int = 1  # pool processes per worker
    # "spread": deadlines over the second half of the window and warnings (half a window
    # before them) over the first, so every threshold lies in the window, evenly.
    # "legacy": deadlines over the whole window with a 5-minute warning, the first
    # session's schedule: half the warnings are due at the load, at once.
    schedule: str = "spread"
    # Issue 13's fan-out (create_fanout): a team, escalation levels, two endpoints, for
    # every `fanout_every`th ticket (the others: the owner's emails only).
    fanout: bool = False
    fanout_every: int = 1

    @property
    def warning_minutes(self) -> int:
        if self.schedule == "legacy":
            return LEGACY_WARNING_MINUTES
        return max(1, int(self.window_seconds // 120))

    @property
    def first_deadline_seconds(self) -> float:
        """Seconds after the window starts at which the first deadline falls."""
        return 0.0 if self.schedule == "legacy" else 60.0 * self.warning_minutes


@dataclass
class Run:
    config: Config
    started_at: float = 0.0  # epoch: the stack ready, tickets not yet loaded
    window_start: float = 0.0
    committed_at: float = 0.0
    window_end: float = 0.0
    finished_at: float = 0.0
    drained: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, float]] = field(default_factory=list)
    exited: list[str] = field(default_factory=list)
    load_average: dict[str, list[float]] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    receiver: dict[str, Any] = field(default_factory=dict)  # --fanout: the HTTP receiver's


def chaos_schedule(config: Config) -> list[tuple[float, str]]:
    """(seconds after the window starts, action): minute 3, 5 and 6 of a 10-minute window."""
    if not config.chaos:
        return []
    w = config.window_seconds
    return [
        (0.3 * w, "worker_kill"),
        (0.3 * w + REPLACEMENT_AFTER_SECONDS, "worker_replace"),
        (0.5 * w, "redis_restart"),
        (0.6 * w, "smtp_stop"),
        (0.6 * w + config.smtp_outage_seconds, "smtp_start"),
    ]


def run(config: Config) -> tuple[Run, dict[str, Any]]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS_DIR / f"stack_e2e-{config.tickets}-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    redis_port = _free_port()
    sink = RecordingSink(log_dir)
    http_path = log_dir / "http-accepted.tsv" if config.fanout else None
    http = (
        HttpSink(signed_path=WEBHOOK_PATH, secret=FANOUT_SECRET, record=str(http_path))
        if config.fanout
        else None
    )
    env = configure(
        pg_database=config.pg_database,
        redis_port=redis_port,
        smtp_port=sink.port,
        warning_minutes=config.warning_minutes,
        fanout=config.fanout,
    )
    recreate_database(os.environ["DATABASE_URL"])
    setup_django(config.pg_database)
    say(f"database {config.pg_database} created afresh; logs in {log_dir}")
    empty_database()
    columns = create_fanout(http) if http is not None else None

    result = Run(config=config)
    result.load_average["start"] = list(os.getloadavg())
    processes = Processes(log_dir)
    schedule = log_dir / "beat-schedule"
    try:
        start_redis(processes, redis_port, env)
        sink.start()
        if http is not None:
            http.start()
        for n in (1, 2):
            processes.start(
                f"worker-{n}", celery("worker", f"bench-w{n}", schedule, config.concurrency), env
            )
        processes.start("beat", celery("beat", "beat", schedule), env)
        wait_until_checking(processes)
        say(f"stack ready: redis :{redis_port}, smtp :{sink.port}, beat + 2 workers")
        result.started_at = time.time()
        window_start = datetime.now(UTC) + timedelta(seconds=config.lead_seconds)
        result.window_start = window_start.timestamp()
        result.window_end = result.window_start + config.window_seconds
        first_deadline = window_start + timedelta(seconds=config.first_deadline_seconds)
        result.committed_at = load_tickets(
            tickets=config.tickets,
            first_deadline=first_deadline,
            deadline_seconds=config.window_seconds - config.first_deadline_seconds,
            warning=timedelta(minutes=config.warning_minutes),
            columns=columns,
            every=config.fanout_every,
        )
        say(
            f"{config.tickets:,} tickets loaded in "
            f"{result.committed_at - result.started_at:.1f} s; deadlines from "
            f"{first_deadline:%H:%M:%S} to the end of the {config.window_seconds:.0f} s window "
            f"starting {window_start:%H:%M:%S}, warnings {config.warning_minutes} min before"
        )

        meter = CpuMeter(
            pg_database=config.pg_database,
            redis_port=redis_port,
            smtp_pid=lambda: sink.process.pid if sink.process is not None else None,
            http_pid=http.pid if http is not None else None,
        )
        meter.read()
        drive(config, result, processes, sink, env, schedule, meter, http)
        meter.read()
        result.cpu_seconds = meter.totals()
    finally:
        say("stopping the stack")
        processes.stop_all()
        sink.stop()
        if http is not None:
            result.receiver = http.summary()
    result.load_average["end"] = list(os.getloadavg())
    return result, analyse(result, sink, http_path)


def wait_until_checking(processes: Processes) -> None:
    """Until beat's checks run on the workers against this database (two of them)."""
    from tickets.models import CheckerRun

    deadline = time.monotonic() + 90
    while True:
        run = CheckerRun.objects.filter(pk=CheckerRun.SINGLETON_ID).first()
        if run is not None and run.runs >= 2:
            return
        if processes.exited() or time.monotonic() > deadline:
            raise SystemExit(f"the stack did not start; see the logs in {processes.log_dir}")
        time.sleep(0.5)


def drive(
    config: Config,
    result: Run,
    processes: Processes,
    sink: RecordingSink,
    env: dict[str, str],
    schedule: Path,
    meter: CpuMeter,
    http: HttpSink | None = None,
) -> None:
    """Sample, break things on schedule, then wait (bounded) for the outbox to drain."""
    pending_chaos = chaos_schedule(config)
    hard_end = result.window_end + config.drain_max_seconds
    next_sample = next_vacuum = time.time()
    redis_port = int(env["CELERY_BROKER_URL"].rsplit(":", 1)[1].split("/")[0])
    replacements = 0
    while True:
        now = time.time()
        while pending_chaos and now >= result.window_start + pending_chaos[0][0]:
            _, action = pending_chaos.pop(0)
            event: dict[str, Any] = {"action": action, "at": time.time()}
            if action == "worker_kill":
                processes.kill("worker-1")
            elif action == "worker_replace":
                replacements += 1
                processes.start(
                    "worker-1",
                    celery("worker", f"bench-w1r{replacements}", schedule, config.concurrency),
                    env,
                )
            elif action == "redis_restart":
                processes.kill("redis")
                event["down_at"] = time.time()
                start_redis(processes, redis_port, env)
            elif action == "smtp_stop":
                sink.stop()
            elif action == "smtp_start":
                sink.start()
            event["done_at"] = time.time()
            result.events.append(event)
            say(f"chaos: {action} ({event['done_at'] - event['at']:.1f} s)")
        if now >= next_sample:
            point = sample(sink, result.started_at, http)
            meter.read()
            result.samples.append(point)
            next_sample = now + SAMPLE_EVERY_SECONDS
            if len(result.samples) % 6 == 1:
                say(
                    "t={t:.0f}s due tickets {tickets_due:.0f}, due emails {pending_due:.0f}, "
                    "pending {pending:.0f}, sent {sent:.0f}, accepted {accepted:.0f}".format(
                        **point
                    )
                )
            settled = (
                now > result.window_end
                and not pending_chaos
                and point["tickets_open_states"] == 0
                and point["pending"] == 0
                and point["accepted"] >= point["sent"]
            )
            if settled:
                result.drained = True
                break
        if config.vacuum_every_seconds and now >= next_vacuum:
            vacuum()
            next_vacuum = time.time() + config.vacuum_every_seconds
        if now > hard_end:
            say("drain period over: stopping with work left")
            break
        for name in processes.exited():
            if name not in result.exited:
                result.exited.append(name)
                say(f"WARNING: {name} exited on its own (see its log)")
        time.sleep(0.25)
    result.finished_at = time.time()


# --- the analysis ----------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 3)

    return {
        "count": len(ordered),
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1], 3),
    }


def chaos_windows(result: Run) -> list[tuple[str, float, float]]:
    """(name, from, to) in epoch seconds: an email whose threshold falls inside is affected."""
    windows = []
    at = {e["action"]: e for e in result.events}
    if "worker_kill" in at:
        start = at["worker_kill"]["at"]
        windows.append(("worker_kill", start - 10, start + RECOVERY_SECONDS["worker_kill"]))
    if "redis_restart" in at:
        start = at["redis_restart"]["at"]
        end = at["redis_restart"]["done_at"] + RECOVERY_SECONDS["redis_restart"]
        windows.append(("redis_restart", start - 10, end))
    if "smtp_stop" in at:
        start = at["smtp_stop"]["at"]
        end = at.get("smtp_start", at["smtp_stop"])["done_at"] + RECOVERY_SECONDS["smtp_outage"]
        windows.append(("smtp_outage", start - 10, end))
    return windows


def http_records(path: Path | None) -> list[tuple[float, str, str]]:
    """(arrival time, path, event id) per request the HTTP receiver read (--fanout)."""
    if path is None or not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        at, where, event_id = line.split("\t")
        rows.append((float(at), where, event_id))
    return rows


def analyse(result: Run, sink: RecordingSink, http_path: Path | None = None) -> dict[str, Any]:
    from django.db import connection

    with connection.cursor() as cursor:
        # The channel: the endpoint's kind, or an escalation level's email to a person, or
        # the owner's email.
        cursor.execute(
            """SELECT n.ticket_id, n.kind, n.status, n.message_key::text, n.attempts,
                EXTRACT(EPOCH FROM t.deadline), n.last_error,
                CASE WHEN e.kind IS NOT NULL THEN e.kind
                     WHEN n.recipient_user_id IS NOT NULL THEN 'email_person'
                     ELSE 'email_owner' END
            FROM notifications_notification n JOIN tickets_ticket t ON t.id = n.ticket_id
            LEFT JOIN notifications_endpoint e ON e.id = n.endpoint_id"""
        )
        rows = cursor.fetchall()
        cursor.execute(
            "SELECT resolution_state, COUNT(*) FROM tickets_ticket GROUP BY resolution_state"
        )
        states = dict(cursor.fetchall())
        cursor.execute("SELECT id, EXTRACT(EPOCH FROM deadline) FROM tickets_ticket")
        deadlines = {ticket_id: float(at) for ticket_id, at in cursor.fetchall()}
    records = sink.records()
    by_message: dict[str, list[float]] = {}
    for accepted_at, message_id, _, _ in records:
        by_message.setdefault(message_id, []).append(accepted_at)
    per_header = Counter((ticket, kind) for _, _, kind, ticket in records)
    hooks = http_records(http_path)
    by_event: dict[str, list[float]] = {}
    for arrived_at, _, event_id in hooks:
        by_event.setdefault(event_id, []).append(arrived_at)

    warning_seconds = 60.0 * result.config.warning_minutes
    windows = chaos_windows(result)
    statuses: Counter[tuple[str, str]] = Counter()
    delays: dict[str, list[float]] = {"warning": [], "warning_at_load": [], "missed": []}
    clean: dict[str, list[float]] = {"warning": [], "warning_at_load": [], "missed": []}
    affected: dict[str, list[float]] = {name: [] for name, _, _ in windows}
    timeline: dict[int, list[float]] = {}
    known: set[str] = set()
    lost: list[dict[str, Any]] = []
    sent_unreceived = 0
    superseded_warnings = 0
    cancelled_but_received = 0
    missed_tickets: set[int] = set()
    attempts: Counter[int] = Counter()
    # Per channel: counts, and the delays (all, and outside the chaos windows).
    counts: dict[str, Counter[str]] = {name: Counter() for name in CHANNELS}
    by_channel: dict[str, list[float]] = {name: [] for name in CHANNELS}
    by_channel_clean: dict[str, list[float]] = {name: [] for name in CHANNELS}
    emails_per_header: Counter[tuple[str, str]] = Counter()
    known_events: set[str] = set()
    for ticket_id, kind, status, key, tries, deadline, last_error, channel in rows:
        statuses[(kind, status)] += 1
        attempts[tries] += 1
        tally = counts.setdefault(channel, Counter())
        tally["rows"] += 1
        if channel.startswith("email"):
            message_id = f"<{key}@sla-watchdog>"
            known.add(message_id)
            accepted = by_message.get(message_id)
            if status != "cancelled" or accepted:  # a cancelled one may have gone anyway
                emails_per_header[(str(ticket_id), kind)] += 1
        else:
            known_events.add(key)
            accepted = by_event.get(key)
        if accepted and len(accepted) > 1:
            tally["duplicate_copies"] += len(accepted) - 1
        if kind == "missed" and channel == "email_owner":
            missed_tickets.add(ticket_id)
        if status == "cancelled" and kind == "warning":
            if accepted:
                cancelled_but_received += 1
                tally["cancelled_but_received"] += 1
            else:
                superseded_warnings += 1
                tally["superseded"] += 1
            continue
        if not accepted:
            if status == "sent":
                sent_unreceived += 1
            tally["lost"] += 1
            lost.append(
                {
                    "ticket": ticket_id,
                    "kind": kind,
                    "channel": channel,
                    "status": status,
                    "error": last_error,
                }
            )
            continue
        tally["accepted"] += 1
        nominal = float(deadline) - (warning_seconds if kind == "warning" else 0.0)
        threshold = max(nominal, result.committed_at)
        group = kind
        if kind == "warning" and nominal < result.committed_at:
            group = "warning_at_load"
        delay = min(accepted) - threshold
        delays[group].append(delay)
        by_channel.setdefault(channel, []).append(delay)
        in_window = [name for name, low, high in windows if low <= threshold <= high]
        for name in in_window:
            affected[name].append(delay)
        if not in_window:
            clean[group].append(delay)
            by_channel_clean.setdefault(channel, []).append(delay)
        timeline.setdefault(int((threshold - result.window_start) // 60), []).append(delay)

    no_miss = [t for t in deadlines if t not in missed_tickets]
    duplicate_copies = sum(len(times) - 1 for times in by_message.values() if len(times) > 1)
    # Copies beyond the emails due for that (ticket, kind): one for the owner, and with
    # --fanout one per person an escalation level tells.
    header_duplicates = sum(
        max(0, n - max(1, emails_per_header[key])) for key, n in per_header.items()
    )
    everything = [d for values in delays.values() for d in values]
    everything_clean = [d for values in clean.values() for d in values]
    accepted_times = sorted([at for at, _, _, _ in records] + [at for at, _, _ in hooks])
    per_minute = Counter(int((at - result.window_start) // 60) for at in accepted_times)
    busiest = max(per_minute.values()) / 60 if per_minute else 0.0
    span = accepted_times[-1] - accepted_times[0] if len(accepted_times) > 1 else 0.0
    peak = max(result.samples, key=lambda s: s["pending_due"], default=None)
    cpu = result.cpu_seconds
    # Per accepted email, or with --fanout per accepted delivery (emails and POSTs).
    cpu_ms_per_email: dict[str, float] = {
        role: round(1000 * seconds / len(accepted_times), 3)
        for role, seconds in cpu.items()
        if accepted_times and not role.startswith("machine")
    }
    if cpu.get("machine_total"):
        # The share of both CPUs that anything at all (this stack or not) used in the run.
        busy = cpu["machine_busy"] / cpu["machine_total"]
        cpu_ms_per_email["machine_busy_fraction"] = round(busy, 3)
    return {
        "tickets_by_state": states,
        "notifications_by_kind_status": {f"{k}/{s}": n for (k, s), n in sorted(statuses.items())},
        "attempts_histogram": {str(k): v for k, v in sorted(attempts.items())},
        "smtp_accepted": len(records),
        "distinct_message_ids": len(by_message),
        "unknown_message_ids": len(set(by_message) - known),
        "http_received": len(hooks),
        "http_distinct_event_ids": len(by_event),
        "http_unknown_event_ids": len(set(by_event) - known_events),
        "duplicate_copies_by_event_id": sum(len(t) - 1 for t in by_event.values() if len(t) > 1),
        "by_channel": {
            name: {
                **{k: counts[name].get(k, 0) for k in ("rows", "accepted", "superseded")},
                **{
                    k: counts[name].get(k, 0)
                    for k in ("lost", "duplicate_copies", "cancelled_but_received")
                },
                "delay_seconds": percentiles(by_channel[name]),
                "delay_seconds_outside_chaos": percentiles(by_channel_clean[name]),
            }
            for name in counts
            if counts[name].get("rows")
        },
        "duplicate_copies_by_message_id": duplicate_copies,
        "duplicate_copies_by_ticket_kind": header_duplicates,
        "lost": len(lost) + len(no_miss),
        "lost_examples": lost[:20],
        "tickets_without_missed_notification": len(no_miss),
        "sent_in_db_not_received": sent_unreceived,
        "warnings_superseded_by_miss": superseded_warnings,
        "warnings_cancelled_but_received": cancelled_but_received,
        "delay_seconds": {
            "all": percentiles(everything),
            "all_outside_chaos": percentiles(everything_clean),
            # Thresholds spread over the window (the load-time warnings left out).
            "spread": percentiles(delays["warning"] + delays["missed"]),
            "spread_outside_chaos": percentiles(clean["warning"] + clean["missed"]),
            **{f"{k}": percentiles(v) for k, v in delays.items()},
            **{f"{k}_outside_chaos": percentiles(v) for k, v in clean.items()},
            **{f"in_{k}": percentiles(v) for k, v in affected.items()},
        },
        "delay_by_threshold_minute": {str(m): percentiles(v) for m, v in sorted(timeline.items())},
        "accepted_per_minute": {str(m): n for m, n in sorted(per_minute.items())},
        "throughput_emails_per_s": {
            "overall": round(len(accepted_times) / span, 1) if span else None,
            "busiest_minute": round(busiest, 1),
        },
        "peak_backlog": peak,
        "cpu_ms_per_email": cpu_ms_per_email,
        "chaos_windows": [
            {
                "name": n,
                "from_s": round(lo - result.window_start, 1),
                "to_s": round(hi - result.window_start, 1),
            }
            for n, lo, hi in windows
        ],
    }


# --- the report -------------------------------------------------------------------------------


def render(document: dict[str, Any]) -> str:
    c, r, a = document["config"], document["run"], document["analysis"]
    fanout = c.get("fanout", False)
    expected = c["tickets"] * 2
    unit = "deliveries" if fanout else "emails"
    lines = [
        f"Distributed stack end to end: {c['tickets']:,} tickets, deadlines over "
        f"{c['window_seconds']:.0f} s, chaos {'on' if c['chaos'] else 'off'}, "
        f"schedule {c.get('schedule', 'legacy')}, 2 workers x {c.get('concurrency', 1)}"
        + (
            f", fan-out (team, 2 escalation levels, webhook + Slack) for 1 ticket in "
            f"{c.get('fanout_every', 1)}"
            if fanout
            else ""
        ),
        f"  machine: {document['machine']}; load average {r['load_average']}",
        f"  settings: {document['run_settings']}",
        f"  drained: {r['drained']} ({r['finished_at'] - r['window_end']:.0f} s after the "
        "last deadline)",
        "",
        f"  emails due (warning + missed per ticket)  {expected:,}"
        + (
            f" to owners; {sum(ch['rows'] for ch in a['by_channel'].values()):,} "
            "deliveries queued in all"
            if fanout
            else ""
        ),
        f"  accepted by SMTP (copies)                 {a['smtp_accepted']:,}",
        f"  distinct Message-IDs                      {a['distinct_message_ids']:,}",
        f"  warnings superseded by the miss           {a['warnings_superseded_by_miss']:,}",
        f"  lost (due, never accepted)                {a['lost']:,}",
        f"  duplicates by Message-ID                  {a['duplicate_copies_by_message_id']:,}",
        f"  duplicates by (ticket, kind, deadline)    {a['duplicate_copies_by_ticket_kind']:,}",
        f"  unknown Message-IDs                       {a['unknown_message_ids']:,}",
        f"  throughput (overall / busiest minute)     "
        f"{a['throughput_emails_per_s']['overall']} / "
        f"{a['throughput_emails_per_s']['busiest_minute']} {unit}/s",
        f"  peak backlog (due {unit})" + " " * (27 - len(unit)) + f"{a['peak_backlog']}",
        f"  CPU ms per accepted {'delivery' if fanout else 'email'}, by process"
        + " " * (5 if not fanout else 2)
        + f"{a.get('cpu_ms_per_email', '-')}",
        f"  notifications                             {a['notifications_by_kind_status']}",
        f"  attempts per notification                 {a['attempts_histogram']}",
    ]
    if fanout:
        lines += [
            f"  HTTP requests received (distinct ids)     {a['http_received']:,} "
            f"({a['http_distinct_event_ids']:,}); duplicates by event id "
            f"{a['duplicate_copies_by_event_id']:,}; unknown event ids "
            f"{a['http_unknown_event_ids']:,}; bad signatures "
            f"{r.get('receiver', {}).get('bad_signatures', '-')}",
            "",
            "  by channel: threshold -> acceptance by the receiver, seconds",
            f"  {'':14} {'rows':>8} {'accepted':>8} {'supers.':>8} {'lost':>6} {'dupl.':>6}"
            f" {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}   outside chaos: p50 / p99 / max",
        ]
        for name, channel in a["by_channel"].items():
            d, o = channel["delay_seconds"], channel["delay_seconds_outside_chaos"]
            lines.append(
                f"  {name:14} {channel['rows']:>8,} {channel['accepted']:>8,} "
                f"{channel['superseded']:>8,} {channel['lost']:>6,} "
                f"{channel['duplicate_copies']:>6,} "
                + " ".join(
                    f"{d[k] if d[k] is not None else '-':>7}" for k in ("p50", "p95", "p99", "max")
                )
                + f"   {o['p50']} / {o['p99']} / {o['max']}"
            )
    lines += [
        "",
        f"  delay threshold -> acceptance, seconds, every {'delivery' if fanout else 'email'} "
        "(target p99 <= 5 s)",
        f"  {'':28} {'count':>8} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}",
    ]
    for name, stats in a["delay_seconds"].items():
        values = [stats[k] if stats[k] is not None else "-" for k in ("p50", "p95", "p99", "max")]
        lines.append(f"  {name:28} {stats['count']:>8,} " + " ".join(f"{v:>8}" for v in values))
    lines += ["", "  by minute of threshold (0 = first minute of the window)"]
    for minute, stats in a["delay_by_threshold_minute"].items():
        lines.append(
            f"  minute {minute:>3}: {stats['count']:>7,} {unit}, p50 {stats['p50']} s, "
            f"p99 {stats['p99']} s, max {stats['max']} s; "
            f"accepted in that minute {a['accepted_per_minute'].get(minute, 0):,}"
        )
    lines += ["", f"  chaos windows (s after window start): {a['chaos_windows']}"]
    for event in r["events"]:
        lines.append(
            f"  event {event['action']:15} at +{event['at'] - r['window_start']:.1f} s "
            f"(took {event['done_at'] - event['at']:.1f} s)"
        )
    if r["exited"]:
        lines.append(f"  processes that exited on their own: {r['exited']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--window-minutes", type=float, default=10.0)
    parser.add_argument("--lead-seconds", type=float, default=20.0)
    parser.add_argument("--drain-minutes", type=float, default=10.0)
    parser.add_argument("--smtp-outage-seconds", type=float, default=60.0)
    parser.add_argument("--no-chaos", action="store_true")
    parser.add_argument("--vacuum-every", type=float, default=60.0, help="seconds; 0: never")
    parser.add_argument("--pg-database", default=DEFAULT_PG_NAME)
    parser.add_argument("--concurrency", type=int, default=1, help="processes per worker")
    parser.add_argument(
        "--schedule",
        choices=["spread", "legacy"],
        default="spread",
        help="spread: every threshold inside the window, evenly (default); legacy: the "
        "first session's, with half the warnings due at the load",
    )
    parser.add_argument(
        "--fanout",
        action="store_true",
        help="issue 13: a team, escalation levels to the assignee and the lead by email and "
        "to a webhook and a Slack endpoint on a recording HTTP receiver (6 deliveries a ticket)",
    )
    parser.add_argument(
        "--fanout-every",
        type=int,
        default=1,
        metavar="N",
        help="--fanout: only every Nth ticket in the team, with an assignee and a lead; the "
        "levels' endpoints still hear of every ticket (the default policy is everyone's)",
    )
    parser.add_argument("--quick", action="store_true", help="2,000 tickets over 2 minutes")
    parser.add_argument("--render", type=Path, help="print a saved result again")
    args = parser.parse_args()
    if args.render:
        print(render(json.loads(args.render.read_text())))
        return
    if args.quick:
        args.tickets, args.window_minutes = 2000, 2.0
        args.drain_minutes, args.smtp_outage_seconds = 3.0, 20.0
    config = Config(
        tickets=args.tickets,
        window_seconds=args.window_minutes * 60,
        lead_seconds=args.lead_seconds,
        drain_max_seconds=args.drain_minutes * 60,
        smtp_outage_seconds=args.smtp_outage_seconds,
        chaos=not args.no_chaos,
        vacuum_every_seconds=args.vacuum_every,
        pg_database=args.pg_database,
        schedule=args.schedule,
        concurrency=args.concurrency,
        fanout=args.fanout,
        fanout_every=max(1, args.fanout_every),
    )
    result, analysis = run(config)
    document = {
        "machine": f"{os.cpu_count()} CPUs, {platform.platform()}",
        "run_settings": {**RUN_SETTINGS, "SLA_WARNING_MINUTES": str(config.warning_minutes)},
        "config": asdict(config),
        "run": {k: v for k, v in asdict(result).items() if k != "config"},
        "analysis": analysis,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.fromtimestamp(result.started_at, UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "-fanout" if config.fanout else ""
    path = RESULTS_DIR / f"stack_e2e-{config.tickets}{suffix}-{stamp}.json"
    path.write_text(json.dumps(document, indent=2, default=str))
    print(render(document))
    say(f"written {path}")


if __name__ == "__main__":
    main()
