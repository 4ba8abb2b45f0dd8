"""The at-risk board's whole request, server side: GET /board/ (first render) and its
htmx refresh, for a user with 101 open tickets (the board draws 100), through Django's
test client, in this tree and optionally another one on the same data in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/watchdog \\
        .venv/bin/python bench/board_render.py [--pg-database sla_bench_board] \\
        [--baseline ../main-worktree] [--requests 40]

The data (in its own database, never yours): one user owning 101 open tickets, half of
them urgent on a Monday-Friday office-hours policy with a first-response target, the
others on a default 24x7 policy; a fifth responded, a tenth pending. Each tree's fresh
process warms up with 5 requests, then reports the median and p90 of `--requests` (wall
time of the request in the client, PostgreSQL's share included) and the median CPU time
of this process per request (steadier when the machine is loaded).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-03-10T12:00:00+00:00"


def configure(pg_database: str) -> None:
    from bench import dataset

    source = os.environ.get("DATABASE_URL") or "sqlite://"
    url = dataset.bench_database_url(source, pg_name=pg_database)
    if url.startswith("postgres"):
        dataset.ensure_postgres_database(url)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "watchdog.settings",
            "DATABASE_URL": url,
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + "x" * 60,
            "ALLOWED_HOSTS": "testserver,localhost",
            "LOG_LEVEL": "WARNING",
        }
    )


def prepare() -> None:
    from datetime import datetime, timedelta
    from datetime import time as wall

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    from policies import services as policy_services
    from policies.models import BusinessCalendar
    from sla.enums import Priority, Status
    from tickets import services
    from tickets.models import Ticket

    user, created = User.objects.get_or_create(username="board-reader")
    if not created and Ticket.objects.filter(owner=user).count() == 101:
        return
    Ticket.objects.all().delete()
    now = datetime.fromisoformat(NOW)
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


def measure(requests: int) -> dict[str, float]:
    import django

    django.setup()
    import time_machine
    from django.core.management import call_command

    # DEBUG is off, as in production: the pages read the collected, hashed static files.
    call_command("collectstatic", interactive=False, verbosity=0)
    from django.contrib.auth.models import User
    from django.test import Client

    user = User.objects.get(username="board-reader")
    client = Client()
    client.force_login(user)
    client.cookies["tz"] = "Europe/Paris"
    result: dict[str, float] = {}
    with time_machine.travel(NOW, tick=True):
        for name, headers in (("first", {}), ("refresh", {"HX-Request": "true"})):
            samples, cpu = [], []
            for n in range(5 + requests):
                began, began_cpu = time.perf_counter(), time.process_time()
                response = client.get("/board/", secure=True, headers=headers)
                elapsed = time.perf_counter() - began
                assert response.status_code == 200, response.status_code
                if n >= 5:
                    samples.append(elapsed)
                    cpu.append(time.process_time() - began_cpu)
            result[f"{name}_p50_ms"] = statistics.median(samples) * 1000
            result[f"{name}_cpu_ms"] = statistics.median(cpu) * 1000
            result[f"{name}_p90_ms"] = statistics.quantiles(samples, n=10)[-1] * 1000
            result["rows"] = response.content.count(b"data-ticket=")
    return result


def child(code_root: str, requests: int) -> dict[str, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([code_root, str(ROOT)])
    env["STATIC_ROOT"] = str(
        Path(tempfile.gettempdir()) / f"board-bench-static-{abs(hash(code_root))}"
    )
    found = subprocess.run(  # noqa: S603 -- this script, by its own path
        [sys.executable, __file__, "--child", str(requests)],
        env=env,
        cwd=code_root,
        check=False,
        capture_output=True,
        text=True,
    )
    if found.returncode:
        raise SystemExit(f"the child failed:\n{found.stderr[-3000:]}")
    return dict(json.loads(found.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg-database", default="sla_bench_board")
    parser.add_argument("--baseline", help="another checkout to measure on the same data")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2, help="alternate the trees this often")
    parser.add_argument("--child", type=int)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    sys.path.insert(0, str(ROOT))
    configure(args.pg_database)
    prepare()
    trees = {"this": str(ROOT)}
    if args.baseline:
        trees["baseline"] = str(Path(args.baseline).resolve())
    print(
        f"{'code':<9} {'rows':>4} {'first p50':>10} {'p90':>7} {'cpu':>7} "
        f"{'refresh p50':>12} {'p90':>7} {'cpu':>7}"
    )
    for _ in range(args.rounds):
        for name, tree in trees.items():
            found = child(tree, args.requests)
            print(
                f"{name:<9} {found['rows']:>4.0f} {found['first_p50_ms']:>8.1f}ms "
                f"{found['first_p90_ms']:>5.1f}ms {found['first_cpu_ms']:>5.1f}ms "
                f"{found['refresh_p50_ms']:>10.1f}ms {found['refresh_p90_ms']:>5.1f}ms "
                f"{found['refresh_cpu_ms']:>5.1f}ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
