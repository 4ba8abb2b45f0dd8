"""The at-risk board's whole request, server side: GET /board/ (first render) and its
htmx refresh, beside the list API (GET /api/tickets/) for the same user, through Django's
test client, in this tree and optionally another one on the same data in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/watchdog \\
        .venv/bin/python bench/board_render.py [--pg-database sla_bench_board] \\
        [--tickets 0,1000000] [--reuse] [--baseline ../main-worktree] [--requests 40]

The board's user owns 101 open tickets (the board draws 100), half of them urgent on a
Monday-Friday office-hours policy with a first-response target, the others on a default
24x7 policy; a fifth responded, a tenth pending. `--tickets N` puts them on top of the
N-ticket table of bench/dataset.py (1,000 other owners; about 13% of it open), loaded
once into a database of its own (`<pg-database>_<N>`) and kept for `--reuse`; 0 (the
default) is that user's tickets alone, in `<pg-database>`. A staff user sees every open
ticket: the staff board is the worst case. Several sizes (`--tickets 0,1000000`) are
measured in turn in each round.

Each tree's fresh process warms up with 5 requests of each kind, then makes `--requests`
of each, the kinds alternating request by request, for the board's user and for staff:
the board (first render and refresh), the list API's first page at its default page size
(token authentication) and the same filtered and ordered as a board-like client would
(`?status=open&status=pending&ordering=next_breach_at`). It reports the median and p90
wall time (in the client, PostgreSQL's share included) and the median CPU time of this
process per request (steadier when the machine is loaded; PostgreSQL's own CPU is not in
it), and the load average before each child.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import User

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-03-10T12:00:00+00:00"
BOARD_USER = "board-reader"
STAFF_USER = "board-staff"
UNLIMITED = "1000000/m"
# What each kind requests, and the headers it sends besides its credentials.
KINDS = {
    "board first": ("/board/", {}),
    "board refresh": ("/board/", {"HX-Request": "true"}),
    "api list": ("/api/tickets/", {}),
    "api board-like": ("/api/tickets/?status=open&status=pending&ordering=next_breach_at", {}),
}


def database_name(pg_database: str, tickets: int) -> str:
    return f"{pg_database}_{tickets}" if tickets else pg_database


def environment(pg_database: str, tickets: int) -> dict[str, str]:
    """This benchmark's environment for a child working on the `tickets`-size data."""
    from bench import dataset

    source = os.environ.get("DATABASE_URL") or "sqlite://"
    url = dataset.bench_database_url(source, pg_name=database_name(pg_database, tickets))
    if url.startswith("postgres"):
        dataset.ensure_postgres_database(url)
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "watchdog.settings",
            "DATABASE_URL": url,
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + "x" * 60,
            "ALLOWED_HOSTS": "testserver,localhost",
            "LOG_LEVEL": "WARNING",
            "RATELIMIT_TICKETS_LIST": UNLIMITED,
            "CELERY_BROKER_URL": "",
        }
    )
    # The rate limit's counters in this process's memory, not in a shared Redis.
    env.pop("REDIS_URL", None)
    return env


def load(tickets: int, *, reuse: bool) -> None:
    """The data: bench/dataset.py's table of `tickets` (none for 0), the board's user and
    their 101 tickets on top, a staff user."""
    from datetime import datetime

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection

    from bench import dataset
    from tickets.models import Ticket

    if tickets:
        spec = dataset.Spec(
            tickets=tickets,
            period=100,
            now=NOW,
            warning_minutes=settings.SLA_WARNING_MINUTES,
        )
        table = dataset.Dataset(spec, connection.vendor)
        if not table.prepare(reuse=reuse):
            started = time.perf_counter()
            table.grow_to(tickets)
            print(f"loaded {tickets} tickets in {time.perf_counter() - started:.0f} s")
    else:
        call_command("migrate", verbosity=0)
    User.objects.get_or_create(username=STAFF_USER, defaults={"is_staff": True})
    user, created = User.objects.get_or_create(username=BOARD_USER)
    if created or Ticket.objects.filter(owner=user).count() != 101:
        Ticket.objects.filter(owner=user).delete()
        board_tickets(user, now=datetime.fromisoformat(NOW))
        if tickets:
            table.analyze(vacuum=False)


def board_tickets(user: User, *, now: datetime) -> None:
    from datetime import time as wall
    from datetime import timedelta

    from policies import services as policy_services
    from policies.models import BusinessCalendar
    from sla.enums import Priority, Status
    from tickets import services

    if not BusinessCalendar.objects.filter(name="bench office").exists():
        office = policy_services.create_calendar(
            name="bench office",
            time_zone="Europe/Berlin",
            holiday_country="DE",
            opening_hours=[(day, wall(9), wall(17)) for day in range(5)],
        )
        around = policy_services.create_calendar(name="bench 24x7", time_zone="UTC", is_24x7=True)
        policy_services.create_policy(
            name="bench urgent",
            calendar=office,
            priority=Priority.URGENT,
            resolution_target=timedelta(hours=16),
            first_response_target=timedelta(hours=2),
        )
        policy_services.create_policy(
            name="bench default", calendar=around, resolution_target=timedelta(days=3)
        )
    for n in range(101):
        created_at = now - timedelta(hours=n % 48, minutes=n)
        ticket = services.create_ticket(
            owner=user,
            now=created_at,
            title=f"Printer on floor {n % 7} jams <b>again</b> (case {n})",
            priority=Priority.URGENT if n % 2 else Priority.NORMAL,
        )
        if n % 5 == 0:
            services.respond(ticket=ticket, now=created_at + timedelta(minutes=20))
        if n % 10 == 3:
            services.update_ticket(
                ticket=ticket, now=created_at + timedelta(minutes=30), status=Status.PENDING
            )


def rows_in(kind: str, content: bytes) -> int:
    if kind.startswith("board"):
        return content.count(b"data-ticket=")
    return len(json.loads(content)["results"])


def measure(requests: int) -> dict[str, dict[str, float]]:
    """For each user and kind: rows, p50, p90 and CPU per request (ms)."""
    from datetime import datetime

    import django

    django.setup()
    import time_machine
    from django.core.management import call_command

    # DEBUG is off, as in production: the pages read the collected, hashed static files.
    call_command("collectstatic", interactive=False, verbosity=0)
    from django.contrib.auth.models import User
    from django.test import Client

    from accounts.logins import start_token_login

    result: dict[str, dict[str, float]] = {}
    with time_machine.travel(NOW, tick=True):
        for who in (BOARD_USER, STAFF_USER):
            user = User.objects.get(username=who)
            browser = Client()
            browser.force_login(user)
            browser.cookies["tz"] = "Europe/Paris"
            token = start_token_login(user=user, now=datetime.fromisoformat(NOW))
            api = Client(headers={"Authorization": f"Token {token}"})
            samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
            cpu: dict[str, list[float]] = {kind: [] for kind in KINDS}
            rows: dict[str, int] = {}
            for n in range(5 + requests):
                for kind, (path, headers) in KINDS.items():
                    client = browser if kind.startswith("board") else api
                    began, began_cpu = time.perf_counter(), time.process_time()
                    response = client.get(path, secure=True, headers=headers)
                    elapsed = time.perf_counter() - began
                    spent = time.process_time() - began_cpu
                    assert response.status_code == 200, (kind, response.status_code)
                    if n >= 5:
                        samples[kind].append(elapsed)
                        cpu[kind].append(spent)
                    rows[kind] = rows_in(kind, response.content)
            for kind in KINDS:
                result[f"{who}|{kind}"] = {
                    "rows": rows[kind],
                    "p50": statistics.median(samples[kind]) * 1000,
                    "p90": statistics.quantiles(samples[kind], n=10)[-1] * 1000,
                    "cpu": statistics.median(cpu[kind]) * 1000,
                }
    return result


def run(args: list[str], code_root: str, env: dict[str, str]) -> str:
    env = dict(env)
    env["PYTHONPATH"] = os.pathsep.join([code_root, str(ROOT)])
    # One directory per tree, the same in every run (str's hash() changes per process).
    tree = hashlib.sha256(code_root.encode()).hexdigest()[:16]
    env["STATIC_ROOT"] = str(Path(tempfile.gettempdir()) / f"board-bench-static-{tree}")
    found = subprocess.run(  # noqa: S603 -- this script, by its own path
        [sys.executable, __file__, *args],
        env=env,
        cwd=code_root,
        check=False,
        capture_output=True,
        text=True,
    )
    if found.returncode:
        raise SystemExit(f"the child failed:\n{found.stderr[-3000:]}")
    return found.stdout


def load_average() -> str:
    return " ".join(f"{n:.1f}" for n in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg-database", default="sla_bench_board")
    parser.add_argument(
        "--tickets", default="0", help="table sizes under the board's user, comma-separated"
    )
    parser.add_argument("--reuse", action="store_true", help="keep a table loaded before")
    parser.add_argument("--baseline", help="another checkout to measure on the same data")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2, help="alternate the trees this often")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    if args.load is not None:
        load(args.load, reuse=args.reuse)
        return
    sys.path.insert(0, str(ROOT))
    sizes = [int(size) for size in args.tickets.split(",")]
    envs = {size: environment(args.pg_database, size) for size in sizes}
    for size, env in envs.items():
        print(run(["--load", str(size), *(["--reuse"] if args.reuse else [])], str(ROOT), env))
    trees = {"this": str(ROOT)}
    if args.baseline:
        trees["baseline"] = str(Path(args.baseline).resolve())
    print(
        f"{'code':<9} {'tickets':>8} {'user':<13} {'kind':<15} {'rows':>4} "
        f"{'p50':>8} {'p90':>8} {'cpu':>8}  load average"
    )
    for _ in range(args.rounds):
        for size in sizes:
            for name, tree in trees.items():
                before = load_average()
                out = run(["--child", str(args.requests)], tree, envs[size])
                found = json.loads(out.strip().splitlines()[-1])
                for key, numbers in found.items():
                    who, kind = key.split("|")
                    print(
                        f"{name:<9} {size:>8} {who:<13} {kind:<15} {numbers['rows']:>4.0f} "
                        f"{numbers['p50']:>6.1f}ms {numbers['p90']:>6.1f}ms "
                        f"{numbers['cpu']:>6.1f}ms  {before}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
