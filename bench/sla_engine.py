"""SLA engine benchmark: idle check, state changes, delivery, checker memory, spec loop.

    .venv/bin/python bench/sla_engine.py --tickets 1000000 --due-fraction 0.01
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/watchdog .venv/bin/python bench/sla_engine.py
    .venv/bin/python bench/sla_engine.py --quick          # smoke test, well under a minute

DATABASE_URL picks the database *server*; the benchmark only ever uses its own database
on it (bench/dataset.py). See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import dataset  # noqa: E402
from bench.smtp_sink import SmtpSink  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
DEFAULT_NOW = "2026-03-10T12:00:00+00:00"

# The targets.
IDLE_TARGET_S = 0.050
TRANSITIONS_TARGET = (10_000, 2.0)  # state changes, seconds (PostgreSQL)
DELIVERY_TARGET_PER_S = 400.0

NOISE_NOTE = (
    "Timings are wall-clock on a shared 2-core machine where other test suites may be "
    "running: expect noise; compare medians, and rerun with --reuse to confirm."
)


# --- small helpers ------------------------------------------------------------------------


@dataclass
class Samples:
    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "min": min(self.values),
            "max": max(self.values),
            "n": len(self.values),
            "values": self.values,
        }


class QueryLog:
    """A Django execute wrapper that counts statements and optionally keeps them."""

    def __init__(self, *, keep: bool = False) -> None:
        self.count = 0
        self.keep = keep
        self.statements: list[tuple[str, Any]] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        if self.keep:
            self.statements.append((sql, params))
        return execute(sql, params, many, context)


@contextmanager
def logged_queries(*, keep: bool = False) -> Iterator[QueryLog]:
    from django.db import connection

    log = QueryLog(keep=keep)
    with connection.execute_wrapper(log):
        yield log


def timed(call: Callable[[], Any]) -> tuple[float, Any, int]:
    """Seconds, result and number of SQL statements of one call."""
    with logged_queries() as log:
        started = time.perf_counter()
        result = call()
        elapsed = time.perf_counter() - started
    return elapsed, result, log.count


def cpu_seconds(pid: int | None) -> float:
    """User plus system CPU time of a process on this machine (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time spent by this process, its database server process and the SMTP server.

    Next to wall-clock time this separates work from waiting (disk flushes, and other
    programs on a shared machine taking the CPU).
    """

    def __init__(self, sink: SmtpSink | None = None) -> None:
        from django.db import connection

        connection.ensure_connection()
        self.pids: dict[str, int | None] = {"benchmark process": os.getpid()}
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pids["PostgreSQL backend"] = cursor.fetchone()[0]
        if sink is not None:
            self.pids["SMTP server"] = sink.pid
        self._start: dict[str, float] = {}

    def start(self) -> None:
        self._start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) - self._start[name] for name, pid in self.pids.items()}


def current_rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """The peak resident set size while it runs, sampled from a thread every few ms.

    ru_maxrss alone cannot isolate one call: it keeps the peak of the whole process life.
    """

    def __init__(self, interval_s: float = 0.005) -> None:
        import threading

        self.interval_s = interval_s
        self.peak = current_rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak = max(self.peak, current_rss())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss())


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


def spread(samples: dict[str, Any], fmt: Callable[[float], str]) -> str:
    return (
        f"{fmt(samples['median'])} [{fmt(samples['min'])} - {fmt(samples['max'])}], "
        f"n={samples['n']}"
    )


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# --- environment --------------------------------------------------------------------------


def configure(*, pg_database: str, smtp_port: int) -> str:
    """Point Django at the benchmark database and the SMTP sink; returns the database URL.

    Must run before django.setup(). DEBUG is off, as in production: with DEBUG on,
    Django keeps the last 9,000 SQL statements per connection.
    """
    from dotenv import load_dotenv

    load_dotenv(ROOT / ".env", override=False)
    source = os.environ.get("DATABASE_URL") or "sqlite://"
    url = dataset.bench_database_url(source, pg_name=pg_database)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "watchdog.settings",
            "DATABASE_URL": url,
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
            "LOG_LEVEL": "WARNING",
        }
    )
    return url


def setup_django() -> str:
    """django.setup() and a check that the connection really is the benchmark's database."""
    import django

    django.setup()
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    allowed = {str(dataset.SQLITE_PATH)} | {os.environ.get("BENCH_PG_DATABASE", "")}
    if name not in allowed:
        raise SystemExit(f"refusing to run against database {name!r}: not the benchmark's")
    return connection.vendor


def database_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"


# --- what is measured ---------------------------------------------------------------------


@dataclass
class SpecLoopRun:
    """The original spec's loop, instrumented: every ticket's cost, split by due or not."""

    load_s: float = 0.0  # until the first ticket: the queryset loads every row first
    elapsed_s: float = 0.0
    due_n: int = 0
    due_s: float = 0.0
    other_n: int = 0
    other_s: float = 0.0
    completed: bool = False
    budget_s: float | None = None

    @property
    def processed(self) -> int:
        return self.due_n + self.other_n

    def estimate_s(self, *, total: int, due: int) -> float:
        """Load time plus each kind's mean cost times how many of that kind the table has."""
        if self.completed:
            return self.elapsed_s
        mean_other = self.other_s / self.other_n if self.other_n else 0.0
        mean_due = self.due_s / self.due_n if self.due_n else mean_other
        return self.load_s + (total - due) * mean_other + due * mean_due

    def as_dict(self) -> dict[str, Any]:
        return {
            "load_s": self.load_s,
            "elapsed_s": self.elapsed_s,
            "processed": self.processed,
            "due_processed": self.due_n,
            "due_seconds": self.due_s,
            "other_processed": self.other_n,
            "other_seconds": self.other_s,
            "mean_due_ticket_s": self.due_s / self.due_n if self.due_n else None,
            "mean_other_ticket_s": self.other_s / self.other_n if self.other_n else None,
            "completed": self.completed,
            "budget_s": self.budget_s,
        }


def spec_loop(*, now: datetime, budget_s: float | None) -> SpecLoopRun:
    """`for ticket in Ticket.objects.all(): ticket.check_and_notify_sla()`, at `now`.

    The loop reads the clock itself, so the clock is frozen at the benchmark's `now`
    (time-machine) to give it exactly the data the engine's own check gets. The budget
    counts from the first ticket; loading the queryset is timed on its own.
    """
    import time_machine

    from tickets.models import Ticket

    run = SpecLoopRun(budget_s=budget_s)
    started = time.perf_counter()
    first: float | None = None
    with time_machine.travel(now, tick=False):
        for ticket in Ticket.objects.all():
            if first is None:
                first = time.perf_counter()
                run.load_s = first - started
            was_due = ticket.next_check_at is not None and ticket.next_check_at <= now
            t0 = time.perf_counter()
            ticket.check_and_notify_sla()
            cost = time.perf_counter() - t0
            if was_due:
                run.due_n += 1
                run.due_s += cost
            else:
                run.other_n += 1
                run.other_s += cost
            if budget_s is not None and time.perf_counter() - first > budget_s:
                break
        else:
            run.completed = True
    run.elapsed_s = time.perf_counter() - started
    return run


def explain(*, now: datetime, label: str) -> list[dict[str, Any]]:
    """EXPLAIN the due-tickets and claim queries exactly as the engine sends them.

    The statements are captured from plan_transitions() and claim() inside a transaction
    that is rolled back; PostgreSQL gets EXPLAIN ANALYZE, SQLite EXPLAIN QUERY PLAN.
    """
    from django.conf import settings
    from django.db import connection, transaction

    from notifications.delivery import claim
    from notifications.models import Notification
    from tickets.engine import plan_transitions
    from tickets.models import Ticket

    def partial_indexes(model: Any) -> list[str]:
        return [i.name for i in model._meta.indexes if i.condition is not None]

    queries: list[tuple[str, str, Callable[[], Any]]] = [
        (
            "due tickets: plan_transitions (run_transitions' read)",
            "ticket_due_idx",
            lambda: plan_transitions(now=now, limit=1000, lock=True),
        ),
        (
            "pending notifications: claim (deliver_due's read)",
            "notification_first_attempt_idx",
            lambda: claim(now=now, limit=settings.SLA_DELIVERY_BATCH_SIZE),
        ),
    ]
    results = []
    tables = [partial_indexes(Ticket), partial_indexes(Notification)]
    for (name, index, call), partial in zip(queries, tables, strict=True):
        with transaction.atomic(), logged_queries(keep=True) as log:
            call()
            transaction.set_rollback(True)
        sql, params = next((s, p) for s, p in log.statements if s.lstrip().startswith("SELECT"))
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                lines = [row[0] for row in cursor.fetchall()]
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
                depth: dict[int, int] = {0: -1}
                lines = []
                for node, parent, _, detail in cursor.fetchall():
                    depth[node] = depth.get(parent, -1) + 1
                    lines.append("  " * depth[node] + detail)
            transaction.set_rollback(True)
        results.append(
            {
                "state": label,
                "query": name,
                "sql": sql,
                "index": index,
                "partial_indexes": partial,
                "plan": lines,
            }
        )
    return results


def measure_idle(*, now: datetime, reps: int) -> dict[str, Any]:
    """run_check(now) with nothing due, `reps` times; also next_due_at (the loop's sleep)."""
    from tickets.checker import next_due_at, run_check

    samples, queries = Samples(), 0
    for _ in range(reps):
        elapsed, report, queries = timed(lambda: run_check(now=now))
        assert report.state_changes == 0, report.summary()
        assert report.delivery.sent == 0, report.summary()
        samples.add(elapsed)
    next_due = Samples()
    for _ in range(reps):
        elapsed, _, _ = timed(next_due_at)
        next_due.add(elapsed)
    return {
        "check_sla": samples.as_dict(),
        "first_s": samples.values[0],
        "queries": queries,
        "next_due_at": next_due.as_dict(),
    }


def measure_transitions(ds: dataset.Dataset, *, now: datetime, reps: int) -> dict[str, Any]:
    """run_transitions(now) over exactly the due tickets, from the same state each time."""
    from tickets.engine import run_transitions

    samples, queries = Samples(), 0
    cpu: dict[str, Samples] = {}
    meter = CpuMeter()
    for rep in range(reps):
        if rep:
            ds.reset()
            ds.analyze()
        meter.start()
        elapsed, changed, queries = timed(lambda: run_transitions(now=now))
        used = meter.stop()
        assert changed == ds.due_count(), f"{changed} state changes, expected {ds.due_count()}"
        samples.add(elapsed)
        for name, value in used.items():
            cpu.setdefault(name, Samples()).add(value)
        say(
            f"  run_transitions: {changed:,} state changes in {elapsed:.3f} s (CPU: "
            + ", ".join(f"{name} {v:.2f} s" for name, v in used.items())
            + ")"
        )
    return {
        "seconds": samples.as_dict(),
        "changes": ds.due_count(),
        "queries": queries,
        "cpu_s": {name: v.as_dict() for name, v in cpu.items()},
    }


def measure_delivery(
    ds: dataset.Dataset, sink: SmtpSink, *, now: datetime, reps: int, emails: int
) -> dict[str, Any]:
    """deliver_due(now) for `emails` queued warnings, to the SMTP sink; emails per second."""
    from tickets.checker import deliver_due

    rates, seconds, queries = Samples(), Samples(), 0
    cpu: dict[str, Samples] = {}
    meter = CpuMeter(sink)
    for _ in range(reps):
        ticket_ids = ds.add_pending_warnings(emails)
        received = sink.received
        meter.start()
        elapsed, report, queries = timed(lambda: deliver_due(now=now))
        used = meter.stop()
        accepted = sink.received - received
        assert report.sent == len(ticket_ids) == accepted, (report, len(ticket_ids), accepted)
        ds.remove_warnings(ticket_ids)
        seconds.add(elapsed)
        rates.add(accepted / elapsed)
        for name, value in used.items():
            cpu.setdefault(name, Samples()).add(value / accepted)
        say(
            f"  deliver_due: {accepted:,} emails accepted by the SMTP server in {elapsed:.2f} s"
            f" ({accepted / elapsed:.0f}/s; CPU per email: "
            + ", ".join(f"{name} {ms(v / accepted)}" for name, v in used.items())
            + ")"
        )
    return {
        "emails": len(ticket_ids),
        "emails_per_s": rates.as_dict(),
        "seconds": seconds.as_dict(),
        "queries": queries,
        "cpu_per_email_s": {name: v.as_dict() for name, v in cpu.items()},
    }


def measure_parallel_delivery(
    ds: dataset.Dataset, sink: SmtpSink, *, reps: int, emails: int, senders: int
) -> dict[str, Any]:
    """`senders` processes run deliver_due(now) at once, sharing the queue through claims."""
    rates = Samples()
    for _ in range(reps):
        ticket_ids = ds.add_pending_warnings(emails)
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", "deliver"]
        processes = [
            subprocess.Popen(  # noqa: S603 (our own interpreter and script)
                [*command, "--now", ds.spec.now],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for _ in range(senders)
        ]
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        received = sink.received
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        reports = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in processes]
        accepted = sink.received - received
        sent = sum(r["sent"] for r in reports)
        assert sent == accepted == len(ticket_ids), (sent, accepted, len(ticket_ids))
        span = max(r["ended_at"] for r in reports) - min(r["started_at"] for r in reports)
        ds.remove_warnings(ticket_ids)
        rates.add(accepted / span)
        say(
            f"  {senders} senders: {accepted:,} emails in {span:.2f} s ({accepted / span:.0f}/s;"
            f" per sender {', '.join(str(r['sent']) for r in reports)})"
        )
    return {"senders": senders, "emails": len(ticket_ids), "emails_per_s": rates.as_dict()}


def measure_full_check(ds: dataset.Dataset, sink: SmtpSink, *, now: datetime) -> dict[str, Any]:
    """One run_check(now) with the due tickets waiting: state changes plus their emails."""
    from tickets.checker import run_check

    received = sink.received
    elapsed, report, queries = timed(lambda: run_check(now=now))
    accepted = sink.received - received
    assert report.state_changes == ds.due_count(), report.summary()
    assert report.delivery.sent == accepted == ds.due_count(), (report.summary(), accepted)
    return {
        "seconds": elapsed,
        "state_changes": report.state_changes,
        "emails": accepted,
        "queries": queries,
    }


def measure_spec_loop(
    ds: dataset.Dataset, sink: SmtpSink, *, now: datetime, budget_s: float | None
) -> dict[str, Any]:
    received = sink.received
    gc.collect()
    rss_before = current_rss()
    with RssSampler() as sampler:
        run = spec_loop(now=now, budget_s=budget_s)
    result = run.as_dict()
    result["emails"] = sink.received - received
    result["rss_growth_bytes"] = sampler.peak - rss_before
    result["estimate_s"] = run.estimate_s(total=ds.size, due=ds.due_count())
    result["estimate_idle_s"] = (
        run.load_s + ds.size * (run.other_s / run.other_n) if run.other_n else None
    )
    if run.completed:
        assert result["emails"] == run.due_n, (result["emails"], run.due_n)
    return result


# --- memory, one subprocess per measurement -----------------------------------------------


def worker(kind: str, *, now: datetime, budget_s: float) -> dict[str, Any]:
    """Runs in a fresh interpreter so that every size starts from the same baseline."""
    from django.template.loader import get_template

    from notifications.models import Notification
    from tickets.checker import run_check
    from tickets.models import Ticket

    # Warm up what any check loads once (connection, templates, mail modules).
    Ticket.objects.exists()
    Notification.objects.exists()
    for name in ("notifications/email.txt", "notifications/email.html"):
        get_template(name)
    import smtplib  # noqa: F401

    from django.core.mail.backends import smtp  # noqa: F401

    if kind == "deliver":
        from tickets.checker import deliver_due

        print("ready", flush=True)
        sys.stdin.readline()
        started_at = time.time()
        sent = deliver_due(now=now).sent
        return {"kind": kind, "sent": sent, "started_at": started_at, "ended_at": time.time()}

    gc.collect()
    base_rss = current_rss()
    result: dict[str, Any] = {"kind": kind, "base_rss": base_rss}
    with RssSampler() as sampler:
        if kind == "spec":
            run = spec_loop(now=now, budget_s=budget_s)
            result.update(run.as_dict())
        else:
            if kind == "tracemalloc":
                import tracemalloc

                tracemalloc.start()
            started = time.perf_counter()
            report = run_check(now=now)
            result["seconds"] = time.perf_counter() - started
            if kind == "tracemalloc":
                result["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            result["state_changes"] = report.state_changes
            result["emails"] = report.delivery.sent
    result["peak_rss"] = sampler.peak
    result["rss_growth"] = sampler.peak - base_rss
    return result


def run_worker(kind: str, *, now: str, budget_s: float) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        kind,
        "--now",
        now,
        "--spec-budget",
        str(budget_s),
    ]
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        command, capture_output=True, text=True, check=False, cwd=ROOT
    )
    if done.returncode:
        raise RuntimeError(f"worker {kind} failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure_memory(ds: dataset.Dataset, *, spec_budget_s: float) -> dict[str, Any]:
    """The checker's (and the spec loop's) peak memory at the current table size."""
    out: dict[str, Any] = {"tickets": ds.size, "due": ds.due_count()}
    for kind in ("rss", "tracemalloc", "spec"):
        ds.reset()
        out[kind] = run_worker(kind, now=ds.spec.now, budget_s=spec_budget_s)
        if kind != "spec":
            assert out[kind]["state_changes"] == ds.due_count(), out[kind]
            assert out[kind]["emails"] == ds.due_count(), out[kind]
    ds.reset()
    say(
        f"  memory at {ds.size:,} tickets: checker RSS +{mib(out['rss']['rss_growth'])}, "
        f"tracemalloc peak {mib(out['tracemalloc']['tracemalloc_peak'])}; "
        f"spec loop RSS +{mib(out['spec']['rss_growth'])}"
    )
    return out


# --- the run ------------------------------------------------------------------------------


def compare_small(ds: dataset.Dataset, sink: SmtpSink, args: argparse.Namespace) -> dict[str, Any]:
    """On a table small enough, run both the check and the spec loop to completion."""
    now = ds.now
    out: dict[str, Any] = {"tickets": ds.size, "due": ds.due_count()}
    checks = Samples()
    for rep in range(args.reps):
        ds.reset()
        ds.analyze()
        checks.add(measure_full_check(ds, sink, now=now)["seconds"])
        if rep == 0:
            out["idle"] = measure_idle(now=now, reps=args.idle_reps)
    out["full_check_s"] = checks.as_dict()
    ds.reset()
    ds.analyze()
    say(f"  spec loop over all {ds.size:,} tickets, {ds.due_count():,} due ...")
    out["spec_loop"] = measure_spec_loop(ds, sink, now=now, budget_s=None)
    assert ds.count_due_now() == 0
    say(f"  spec loop over all {ds.size:,} tickets again, nothing due ...")
    out["spec_loop_idle"] = measure_spec_loop(ds, sink, now=now, budget_s=None)
    ds.reset()
    say(
        f"  {ds.size:,} tickets: check {checks.median:.2f} s vs spec loop "
        f"{out['spec_loop']['elapsed_s']:.1f} s; idle check "
        f"{ms(out['idle']['check_sla']['median'])} vs spec loop "
        f"{out['spec_loop_idle']['elapsed_s']:.1f} s"
    )
    return out


def run(args: argparse.Namespace, sink: SmtpSink) -> dict[str, Any]:
    from django.conf import settings

    now = datetime.fromisoformat(args.now)
    period = round(1 / args.due_fraction)
    spec = dataset.Spec(
        tickets=args.tickets,
        period=period,
        now=now.isoformat(),
        warning_minutes=settings.SLA_WARNING_MINUTES,
    )
    from django.db import connection

    ds = dataset.Dataset(spec, connection.vendor)
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "database": database_version(),
        "vendor": connection.vendor,
        "database_name": str(connection.settings_dict["NAME"]),
        "command": " ".join([sys.executable, *sys.argv]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_start": os.getloadavg(),
        },
        "settings": {
            "SLA_WARNING_MINUTES": settings.SLA_WARNING_MINUTES,
            "SLA_DELIVERY_BATCH_SIZE": settings.SLA_DELIVERY_BATCH_SIZE,
            "DEBUG": settings.DEBUG,
        },
        "spec": {
            "tickets": args.tickets,
            "due_fraction": 1 / period,
            "due": args.tickets // period,
            "now": now.isoformat(),
        },
        "note": NOISE_NOTE,
    }
    reused = ds.prepare(reuse=args.reuse)
    result["reused_table"] = reused
    if reused:
        ds.reset()  # a run stopped halfway leaves the due tickets moved on
    skip = set(args.skip)
    ladder = sorted(
        {s for s in args.memory_sizes if s < args.tickets and "memory" not in skip}
        | ({args.small_tickets} if args.small_tickets <= args.tickets else set())
        | {args.tickets}
    )
    if reused:
        ladder = [args.tickets]
    result["memory"] = []
    for size in ladder:
        if size > ds.size:
            say(f"loading {size:,} tickets ...")
            started = time.perf_counter()
            ds.grow_to(size)
            say(f"  loaded in {time.perf_counter() - started:.1f} s")
        assert ds.count_due_now() == ds.due_count(), (ds.count_due_now(), ds.due_count())
        if size == args.small_tickets and "small" not in skip:
            say(f"spec loop vs check, both complete, on {size:,} tickets")
            result["small"] = compare_small(ds, sink, args)
        if "memory" not in skip and (size in args.memory_sizes or size == args.tickets):
            say(f"memory at {size:,} tickets (one fresh process per measurement)")
            result["memory"].append(measure_memory(ds, spec_budget_s=args.memory_spec_budget))
    main_measurements(ds, sink, args, result)
    result["machine"]["load_average_end"] = os.getloadavg()
    result["finished_at"] = datetime.now(UTC).isoformat()
    return result


def roll_up(*, now: datetime, result: dict[str, Any]) -> None:
    """The compliance report's roll-up of every day marked (after loading, all of them;
    after a burst, the days it changed), as the checks do it a second at a time, so that
    the idle check below measures an idle check (tickets.rollup)."""
    from tickets import rollup

    started = time.perf_counter()
    days = rollup.refresh(now=now, max_days=100_000, budget_seconds=3600)
    elapsed = time.perf_counter() - started
    say(f"report roll-up: {days:,} days in {elapsed:.1f} s")
    result["rollup"] = {"days": days, "elapsed_s": elapsed}


def main_measurements(
    ds: dataset.Dataset, sink: SmtpSink, args: argparse.Namespace, result: dict[str, Any]
) -> None:
    now, skip = ds.now, set(args.skip)
    say(f"main measurements on {ds.size:,} tickets, {ds.due_count():,} due")
    ds.reset()
    ds.analyze()
    result["explain"] = explain(now=now, label=f"{ds.due_count():,} tickets due")

    say(f"run_transitions over {ds.due_count():,} due tickets x{args.reps}")
    result["transitions"] = measure_transitions(ds, now=now, reps=args.reps)
    result["explain"] += [
        e
        for e in explain(now=now, label=f"{ds.due_count():,} notifications pending")
        if e["index"] == "notification_first_attempt_idx"
    ]

    ds.reset()
    ds.analyze()
    if "full-check" not in skip:
        say("check_sla with everything due: state changes and all their emails")
        result["full_check"] = measure_full_check(ds, sink, now=now)
    else:
        from tickets.checker import run_check

        run_check(now=now)

    if "delivery" not in skip:
        say(f"deliver_due of {args.emails:,} emails x{args.delivery_reps}")
        result["delivery"] = measure_delivery(
            ds, sink, now=now, reps=args.delivery_reps, emails=args.emails
        )
        if args.senders > 1:
            say(f"deliver_due in {args.senders} processes at once, {args.emails:,} emails")
            result["delivery_parallel"] = measure_parallel_delivery(
                ds, sink, reps=args.delivery_reps, emails=args.emails, senders=args.senders
            )

    roll_up(now=now, result=result)
    say(f"idle check x{args.idle_reps}, right after the burst (no VACUUM yet)")
    result["idle_after_burst"] = measure_idle(now=now, reps=args.idle_reps)
    ds.analyze()
    say(f"idle check x{args.idle_reps}, after VACUUM/ANALYZE")
    result["idle"] = measure_idle(now=now, reps=args.idle_reps)
    result["explain"] += explain(now=now, label="nothing due")

    if "spec" not in skip:
        ds.reset()
        ds.analyze()
        say(
            f"spec loop over {ds.size:,} tickets, {args.spec_budget:g} s budget after loading "
            "(then extrapolated)"
        )
        result["spec_loop"] = measure_spec_loop(ds, sink, now=now, budget_s=args.spec_budget)
        gc.collect()
    ds.reset()


# --- the report ---------------------------------------------------------------------------


def index_verdict(e: dict[str, Any]) -> str:
    """Which index the plan reads, judged from its text: a partial one, another, or none."""
    found = re.findall(r"(?:using|USING (?:COVERING )?INDEX) (\w+)", "\n".join(e["plan"]))
    # Results saved before the list was recorded: the partial indexes the models had then.
    partial = e.get("partial_indexes") or [
        "ticket_due_idx",
        "notification_claim_idx",
        "notification_pending_age_idx",
    ]
    used = [name for name in found if name in partial]
    if e["index"] in used:
        return f"uses the partial index {e['index']}"
    if used:
        return (
            f"uses the partial index {used[0]} (same predicate as {e['index']}; the planner's pick)"
        )
    if found:
        return f"uses {', '.join(found)}, NOT a partial index"
    return "FULL SCAN, no index"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "MISSED")


def render(r: dict[str, Any]) -> str:
    out: list[str] = []
    spec, vendor = r["spec"], r["vendor"]
    out.append("=" * 100)
    out.append(
        f"SLA engine benchmark: {r['database']}, {spec['tickets']:,} tickets, "
        f"{spec['due']:,} due ({spec['due_fraction']:.2%}), now={spec['now']}"
    )
    load = r["machine"]
    out.append(
        f"{load['cpus']} CPUs, Python {load['python']}; load average at start "
        f"{'/'.join(f'{x:.1f}' for x in load['load_average_start'])}, at end "
        f"{'/'.join(f'{x:.1f}' for x in load['load_average_end'])}"
    )
    out.append(f"NOTE: {r['note']}")
    out.append("=" * 100)
    rows: list[tuple[str, str, str, str]] = []
    idle = r["idle"]["check_sla"]
    rows.append(
        (
            "Idle check: run_check(now), nothing due",
            spread(idle, ms),
            f"<= {IDLE_TARGET_S * 1000:.0f} ms",
            verdict(idle["median"] <= IDLE_TARGET_S),
        )
    )
    burst = r["idle_after_burst"]["check_sla"]
    rows.append(
        (
            "  same, right after the burst, before VACUUM",
            spread(burst, ms),
            f"<= {IDLE_TARGET_S * 1000:.0f} ms",
            verdict(burst["median"] <= IDLE_TARGET_S),
        )
    )
    tr = r["transitions"]
    changes, limit_s = TRANSITIONS_TARGET
    target_s = limit_s * tr["changes"] / changes
    rows.append(
        (
            f"{tr['changes']:,} state changes: run_transitions(now)",
            spread(tr["seconds"], lambda s: f"{s:.3f} s"),
            f"<= {target_s:g} s" + ("" if vendor == "postgresql" else " (PG target)"),
            verdict(tr["seconds"]["median"] <= target_s),
        )
    )
    if "delivery" in r:
        dv = r["delivery"]
        rows.append(
            (
                f"Delivery: deliver_due, {dv['emails']:,} emails to SMTP",
                spread(dv["emails_per_s"], lambda v: f"{v:.0f}/s"),
                f">= {DELIVERY_TARGET_PER_S:.0f}/s",
                verdict(dv["emails_per_s"]["median"] >= DELIVERY_TARGET_PER_S),
            )
        )
    if "delivery_parallel" in r:
        dp = r["delivery_parallel"]
        rows.append(
            (
                f"  same with {dp['senders']} deliver_due processes at once",
                spread(dp["emails_per_s"], lambda v: f"{v:.0f}/s"),
                f">= {DELIVERY_TARGET_PER_S:.0f}/s",
                verdict(dp["emails_per_s"]["median"] >= DELIVERY_TARGET_PER_S),
            )
        )
    mem = r.get("memory") or []
    if mem:
        peaks = [m["tracemalloc"]["tracemalloc_peak"] for m in mem]
        rss = [m["rss"]["rss_growth"] for m in mem]
        # The due set is 1% of the table, so below 100,000 tickets it is smaller than one
        # batch (1,000): memory may grow up to the first full batch, and must stay flat
        # after it. Flat: the largest size within 25% (+1 MiB) of the next largest.
        flat = len(mem) < 2 or peaks[-1] <= 1.25 * peaks[-2] + 2**20
        rows.append(
            (
                "Checker peak memory (tracemalloc) by size",
                " / ".join(mib(p) for p in peaks),
                "flat",
                verdict(flat if len(mem) > 1 else None),
            )
        )
        rows.append(("  checker peak RSS growth by size", " / ".join(mib(x) for x in rss), "", ""))
        rows.append(
            (
                "  at sizes",
                " / ".join(f"{m['tickets']:,}" for m in mem),
                "",
                "",
            )
        )
    width = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        out.append("  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)).rstrip())

    out.append("")
    out.append("Details")
    out.append(
        f"  idle check: {r['idle']['queries']} SQL statements per call; next_due_at() "
        f"{spread(r['idle']['next_due_at'], ms)}; first call after the burst "
        f"{ms(r['idle_after_burst']['first_s'])}"
    )
    out.append(
        f"  run_transitions: {tr['queries']} SQL statements for {tr['changes']:,} changes "
        f"({tr['changes'] / tr['seconds']['median']:,.0f} changes/s)"
    )
    if "delivery" in r:
        dv = r["delivery"]
        out.append(
            f"  deliver_due: {dv['queries']} SQL statements for {dv['emails']:,} emails; "
            f"{spread(dv['seconds'], lambda s: f'{s:.2f} s')}"
        )
    if "full_check" in r:
        fc = r["full_check"]
        out.append(
            f"  full check_sla with {fc['state_changes']:,} due: {fc['seconds']:.2f} s "
            f"({fc['state_changes']:,} state changes + {fc['emails']:,} emails accepted by SMTP)"
        )
    if mem:
        out.append(
            "  memory (fresh process per measurement; peak RSS during the call, sampled every "
            "5 ms, minus RSS just before it):"
        )
        for m in mem:
            out.append(
                f"    {m['tickets']:>10,} tickets, {m['due']:>6,} due: checker RSS "
                f"+{mib(m['rss']['rss_growth'])} ({m['rss']['seconds']:.2f} s), tracemalloc peak "
                f"{mib(m['tracemalloc']['tracemalloc_peak'])}; spec loop RSS "
                f"+{mib(m['spec']['rss_growth'])} (queryset load {m['spec']['load_s']:.2f} s)"
            )

    out.append("")
    out.append(
        "The original spec's loop: for ticket in Ticket.objects.all(): "
        "ticket.check_and_notify_sla()"
    )
    small = r.get("small")
    if small:
        sl, si = small["spec_loop"], small["spec_loop_idle"]
        fc = small["full_check_s"]["median"]
        ic = small["idle"]["check_sla"]["median"]
        out.append(f"  measured in full on {small['tickets']:,} tickets ({small['due']:,} due):")
        out.append(
            f"    with {small['due']:,} due: check_sla {fc:.3f} s vs spec loop "
            f"{sl['elapsed_s']:.2f} s  -> spec loop x{sl['elapsed_s'] / fc:,.1f}"
        )
        out.append(
            f"    nothing due:  check_sla {ms(ic)} vs spec loop "
            f"{si['elapsed_s']:.2f} s  -> spec loop x{si['elapsed_s'] / ic:,.0f}"
        )
        out.append(
            f"    spec loop memory: RSS +{mib(sl['rss_growth_bytes'])} "
            "(the queryset holds every ticket)"
        )
    sp = r.get("spec_loop")
    if sp:
        n = spec["tickets"]
        out.append(
            f"  on {n:,} tickets: EXTRAPOLATED from {sp['processed']:,} tickets "
            f"({sp['due_processed']:,} due) processed in a {sp['budget_s']:g} s budget, plus the "
            f"measured queryset load of {sp['load_s']:.1f} s:"
        )
        per_other = sp["mean_other_ticket_s"] or 0.0
        per_due = sp["mean_due_ticket_s"]
        out.append(
            f"    per ticket: {ms(per_other)} not due"
            + (f", {ms(per_due)} due" if per_due is not None else "")
        )
        if "full_check" in r:
            fc = r["full_check"]["seconds"]
            out.append(
                f"    with {spec['due']:,} due: check_sla {fc:.2f} s vs spec loop ~"
                f"{sp['estimate_s']:,.0f} s (~{sp['estimate_s'] / 60:,.0f} min) "
                f"-> spec loop x{sp['estimate_s'] / fc:,.0f}"
            )
        if sp["estimate_idle_s"]:
            ic = r["idle"]["check_sla"]["median"]
            out.append(
                f"    nothing due:  check_sla {ms(ic)} vs spec loop ~"
                f"{sp['estimate_idle_s']:,.0f} s -> spec loop x{sp['estimate_idle_s'] / ic:,.0f}"
            )
        out.append(f"    spec loop RSS +{mib(sp['rss_growth_bytes'])} (peak during the loop)")

    out.append("")
    out.append("Query plans (the statements the engine sends, captured and explained)")
    for e in r["explain"]:
        out.append(f"  [{e['state']}] {e['query']}: {index_verdict(e)}")
        for line in e["plan"]:
            out.append(f"      {line}")
    out.append("=" * 100)
    return "\n".join(out)


# --- command line -------------------------------------------------------------------------


def sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="SLA engine benchmark (see bench/README.md)")
    parser.add_argument("--tickets", type=int, help="table size (default 1,000,000; quick 20,000)")
    parser.add_argument("--due-fraction", type=float, default=0.01)
    parser.add_argument("--now", default=DEFAULT_NOW, help="the benchmark's clock (ISO 8601, UTC)")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 20,000 tickets")
    parser.add_argument("--reps", type=int, help="repetitions of run_transitions (5; quick 3)")
    parser.add_argument("--idle-reps", type=int, help="idle checks (30; quick 10)")
    parser.add_argument("--emails", type=int, help="emails per delivery run (3000; quick 300)")
    parser.add_argument("--delivery-reps", type=int, help="delivery runs (3; quick 2)")
    parser.add_argument(
        "--spec-budget", type=float, help="seconds for the spec loop on the full table (60; 5)"
    )
    parser.add_argument(
        "--small-tickets", type=int, help="table size where the spec loop runs in full (10,000)"
    )
    parser.add_argument("--memory-sizes", type=sizes, help="default 10000,100000,1000000")
    parser.add_argument(
        "--memory-spec-budget", type=float, help="spec loop seconds in the memory runs (5; 2)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep an identical table loaded by an earlier run"
    )
    parser.add_argument(
        "--skip",
        type=lambda s: [p.strip() for p in s.split(",") if p.strip()],
        default=[],
        help="comma list of: memory, small, spec, delivery, full-check",
    )
    parser.add_argument("--pg-database", default=dataset.DEFAULT_PG_NAME)
    parser.add_argument("--output", type=Path, help="JSON file (default bench/results/...)")
    parser.add_argument("--render", type=Path, help="print the report of a saved JSON result")
    parser.add_argument(
        "--senders", type=int, default=2, help="concurrent deliver_due processes (0: skip)"
    )
    parser.add_argument(
        "--worker", choices=["rss", "tracemalloc", "spec", "deliver"], help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    quick = args.quick
    defaults: dict[str, Any] = {
        "tickets": 20_000 if quick else 1_000_000,
        "reps": 3 if quick else 5,
        "idle_reps": 10 if quick else 30,
        "emails": 300 if quick else 3000,
        "delivery_reps": 2 if quick else 3,
        "spec_budget": 5.0 if quick else 60.0,
        "small_tickets": 2_000 if quick else 10_000,
        "memory_sizes": [2_000, 20_000] if quick else [10_000, 100_000, 1_000_000],
        "memory_spec_budget": 2.0 if quick else 5.0,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if not 0 < args.due_fraction <= 0.5:
        parser.error("--due-fraction must be in (0, 0.5]")
    now = datetime.fromisoformat(args.now)
    if now.tzinfo is None or now.microsecond:
        parser.error("--now must carry a time zone and whole seconds")
    args.now = now.astimezone(UTC).isoformat()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        print(render(json.loads(args.render.read_text())))
        return 0
    if args.worker:
        # Everything, the database name included, comes from the parent's environment.
        setup_django()
        data = worker(args.worker, now=datetime.fromisoformat(args.now), budget_s=args.spec_budget)
        print(json.dumps(data))
        return 0

    os.environ["BENCH_PG_DATABASE"] = args.pg_database
    # The SMTP server first: its process must not inherit a database connection.
    with SmtpSink() as sink:
        url = configure(pg_database=args.pg_database, smtp_port=sink.port)
        if url.startswith("sqlite"):
            if not args.reuse:
                dataset.remove_sqlite_files()
        elif dataset.ensure_postgres_database(url):
            say(f"created database {args.pg_database}")
        vendor = setup_django()
        say(f"benchmark database: {vendor} {url.rsplit('@', 1)[-1]}; SMTP on port {sink.port}")
        result = run(args, sink)
    text = render(result)
    print(text)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output = args.output or RESULTS_DIR / f"sla_engine-{vendor}-{args.tickets}-{stamp}.json"
    result["report"] = text
    output.write_text(json.dumps(result, indent=2, default=str))
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
