"""A first pass over a big backlog: one check, transitions plus delivery, in one process.

    # build the tickets once (a template database), then drain a copy of it
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/watchdog \
        .venv/bin/python bench/backlog.py --tickets 100000 --pg-database sla_bench_backlog

Tickets are made through `tickets.services.create_ticket`, as the API makes them, with
manual deadlines spread evenly over the two days either side of the check's `now`; one in
ten is closed. Their creation emails are marked sent (they went out when the tickets were
made), the table is vacuumed and analyzed, and that state is kept as a template database
(`<name>_tmpl_<tickets>`), reused by every later run with the same arguments. Each run
copies the template (`CREATE DATABASE ... TEMPLATE`), migrates the copy with the code
being measured and runs one `tickets.checker.check_sla(now=...)` against the SMTP sink
(bench/smtp_sink.py, its own process): about half the open tickets missed their deadline
(a "missed" email each), about one in a hundred entered the warning window.

Per batch of delivery it records wall time, the CPU of this process, of the PostgreSQL
backend and of the SMTP server, and the number of SQL statements, and reports them per
email over the first, middle and last tenth of the drain. At the start, middle and end it
also runs one batch inside a transaction that is rolled back, with every distinct
statement explained (EXPLAIN (ANALYZE, BUFFERS)) before it runs: the claim and the mark.

`--autovacuum off` is this machine's setting: nothing vacuums during the drain.
`--autovacuum emulate` runs what the autovacuum daemon would do with its default settings
(every `--naptime` seconds, VACUUM a table once its dead rows pass 50 + 20% of its rows,
or its inserts 1000 + 20%; ANALYZE once its changes pass 50 + 10%), from a thread of this
process: with autovacuum off on the server, the per-table `autovacuum_enabled` storage
parameter cannot turn it on, so this is the only way to see it here.

PostgreSQL only. It refuses database names that do not start with `--pg-database`'s
value, and never touches the database DATABASE_URL names.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.smtp_sink import SmtpSink  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
OWNERS = 200
CHECK_NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CREATED_AT = CHECK_NOW - timedelta(days=3)
SPREAD = timedelta(days=2)  # deadlines within this of CHECK_NOW, either side
DATA_VERSION = 1
# The shares of the drain each window covers (fraction of the emails sent so far).
WINDOWS = {"start": (0.0, 0.1), "middle": (0.45, 0.55), "end": (0.9, 1.0)}
SNAPSHOTS = {"start": 0.0, "middle": 0.5, "end": 0.9}


# --- databases -----------------------------------------------------------------------------


def server_url(name: str) -> str:
    source = os.environ.get("DATABASE_URL", "")
    parts = urllib.parse.urlsplit(source)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit("DATABASE_URL must name a PostgreSQL server (postgres://...)")
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def admin(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(server_url("postgres"), autocommit=True) as connection:
        cursor = connection.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else []


def exists(name: str) -> bool:
    return bool(admin("SELECT 1 FROM pg_database WHERE datname = %s", name))


def drop(name: str) -> None:
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def clone(template: str, name: str) -> None:
    drop(name)
    admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def configure(*, database: str, smtp_port: int) -> None:
    """Point Django at `database` and the SMTP sink. Must run before django.setup()."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "watchdog.settings",
            "DATABASE_URL": server_url(database),
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "localhost",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "EMAIL_USE_TLS": "false",
            "EMAIL_USE_SSL": "false",
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "CELERY_BROKER_URL": "",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("REDIS_URL", None)


def setup_django(expected: str) -> None:
    import django

    django.setup()
    from django.db import connection

    if connection.settings_dict["NAME"] != expected:
        raise SystemExit(f"refusing to run against {connection.settings_dict['NAME']!r}")


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# --- the tickets ---------------------------------------------------------------------------


def load(tickets: int, *, seed: int = 12) -> dict[str, Any]:
    """Make `tickets` tickets through create_ticket; mark their creation emails sent."""
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from notifications.models import DeliveryStatus, Notification
    from tickets.services import create_ticket

    owners = [
        User.objects.create_user(username=f"owner{n}", email=f"owner{n}@example.com")
        for n in range(OWNERS)
    ]
    rng = random.Random(seed)
    started = time.perf_counter()
    chunk = 500
    for first in range(0, tickets, chunk):
        with transaction.atomic():
            for n in range(first, min(tickets, first + chunk)):
                offset = (rng.random() * 2 - 1) * SPREAD.total_seconds()
                create_ticket(
                    owner=owners[n % OWNERS],
                    now=CREATED_AT,
                    title=f"Printer {n} jams on double-sided pages",
                    description="It started after the firmware update last week.",
                    deadline=CHECK_NOW + timedelta(seconds=offset),
                    status="closed" if n % 10 == 9 else "open",
                    priority=("low", "normal", "high", "urgent")[n % 4],
                )
        if first and first % 20_000 == 0:
            rate = first / (time.perf_counter() - started)
            print(f"  {first:,} tickets, {rate:.0f}/s", flush=True)
    seconds = time.perf_counter() - started
    # Delivered when the tickets were made, three days before the check.
    Notification.objects.filter(status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENT,
        sent_at=CREATED_AT,
        recipient="owner@example.com",
        next_attempt_at=None,
        attempts=1,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute(
            "CREATE TABLE bench_backlog_meta (tickets integer, version integer, seconds float)"
        )
        cursor.execute(
            "INSERT INTO bench_backlog_meta VALUES (%s, %s, %s)", [tickets, DATA_VERSION, seconds]
        )
    return {"tickets": tickets, "load_seconds": seconds}


# --- measuring -----------------------------------------------------------------------------


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


@dataclass
class Batch:
    sent: int
    seconds: float
    cpu: float  # this process
    backend_cpu: float
    smtp_cpu: float
    statements: int


@dataclass
class Counter:
    statements: int = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements += 1
        return execute(sql, params, many, context)


class Explainer:
    """Explains every distinct statement before running it (inside a savepoint)."""

    def __init__(self) -> None:
        self.plans: list[dict[str, Any]] = []
        self.seen: set[str] = set()

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        head = sql.lstrip().split(" ", 1)[0].upper()
        if not many and head in {"SELECT", "UPDATE", "INSERT", "DELETE"} and sql not in self.seen:
            self.seen.add(sql)
            raw = context["cursor"].cursor
            raw.execute("SAVEPOINT bench_explain")
            raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            text = "\n".join(row[0] for row in raw.fetchall())
            raw.execute("ROLLBACK TO SAVEPOINT bench_explain")
            self.plans.append({"sql": sql, "plan": text, **plan_summary(text)})
        return execute(sql, params, many, context)


def plan_summary(text: str) -> dict[str, Any]:
    buffers = re.search(r"Buffers: shared hit=(\d+)(?: read=(\d+))?", text)
    executed = re.search(r"Execution Time: ([\d.]+) ms", text)
    return {
        "buffers": int(buffers[1]) + int(buffers[2] or 0) if buffers else 0,
        "ms": float(executed[1]) if executed else 0.0,
    }


class _Rollback(Exception):
    pass


def explain_one_batch(now: datetime, limit: int, claim: Any, send_batch: Any) -> dict[str, Any]:
    """One claim and one batch sent to nowhere, explained, then rolled back."""
    from django.db import connection, transaction

    from notifications.transports.email import EmailTransport
    from tickets.engine import stamp_warnings_sent

    class Accepting(EmailTransport):
        def open(self) -> None:
            pass

        def send(self, message: Any, *, recipient: str) -> None:
            pass

    explainer = Explainer()
    try:
        with transaction.atomic(), connection.execute_wrapper(explainer):
            claimed = claim(now=now, limit=limit)
            send_batch(claimed, transport=Accepting, on_sent=stamp_warnings_sent)
            raise _Rollback
    except _Rollback:
        pass
    return {"plans": explainer.plans}


class Autovacuum(threading.Thread):
    """What the autovacuum daemon would do with its default thresholds, every `naptime`."""

    TABLES = ("notifications_notification", "tickets_ticket")

    def __init__(self, database: str, naptime: float) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.naptime = naptime
        self.stopping = threading.Event()
        self.runs: list[str] = []

    def run(self) -> None:
        import psycopg

        with psycopg.connect(server_url(self.database), autocommit=True) as connection:
            while not self.stopping.wait(self.naptime):
                for table in self.TABLES:
                    row = connection.execute(
                        "SELECT n_dead_tup, n_ins_since_vacuum, n_mod_since_analyze, "
                        "c.reltuples FROM pg_stat_user_tables s JOIN pg_class c "
                        "ON c.oid = s.relid WHERE s.relname = %s",
                        [table],
                    ).fetchone()
                    if row is None:
                        continue
                    dead, inserted, modified, tuples = row
                    tuples = max(0.0, tuples)
                    vacuum = dead > 50 + 0.2 * tuples or inserted > 1000 + 0.2 * tuples
                    analyze = modified > 50 + 0.1 * tuples
                    if vacuum or analyze:
                        verb = (
                            "VACUUM ANALYZE"
                            if vacuum and analyze
                            else ("VACUUM" if vacuum else "ANALYZE")
                        )
                        started = time.perf_counter()
                        connection.execute(f"{verb} {table}")
                        self.runs.append(f"{verb} {table} ({time.perf_counter() - started:.2f} s)")


@contextmanager
def per_batch(
    *, smtp_pid: int | None, backend: int, total: int, now: datetime, explain: bool
) -> Iterator[tuple[list[Batch], dict[str, Any]]]:
    """Wrap notifications.delivery's claim and send_batch to time each batch."""
    from django.db import connection

    from notifications import delivery

    batches: list[Batch] = []
    snapshots: dict[str, Any] = {}
    real_claim, real_send = delivery.claim, delivery.send_batch
    state: dict[str, Any] = {"sent": 0}

    def claim(
        *,
        now: datetime,
        limit: int,
        ticket_ids: list[int] | None = None,
        endpoints_only: bool = False,
    ) -> Any:
        if explain:
            for name, share in SNAPSHOTS.items():
                if name not in snapshots and state["sent"] >= share * total:
                    snapshots[name] = {
                        "after_emails": state["sent"],
                        **explain_one_batch(now, limit, real_claim, real_send),
                    }
        counter = Counter()
        state["counter"] = counter
        state["started"] = (
            time.perf_counter(),
            time.process_time(),
            cpu_seconds(backend),
            cpu_seconds(smtp_pid),
        )
        with connection.execute_wrapper(counter):
            return real_claim(
                now=now, limit=limit, ticket_ids=ticket_ids, endpoints_only=endpoints_only
            )

    def send_batch(claimed: Any, **kwargs: Any) -> Any:
        counter = state["counter"]
        with connection.execute_wrapper(counter):
            report = real_send(claimed, **kwargs)
        wall, cpu, backend_cpu, smtp_cpu = state["started"]
        batches.append(
            Batch(
                sent=report.sent,
                seconds=time.perf_counter() - wall,
                cpu=time.process_time() - cpu,
                backend_cpu=cpu_seconds(backend) - backend_cpu,
                smtp_cpu=cpu_seconds(smtp_pid) - smtp_cpu,
                statements=counter.statements,
            )
        )
        state["sent"] += report.sent
        return report

    delivery.claim, delivery.send_batch = claim, send_batch
    try:
        yield batches, snapshots
    finally:
        delivery.claim, delivery.send_batch = real_claim, real_send


def windows(batches: list[Batch]) -> dict[str, dict[str, float]]:
    """Per-email costs over the first, middle and last tenth of the drain.

    The last batch is left out when it is partial: its per-batch costs (the claim, the
    latency record) spread over fewer emails would inflate "end" for a reason that has
    nothing to do with the backlog.
    """
    if len(batches) > 1 and batches[-1].sent < batches[0].sent:
        batches = batches[:-1]
    total = sum(b.sent for b in batches)
    out: dict[str, dict[str, float]] = {}
    for name, (low, high) in WINDOWS.items():
        chosen: list[Batch] = []
        done = 0
        for batch in batches:
            if low * total <= done < high * total or (high == 1.0 and done >= low * total):
                chosen.append(batch)
            done += batch.sent
        sent = sum(b.sent for b in chosen) or 1
        out[name] = {
            "emails": sum(b.sent for b in chosen),
            "ms_per_email": 1000 * sum(b.seconds for b in chosen) / sent,
            "cpu_ms_per_email": 1000 * sum(b.cpu for b in chosen) / sent,
            "backend_cpu_ms_per_email": 1000 * sum(b.backend_cpu for b in chosen) / sent,
            "smtp_cpu_ms_per_email": 1000 * sum(b.smtp_cpu for b in chosen) / sent,
            "statements_per_email": sum(b.statements for b in chosen) / sent,
        }
    return out


def drain(
    *, database: str, autovacuum: str, naptime: float, explain: bool, budget: float | None
) -> dict[str, Any]:
    from django.db import connection

    from notifications.models import DeliveryStatus, Notification
    from tickets import checker

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
        cursor.execute("SELECT tickets FROM bench_backlog_meta")
        tickets = cursor.fetchone()[0]
    vacuumer = Autovacuum(database, naptime) if autovacuum == "emulate" else None
    with SmtpSink() as sink:
        os.environ["EMAIL_PORT"] = str(sink.port)
        from django.conf import settings

        settings.EMAIL_PORT = sink.port
        load_before = loadavg()
        if vacuumer:
            vacuumer.start()
        started = time.perf_counter()
        cpu0, backend0, smtp0 = time.process_time(), cpu_seconds(backend), cpu_seconds(sink.pid)
        changes = checker.run_state_changes(now=CHECK_NOW)
        transitions_seconds = time.perf_counter() - started
        due = Notification.objects.filter(status=DeliveryStatus.PENDING).count()
        with per_batch(
            smtp_pid=sink.pid, backend=backend, total=due, now=CHECK_NOW, explain=explain
        ) as (batches, snapshots):
            delivery_started = time.perf_counter()
            report = checker.deliver_due(now=CHECK_NOW, max_batches=10**6, time_budget=budget)
            delivery_wall = time.perf_counter() - delivery_started
        total = time.perf_counter() - started
        cpu = {
            "process": time.process_time() - cpu0,
            "backend": cpu_seconds(backend) - backend0,
            "smtp": cpu_seconds(sink.pid) - smtp0,
        }
        if vacuumer:
            vacuumer.stopping.set()
            vacuumer.join()
        received = sink.received
    explained = sum(1 for _ in snapshots)  # snapshots run inside the timed drain
    marked = Notification.objects.filter(status=DeliveryStatus.SENT, sent_at__gt=CHECK_NOW).count()
    per_window = windows(batches)
    flat = per_window["end"]["ms_per_email"] / per_window["start"]["ms_per_email"]
    delivery_seconds = sum(b.seconds for b in batches)
    return {
        "tickets": tickets,
        "autovacuum": autovacuum,
        "state_changes": changes,
        "emails": report.sent,
        "due": due,
        "received_by_smtp": received,
        "marked_sent": marked,
        "transitions_seconds": transitions_seconds,
        "delivery_seconds": delivery_seconds,
        "delivery_wall_with_snapshots": delivery_wall,
        # End to end without the explained batches (those are rolled back, not emails).
        "seconds": transitions_seconds + delivery_seconds,
        "seconds_with_snapshots": total,
        "emails_per_second": report.sent / (transitions_seconds + delivery_seconds),
        "delivery_emails_per_second": report.sent / delivery_seconds,
        "ms_per_email": 1000 * (transitions_seconds + delivery_seconds) / max(1, report.sent),
        "cpu_seconds": cpu,
        "windows": per_window,
        "end_over_start": flat,
        "snapshots": snapshots,
        "snapshot_count": explained,
        "autovacuum_runs": vacuumer.runs if vacuumer else [],
        "batches": [asdict(b) for b in batches],
        "load_before": load_before,
        "load_after": loadavg(),
    }


# --- output --------------------------------------------------------------------------------


def render(result: dict[str, Any]) -> str:
    lines = [
        f"{result['label']}: {result['tickets']:,} tickets, autovacuum {result['autovacuum']}, "
        f"commit {result['commit']}, load {result['load_before']} -> {result['load_after']}",
        f"  {result['state_changes']:,} state changes in {result['transitions_seconds']:.1f} s; "
        f"{result['emails']:,} of {result['due']:,} emails "
        f"(SMTP server received {result['received_by_smtp']:,}, "
        f"marked sent {result['marked_sent']:,}) in {result['delivery_seconds']:.1f} s",
        f"  end to end {result['seconds']:.1f} s: {result['emails_per_second']:.0f} emails/s, "
        f"{result['ms_per_email']:.2f} ms per email (delivery alone "
        f"{result['delivery_emails_per_second']:.0f}/s); CPU: process "
        f"{result['cpu_seconds']['process']:.1f} s, PostgreSQL backend "
        f"{result['cpu_seconds']['backend']:.1f} s, "
        f"SMTP server {result['cpu_seconds']['smtp']:.1f} s",
        "  per email        wall ms   process CPU   backend CPU   SMTP CPU   statements",
    ]
    for name, w in result["windows"].items():
        lines.append(
            f"  {name:<8} {w['emails']:>7,.0f} {w['ms_per_email']:>8.2f} "
            f"{w['cpu_ms_per_email']:>12.2f} {w['backend_cpu_ms_per_email']:>13.2f} "
            f"{w['smtp_cpu_ms_per_email']:>10.2f} {w['statements_per_email']:>12.2f}"
        )
    lines.append(f"  end / start per-email wall: {result['end_over_start']:.2f}")
    for name, snapshot in result["snapshots"].items():
        lines.append(f"  EXPLAIN at {name} (after {snapshot['after_emails']:,} emails):")
        for plan in snapshot["plans"]:
            sql = " ".join(plan["sql"].split())
            lines.append(f"    {plan['ms']:>8.3f} ms {plan['buffers']:>7} buffers  {sql[:110]}")
    if result["autovacuum_runs"]:
        lines.append("  autovacuum (emulated): " + "; ".join(result["autovacuum_runs"]))
    return "\n".join(lines)


def smtp_floor(messages: int) -> dict[str, Any]:
    """Bare smtplib to the same sink over one connection, one prebuilt message: the most
    one sender could reach on this machine right now, whatever the application does."""
    import smtplib

    body = b"Subject: floor\r\nMessage-ID: <floor@bench>\r\n\r\n" + (b"x" * 75 + b"\r\n") * 20
    with SmtpSink() as sink:
        load = loadavg()
        smtp = smtplib.SMTP(sink.host, sink.port)
        started = time.perf_counter()
        for _ in range(messages):
            smtp.sendmail("watchdog@localhost", ["owner@example.com"], body)
        seconds = time.perf_counter() - started
        smtp.quit()
        received = sink.received
    return {"messages": received, "per_second": messages / seconds, "load": load}


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument(
        "--pg-database", default="sla_bench_backlog", help="prefix of every database it uses"
    )
    parser.add_argument("--autovacuum", choices=("off", "emulate"), default="off")
    parser.add_argument("--naptime", type=float, default=60.0, help="emulated autovacuum_naptime")
    parser.add_argument("--no-explain", action="store_true", help="skip the explained batches")
    parser.add_argument("--rebuild", action="store_true", help="build the template again")
    parser.add_argument("--label", default="")
    parser.add_argument("--plans", action="store_true", help="print the full plans")
    parser.add_argument("--keep", action="store_true", help="keep the drained copy")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=None,
        help="stop delivering after this many seconds: the windows then cover what was sent",
    )
    parser.add_argument(
        "--smtp-floor", type=int, default=0, help="only measure bare smtplib: this many messages"
    )
    args = parser.parse_args()
    if args.smtp_floor:
        floor = smtp_floor(args.smtp_floor)
        print(
            f"bare smtplib, one connection: {floor['messages']:,} messages, "
            f"{floor['per_second']:.0f}/s (load {floor['load']})"
        )
        return

    prefix = args.pg_database
    template = f"{prefix}_tmpl_{args.tickets}"
    run = f"{prefix}_run_{args.tickets}_{os.getpid()}"
    source = urllib.parse.urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/")
    if source in {template, run}:
        raise SystemExit("--pg-database must not name DATABASE_URL's own database")
    if args.rebuild or not exists(template):
        print(f"building {template} ({args.tickets:,} tickets through create_ticket) ...")
        drop(template)
        admin(f'CREATE DATABASE "{template}"')
        # A child process: the template must have no connection left when it is copied.
        code = subprocess.call(  # noqa: S603 -- this script, by its own path
            [sys.executable, __file__, "--build-into", template, "--tickets", str(args.tickets)]
        )
        if code:
            raise SystemExit(code)
    clone(template, run)
    configure(database=run, smtp_port=25)
    setup_django(run)
    migrate()
    result = drain(
        database=run,
        autovacuum=args.autovacuum,
        naptime=args.naptime,
        explain=not args.no_explain,
        budget=args.time_budget,
    )
    result["label"] = args.label or str(ROOT.name)
    result["commit"] = commit()
    print(render(result))
    if args.plans:
        for name, snapshot in result["snapshots"].items():
            for plan in snapshot["plans"]:
                print(f"--- {name}: {' '.join(plan['sql'].split())[:200]}\n{plan['plan']}")
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"backlog-{args.tickets}-{args.autovacuum}-{stamp}.json"
    path.write_text(json.dumps(result, indent=1, default=str))
    print(f"  raw: {path.relative_to(ROOT)}")
    from django.db import connections

    connections.close_all()
    if not args.keep:
        drop(run)


def build_main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-into", required=True)
    parser.add_argument("--tickets", type=int, required=True)
    args = parser.parse_args()
    configure(database=args.build_into, smtp_port=25)
    setup_django(args.build_into)
    migrate()
    info = load(args.tickets)
    print(f"  loaded {info['tickets']:,} tickets in {info['load_seconds']:.0f} s")


def entry() -> Callable[[], None]:
    return build_main if "--build-into" in sys.argv else main


if __name__ == "__main__":
    entry()()
