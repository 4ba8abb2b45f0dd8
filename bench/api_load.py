"""API load benchmark: the ticket list and create on gunicorn, and rate limits across workers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/watchdog REDIS_URL=redis://127.0.0.1:6379/9 \
        .venv/bin/python bench/api_load.py                     # 1,000,000 tickets
    ... bench/api_load.py --quick                             # 20,000 tickets, a smoke test
    ... bench/api_load.py --reuse                             # keep an identical loaded table

DATABASE_URL picks the PostgreSQL *server*; the benchmark uses its own database on it
(`sla_bench_api`, created when missing) and loads it with bench/dataset.py, all tickets
owned by one user. REDIS_URL's database is emptied (the rate limit counters live there).
gunicorn listens on 127.0.0.1 only, and every load phase is bounded in requests and time.
See bench/README.md ("API load benchmark").
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import dataset  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
DEFAULT_NOW = "2026-03-10T12:00:00+00:00"
DEFAULT_PG_NAME = "sla_bench_api"
OTHER_USERS = 3
OTHER_TICKETS = 1000  # each
CREATED_PREFIX = "api-bench "
HOST = "127.0.0.1"
# Raised for the throughput phases so that no request there is a 429.
UNLIMITED = "1000000/m"


def say(message: str) -> None:
    print(f"[{datetime.now(UTC).strftime('%H:%M:%S')}] {message}", flush=True)


# --- environment ----------------------------------------------------------------------------


def configure(*, pg_database: str, redis_url: str) -> str:
    """The environment for this process and gunicorn's; returns the database URL."""
    from dotenv import load_dotenv

    load_dotenv(ROOT / ".env", override=False)
    source = os.environ.get("DATABASE_URL", "")
    if urlsplit(source).scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit("DATABASE_URL must name a PostgreSQL server (postgres://...)")
    url = dataset.bench_database_url(source, pg_name=pg_database)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "watchdog.settings",
            "DATABASE_URL": url,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": HOST,
            "SECURE_SSL_REDIRECT": "false",
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": "",  # the embedded default: no broker nudge on create
            "LOG_LEVEL": "WARNING",
        }
    )
    for name in ("RATELIMIT_TICKETS_LIST", "RATELIMIT_TICKETS_CREATE", "RATELIMIT_ENABLE"):
        os.environ.pop(name, None)  # this process checks the defaults' windows
    return url


def setup_django(pg_database: str) -> None:
    import django

    django.setup()
    from django.db import connection

    if connection.settings_dict["NAME"] != pg_database:
        raise SystemExit(f"refusing to run against {connection.settings_dict['NAME']!r}")


# --- data -----------------------------------------------------------------------------------


@dataclass
class Users:
    main_token: str
    main_id: int
    others: list[tuple[int, str]]  # (id, token)


def load(*, tickets: int, now: str, reuse: bool) -> tuple[Users, bool]:
    """bench/dataset.py's table with every ticket owned by user 1, plus a few other users."""
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone

    from accounts.logins import start_token_login
    from tickets.models import Ticket

    spec = dataset.Spec(
        tickets=tickets,
        period=100,
        now=now,
        warning_minutes=settings.SLA_WARNING_MINUTES,
        users=1,  # owner = 1 + id % users: all of them user 1's
    )
    ds = dataset.Dataset(spec, connection.vendor)
    reused = ds.prepare(reuse=reuse)
    if not reused:
        say(f"loading {tickets:,} tickets for one user (bench/dataset.py) ...")
        started = time.perf_counter()
        ds.grow_to(tickets)
        say(f"  loaded in {time.perf_counter() - started:.0f} s")
    # Leftovers of an interrupted run (the ORM also deletes their notifications).
    Ticket.objects.filter(title__startswith=CREATED_PREFIX).delete()
    others = []
    deadline = datetime.fromisoformat(now) + timedelta(days=1)
    for n in range(OTHER_USERS):
        user, created = User.objects.get_or_create(username=f"bench-api-other-{n + 1}")
        if created:
            Ticket.objects.bulk_create(
                Ticket(owner=user, title=f"other {k}", deadline=deadline + timedelta(minutes=k))
                for k in range(OTHER_TICKETS)
            )
        others.append((user.pk, start_token_login(user=user, now=timezone.now())))
    # Also after a reused run's deletions: this server runs no autovacuum, and a stale
    # visibility map makes the COUNT's index-only scan visit the heap.
    ds.analyze()
    main = User.objects.get(pk=1)
    return Users(start_token_login(user=main, now=timezone.now()), main.pk, others), reused


def cleanup_created() -> int:
    from tickets.models import Ticket

    deleted, _ = Ticket.objects.filter(title__startswith=CREATED_PREFIX).delete()
    return deleted


# --- gunicorn -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def gunicorn(
    *, workers: int, extra_env: dict[str, str], log: Path, root: Path = ROOT
) -> Iterator[Server]:
    """gunicorn serving `root`'s code (another worktree: a baseline) with this virtualenv."""
    port = free_port()
    env = {
        **os.environ,
        "HOST": HOST,
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        **extra_env,
    }
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 (our own virtualenv's gunicorn)
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py", "watchdog.wsgi"],
            cwd=root,
            env=env,
            stdout=out,
            stderr=out,
        )
    server = Server(port=port, pid=process.pid)
    try:
        server.wait_ready(workers=workers, timeout_s=60)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Server:
    port: int
    pid: int

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def wait_ready(self, *, workers: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.workers()) >= workers:
                try:
                    status, _, _ = request(self.port, "GET", "/healthz")
                    if status in {200, 503}:
                        return
                except OSError:
                    pass
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not start within {timeout_s:.0f} s (see the log)")

    def cpu_by_worker(self) -> dict[int, float]:
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = {}
        for pid in self.workers():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
        return cpu


def request(
    port: int,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    scheme: str = "Token",
) -> tuple[int, bytes, float]:
    """One request on a fresh connection (sync workers close it anyway); (status, body, s)."""
    headers = {"Host": HOST, "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"{scheme} {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    return response.status, payload, time.perf_counter() - started


# --- load -----------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    errors: int = 0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_s)

        def pct(p: float) -> float | None:
            if not ordered:
                return None
            return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

        return {
            "name": self.name,
            "requests": len(ordered),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors,
            "elapsed_s": self.elapsed_s,
            "req_per_s": len(ordered) / self.elapsed_s if self.elapsed_s else None,
            "p50_ms": None if not ordered else statistics.median(ordered) * 1000,
            "p99_ms": None if not ordered else (pct(99) or 0) * 1000,
            "max_ms": None if not ordered else ordered[-1] * 1000,
        }


def drive(
    name: str,
    call: Callable[[int], tuple[int, bytes, float]],
    *,
    count: int,
    concurrency: int,
    budget_s: float,
) -> Phase:
    """`count` calls from `concurrency` threads, stopping early after `budget_s` seconds."""
    phase = Phase(name)
    lock = threading.Lock()
    issued = iter(range(count))
    started = time.perf_counter()
    stop_at = started + budget_s

    def work() -> None:
        while time.perf_counter() < stop_at:
            with lock:
                n = next(issued, None)
            if n is None:
                return
            try:
                status, _, seconds = call(n)
            except OSError:
                with lock:
                    phase.errors += 1
                continue
            with lock:
                phase.latencies_s.append(seconds)
                phase.statuses[status] += 1

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.elapsed_s = time.perf_counter() - started
    return phase


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


# --- query plans ----------------------------------------------------------------------------


def explain_list(token: str, paths: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    """The SQL each list request sends, captured in-process, then EXPLAIN (ANALYZE, BUFFERS)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient(SERVER_NAME=HOST)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    plans: dict[str, list[dict[str, str]]] = {}
    for label, path in paths.items():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{label}: {path} answered {response.status_code}")
        plans[label] = []
        for query in queries:
            sql = query["sql"]
            if "tickets_ticket" not in sql:
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                text = "\n".join(row[0] for row in cursor.fetchall())
            plans[label].append({"sql": sql, "plan": text})
    return plans


def explain_metrics(*, repeat: int = 5) -> dict[str, Any]:
    """/metrics in-process: its wall time (median of `repeat`), then each ticket and
    notification query it sends, EXPLAIN (ANALYZE, BUFFERS)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from watchdog.metrics import render

    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        render()
        times.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as queries:
        render()
    plans = []
    for query in queries:
        sql = query["sql"]
        if "tickets_ticket" not in sql and "notifications_notification" not in sql:
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            text = "\n".join(row[0] for row in cursor.fetchall())
        plans.append({"sql": sql, "plan": text})
    return {
        "render_ms_median": statistics.median(times) * 1000,
        "render_ms_all": [t * 1000 for t in times],
        "queries": len(queries),
        "plans": plans,
    }


# --- rate limits ----------------------------------------------------------------------------


def seconds_left_in_windows(user_ids: list[int], *, group: str, rate: str) -> list[float]:
    """django-ratelimit's fixed window for each user's key: seconds until it ends."""
    from django.contrib.auth.models import User
    from django.http import HttpRequest
    from django_ratelimit.core import get_usage

    from watchdog.ratelimits import user_key

    left = []
    for user_id in user_ids:
        fake = HttpRequest()
        fake.method = "GET"
        fake.user = User.objects.get(pk=user_id)
        usage = get_usage(fake, group=group, key=user_key, rate=rate, increment=False)
        left.append(float(usage["time_left"]) if usage else 0.0)
    return left


def wait_for_room(user_ids: list[int], *, group: str, rate: str, needed_s: float) -> list[float]:
    """Sleep until every user's window has `needed_s` left (windows differ per key)."""
    for _ in range(10):
        left = seconds_left_in_windows(user_ids, group=group, rate=rate)
        if min(left) >= needed_s:
            return left
        say(f"  a window ends in {min(left):.0f} s: waiting for the next one")
        time.sleep(min(left) + 1.5)
    raise SystemExit("could not find a moment with room in every user's window")


def rate_limit_burst(
    server: Server,
    users: list[tuple[int, str]],
    *,
    group: str,
    rate: str,
    per_user: int,
    concurrency: int,
    create: bool,
) -> dict[str, Any]:
    from django.core.cache import cache

    cache.clear()
    limit = int(rate.split("/")[0])
    ids = [user_id for user_id, _ in users]
    left_before = wait_for_room(ids, group=group, rate=rate, needed_s=15)
    # Interleaved, so that every worker sees every user.
    plan = [users[n % len(users)] for n in range(per_user * len(users))]
    by_user: dict[int, Counter[int]] = {user_id: Counter() for user_id in ids}
    lock = threading.Lock()
    deadline = (datetime.now(UTC) + timedelta(days=3)).isoformat()

    def call(n: int) -> tuple[int, bytes, float]:
        user_id, token = plan[n]
        if create:
            body = {"title": f"{CREATED_PREFIX}limit {n}", "deadline": deadline}
            result = request(server.port, "POST", "/api/tickets/", token=token, body=body)
        else:
            result = request(server.port, "GET", "/api/tickets/?page_size=5", token=token)
        with lock:
            by_user[user_id][result[0]] += 1
        return result

    cpu_before = server.cpu_by_worker()
    phase = drive(
        f"rate limit {group}", call, count=len(plan), concurrency=concurrency, budget_s=60
    )
    cpu_after = server.cpu_by_worker()
    busy = sum(1 for pid, cpu in cpu_after.items() if cpu - cpu_before.get(pid, cpu) > 0.005)
    left_after = seconds_left_in_windows(ids, group=group, rate=rate)
    within_one_window = phase.elapsed_s < min(left_before) and all(
        after < before for after, before in zip(left_after, left_before, strict=True)
    )
    exact = all(
        counts.get(200 if not create else 201, 0) == limit
        and counts.get(429, 0) == per_user - limit
        for counts in by_user.values()
    )
    return {
        "group": group,
        "rate": rate,
        "users": len(users),
        "requests_per_user": per_user,
        "concurrency": concurrency,
        "elapsed_s": phase.elapsed_s,
        "window_seconds_left_before": left_before,
        "burst_within_one_window": within_one_window,
        "statuses_by_user": {
            str(uid): {str(k): v for k, v in sorted(c.items())} for uid, c in by_user.items()
        },
        "workers_that_served": busy,
        "exactly_limit_succeeded": exact,
        "errors": phase.errors,
    }


# --- the run --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    users, reused = load(tickets=args.tickets, now=DEFAULT_NOW, reuse=args.reuse)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        pg_version = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM tickets_ticket WHERE owner_id = %s", [users.main_id])
        main_count = cursor.fetchone()[0]
    connection.close()  # gunicorn's workers get their own; this one must not idle in a txn
    log = RESULTS_DIR / "api_load-gunicorn.log"
    deep = args.deep_page
    token = users.main_token
    result: dict[str, Any] = {
        "tickets_total_for_user": main_count,
        "reused_table": reused,
        "postgresql": pg_version,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "load_average_start": os.getloadavg(),
        "page_size": args.page_size,
        "deep_page": deep,
        "requests_per_phase": args.requests,
        "concurrency": args.concurrency,
        "budget_s_per_phase": args.budget,
        "note": (
            f"{os.cpu_count()} CPUs shared by {args.workers} gunicorn workers, PostgreSQL, "
            "Redis and this Python load generator (threads, one connection per request): "
            "req/s is what this one machine does, not the server's ceiling."
        ),
    }
    metrics_token = secrets.token_urlsafe(32)
    limits = {
        "RATELIMIT_TICKETS_LIST": UNLIMITED,
        "RATELIMIT_TICKETS_CREATE": UNLIMITED,
        "METRICS_TOKEN": metrics_token,
    }
    say(f"gunicorn, {args.workers} workers, rate limits raised; log: {log}")
    with gunicorn(workers=args.workers, extra_env=limits, log=log) as server:
        size = args.page_size
        first = f"/api/tickets/?page_size={size}"
        by_number = f"/api/tickets/?page_size={size}&page={deep}"
        status, body, _ = request(
            server.port, "GET", f"/api/tickets/?page_size={size}&page={deep - 1}", token=token
        )
        if status != 200:
            raise SystemExit(f"page {deep - 1} answered {status}: {body[:200]!r}")
        by_cursor = path_of(json.loads(body)["next"])
        a = json.loads(request(server.port, "GET", by_number, token=token)[1])
        b = json.loads(request(server.port, "GET", by_cursor, token=token)[1])
        same = [r["id"] for r in a["results"]] == [r["id"] for r in b["results"]]
        result["deep_pages_identical"] = same
        result["deep_cursor_path"] = by_cursor
        # The same depth in lists ordered by priority, both ways: the cursor in the `next`
        # of page deep - 1 (reached once by number, whatever that costs).
        by_priority = f"/api/tickets/?page_size={size}&ordering=-priority"
        by_priority_up = f"/api/tickets/?page_size={size}&ordering=priority"
        priority_cursors = {}
        for path in (by_priority, by_priority_up):
            status, body, _ = request(server.port, "GET", f"{path}&page={deep - 1}", token=token)
            if status != 200:
                raise SystemExit(f"{path}&page={deep - 1} answered {status}: {body[:200]!r}")
            priority_cursors[path] = path_of(json.loads(body)["next"])
        by_priority_cursor = priority_cursors[by_priority]
        say(f"page {deep} by number and by cursor list the same tickets: {same}")
        deadline = (datetime.now(UTC) + timedelta(days=7)).isoformat()

        def get(path: str) -> Callable[[int], tuple[int, bytes, float]]:
            return lambda n: request(server.port, "GET", path, token=token)

        def create(n: int) -> tuple[int, bytes, float]:
            body = {"title": f"{CREATED_PREFIX}{n}", "deadline": deadline, "priority": "high"}
            return request(server.port, "POST", "/api/tickets/", token=token, body=body)

        def scrape(n: int) -> tuple[int, bytes, float]:
            return request(server.port, "GET", "/metrics", token=metrics_token, scheme="Bearer")

        # name: (call, requests, concurrency). /metrics one at a time, as Prometheus does.
        phases = {
            "first page": (get(first), args.requests, args.concurrency),
            f"page {deep} by number": (get(by_number), args.requests, args.concurrency),
            f"page {deep} by cursor": (get(by_cursor), args.requests, args.concurrency),
            "first page, ordering=-priority": (get(by_priority), args.requests, args.concurrency),
            f"page {deep} by cursor, ordering=-priority": (
                get(by_priority_cursor),
                args.requests,
                args.concurrency,
            ),
            "create": (create, args.requests, args.concurrency),
            "/metrics scrape, one at a time": (scrape, min(args.requests, 30), 1),
        }
        result["phases"] = []
        for name, (call, count, concurrency) in phases.items():
            drive(name, call, count=concurrency * 2, concurrency=concurrency, budget_s=30)
            phase = drive(name, call, count=count, concurrency=concurrency, budget_s=args.budget)
            summary = phase.summary()
            result["phases"].append(summary)
            say(
                f"  {name:<24} {summary['requests']:>5} requests  {summary['req_per_s']:7.1f}/s  "
                f"p50 {summary['p50_ms']:8.1f} ms  p99 {summary['p99_ms']:8.1f} ms  "
                f"{summary['statuses']}"
            )
    say(f"removed {cleanup_created()} rows made by the create phase")
    with connection.cursor() as cursor:
        # Back to the steady state for the plans: no autovacuum on this server, and the
        # create phase's deleted rows would send the COUNT's index-only scan to the heap.
        cursor.execute("VACUUM (ANALYZE) tickets_ticket")
    say("EXPLAIN (ANALYZE, BUFFERS) of the list queries")
    result["plans"] = explain_list(
        token,
        {
            "first page": first,
            f"page {deep} by number": by_number,
            "cursor": by_cursor,
            "first page, ordering=-priority": by_priority,
            f"page {deep} by cursor, ordering=-priority": by_priority_cursor,
            "first page, ordering=priority": by_priority_up,
            f"page {deep} by cursor, ordering=priority": priority_cursors[by_priority_up],
        },
    )
    say("/metrics in-process: wall time and EXPLAIN (ANALYZE, BUFFERS) of its queries")
    result["metrics"] = explain_metrics()
    from django.conf import settings

    say(
        f"gunicorn, {args.workers} workers, default rate limits "
        f"(list {settings.RATELIMIT_TICKETS_LIST}, create {settings.RATELIMIT_TICKETS_CREATE})"
    )
    with gunicorn(workers=args.workers, extra_env={}, log=log) as server:
        result["rate_limits"] = [
            rate_limit_burst(
                server,
                users.others,
                group="tickets-list",
                rate=settings.RATELIMIT_TICKETS_LIST,
                per_user=args.burst,
                concurrency=12,
                create=False,
            ),
            rate_limit_burst(
                server,
                users.others,
                group="tickets-create",
                rate=settings.RATELIMIT_TICKETS_CREATE,
                per_user=max(args.burst // 2, 10),
                concurrency=12,
                create=True,
            ),
        ]
    cleanup_created()
    result["load_average_end"] = os.getloadavg()
    return result


def render(r: dict[str, Any]) -> str:
    lines = [
        f"API load: {r['tickets_total_for_user']:,} tickets for one user, gunicorn with "
        f"{r['workers']} sync workers on {r['cpus']} CPUs, page_size {r['page_size']}",
        f"  {r['note']}",
        f"  load average at start {r['load_average_start'][0]:.2f}, "
        f"at end {r['load_average_end'][0]:.2f}; {r['postgresql'].split(',')[0]}",
        "",
        "| Request | Requests | req/s | p50 ms | p99 ms | max ms | statuses |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for p in r["phases"]:
        lines.append(
            f"| {p['name']} | {p['requests']} | {p['req_per_s']:.1f} | {p['p50_ms']:.1f} | "
            f"{p['p99_ms']:.1f} | {p['max_ms']:.1f} | {p['statuses']} |"
        )
    lines.append("")
    lines.append(
        f"page {r['deep_page']} by number and by cursor identical: {r['deep_pages_identical']}"
    )
    lines.append("")
    for label, queries in r["plans"].items():
        for q in queries:
            indexes = sorted(set(re.findall(r"using (\S+) on tickets_ticket", q["plan"])))
            seq = "Seq Scan on tickets_ticket" in q["plan"]
            lines.append(f"--- {label}: indexes used: {indexes or 'none'}; seq scan: {seq}")
            lines.append(q["sql"][:400] + (" ..." if len(q["sql"]) > 400 else ""))
            lines.append(q["plan"])
            lines.append("")
    m = r["metrics"]
    lines.append(
        f"--- /metrics in-process: median {m['render_ms_median']:.1f} ms over "
        f"{len(m['render_ms_all'])} renders, {m['queries']} queries"
    )
    for q in m["plans"]:
        lines.append(q["sql"][:400] + (" ..." if len(q["sql"]) > 400 else ""))
        lines.append(q["plan"])
        lines.append("")
    lines.append(
        "| Rate limit | rate | users x requests | workers busy | s | window s left "
        "| by user | exact |"
    )
    lines.append("| --- | --- | --- | ---: | ---: | --- | --- | --- |")
    for rl in r["rate_limits"]:
        lines.append(
            f"| {rl['group']} | {rl['rate']} | {rl['users']} x {rl['requests_per_user']} | "
            f"{rl['workers_that_served']} | {rl['elapsed_s']:.1f} | "
            f"{', '.join(f'{s:.0f}' for s in rl['window_seconds_left_before'])} | "
            f"{rl['statuses_by_user']} | {rl['exactly_limit_succeeded']} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--deep-page", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--requests", type=int, default=400, help="per phase")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--budget", type=float, default=45.0, help="seconds per phase, at most")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--burst", type=int, default=50, help="list requests per user")
    parser.add_argument("--pg-database", default=DEFAULT_PG_NAME)
    parser.add_argument("--reuse", action="store_true", help="keep an identical loaded table")
    parser.add_argument("--quick", action="store_true", help="20,000 tickets, page 100")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.tickets, args.deep_page = 20_000, 100
    if args.deep_page * args.page_size > args.tickets:
        parser.error("--deep-page x --page-size must not exceed --tickets")
    if args.deep_page < 2:
        parser.error("--deep-page must be at least 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url.startswith("redis://"):
        raise SystemExit("REDIS_URL must name a Redis database (it is emptied): redis://...")
    url = configure(pg_database=args.pg_database, redis_url=redis_url)
    if dataset.ensure_postgres_database(url):
        say(f"created database {args.pg_database}")
    setup_django(args.pg_database)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    say(f"benchmark database: {url.rsplit('@', 1)[-1]}; cache: {redis_url}")
    result = run(args)
    text = render(result)
    print(text)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    output = args.output or RESULTS_DIR / f"api_load-{args.tickets}-{stamp}.json"
    result["report"] = text
    output.write_text(json.dumps(result, indent=2, default=str))
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
