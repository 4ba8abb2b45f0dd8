"""The compliance report (tickets.reports.compliance) on the SLA benchmark's table.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/watchdog \\
        .venv/bin/python bench/reports.py --tickets 1000000 [--reuse]

Rolls the compliance report's days up from scratch (tickets.rollup, timed), then times
each report counted from the tickets ("counted", main's way) and, where it serves, from
the roll-up ("rolled up": staff, the year).

Loads the table of bench/dataset.py (in its own database, `--pg-database`, never yours),
then gives 80% of the tickets a first response (0-4 h after creation), every 20th one
a one-hour pause, and nine in ten a policy on a Monday-Friday 9:00-17:00 Berlin calendar
with Germany's holidays (the rest none: the wall clock), which that table has none of:
the report's business-time durations apply a calendar to every answered or resolved
ticket. Times the report of a month and of a
year, by priority and by policy, for a staff user (every ticket) and for one owner
(a thousandth of them): the first call after loading, then the median of five. Prints a
table; bench/README.md keeps the results.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import dataset

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
WINDOWS = {
    "month": (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
    "year": (datetime(2025, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
}


def configure(pg_database: str) -> None:
    source = os.environ.get("DATABASE_URL") or "sqlite://"
    url = dataset.bench_database_url(source, pg_name=pg_database)
    if url.startswith("postgres"):
        dataset.ensure_postgres_database(url)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "watchdog.settings",
            "DATABASE_URL": url,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "localhost",
            "LOG_LEVEL": "WARNING",
        }
    )


def load(tickets: int, *, reuse: bool) -> None:
    from django.conf import settings
    from django.db import connection

    spec = dataset.Spec(
        tickets=tickets,
        period=100,
        now=NOW.isoformat(),
        warning_minutes=settings.SLA_WARNING_MINUTES,
    )
    ds = dataset.Dataset(spec, connection.vendor)
    if ds.prepare(reuse=reuse):
        print(f"reusing {tickets} tickets")
        return
    started = time.perf_counter()
    ds.grow_to(tickets)
    pg = connection.vendor == "postgresql"
    minutes = "(id % 240) * interval '1 minute'" if pg else "'+' || (id % 240) || ' minutes'"
    responded = f"created_at + {minutes}" if pg else f"datetime(created_at, {minutes})"
    hour = "interval '1 hour'" if pg else "'+1 hours'"
    ended = f"created_at + {hour}" if pg else f"datetime(created_at, {hour})"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE tickets_ticket SET first_responded_at = {responded} WHERE id % 5 <> 0"  # noqa: S608
        )
        cursor.execute("DELETE FROM tickets_ticketpause")
        cursor.execute(
            "INSERT INTO tickets_ticketpause (ticket_id, started_at, ended_at) "  # noqa: S608
            f"SELECT id, created_at, {ended} FROM tickets_ticket WHERE id % 20 = 0"
        )
        cursor.execute("UPDATE tickets_ticket SET policy_id = NULL")
    policy = office_policy()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE tickets_ticket SET policy_id = %s WHERE id %% 10 <> 0", [policy])
    ds.analyze()
    print(f"loaded {tickets} tickets in {time.perf_counter() - started:.0f} s")


def office_policy() -> int:
    """The id of the benchmark's policy on office hours (created once)."""
    from datetime import time as wall
    from datetime import timedelta

    from policies.models import BusinessCalendar, OpeningHours, SlaPolicy

    calendar, created = BusinessCalendar.objects.get_or_create(
        name="bench office", defaults={"time_zone": "Europe/Berlin", "holiday_country": "DE"}
    )
    if created:
        OpeningHours.objects.bulk_create(
            OpeningHours(calendar=calendar, weekday=day, opens=wall(9), closes=wall(17))
            for day in range(5)
        )
    policy, _ = SlaPolicy.objects.get_or_create(
        name="bench office hours",
        defaults={"calendar": calendar, "priority": None, "resolution_target": timedelta(hours=8)},
    )
    return policy.pk


def refresh_rollup() -> tuple[int, float]:
    """Roll up every day from scratch, as after deploying it (the checks would do it bit
    by bit); returns the days counted and the seconds it took."""
    from datetime import timedelta

    from tickets import rollup
    from tickets.models import ReportStale

    ReportStale.objects.create(day=None)
    started = time.perf_counter()
    days = rollup.refresh(now=NOW + timedelta(days=1), max_days=100_000, budget_seconds=3600)
    return days, time.perf_counter() - started


def measure(paths: list[str]) -> list[tuple[str, str, str, str, int, float, float]]:
    """Each report, counted from the tickets ("counted": what main does) and, for the
    periods and readers it serves, from the daily roll-up ("rolled up")."""
    from django.contrib.auth.models import User
    from django.db import connection

    from tickets import reports

    staff, _ = User.objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    owner = User.objects.get(pk=2)  # owns ids 1, 1001, ...: not the due tickets (multiples of 100)
    rows = []
    for who, user in (("staff", staff), ("one owner", owner)):
        for window, (start, end) in WINDOWS.items():
            for group_by in ("priority", "policy"):
                for path in paths:
                    after = reports.ROLLUP_AFTER_DAYS if path == "rolled up" else 100_000
                    reports.ROLLUP_AFTER_DAYS, saved = after, reports.ROLLUP_AFTER_DAYS
                    connection.close()  # a fresh connection: nothing prepared or cached in it
                    times = []
                    for _ in range(6):
                        began = time.perf_counter()
                        report = reports.compliance(
                            user, start=start, end=end, group_by=group_by, now=NOW
                        )
                        times.append(time.perf_counter() - began)
                    reports.ROLLUP_AFTER_DAYS = saved
                    rows.append(
                        (
                            who,
                            window,
                            group_by,
                            report.percentiles,
                            report.total.tickets,
                            times[0],
                            statistics.median(times[1:]),
                        )
                    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--pg-database", default="sla_bench_reports")
    parser.add_argument(
        "--load-only", action="store_true", help="load (or reuse) and roll up, no timing"
    )
    args = parser.parse_args()
    configure(args.pg_database)
    os.environ["BENCH_PG_DATABASE"] = args.pg_database
    import django

    django.setup()
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if name not in {str(dataset.SQLITE_PATH), args.pg_database}:
        raise SystemExit(f"refusing to run against database {name!r}: not the benchmark's")
    load(args.tickets, reuse=args.reuse)
    days, seconds = refresh_rollup()
    print(f"roll-up: {days} days counted in {seconds:.1f} s")
    if args.load_only:
        return
    print(f"{connection.vendor}, {args.tickets} tickets, now {NOW.isoformat()}")
    print(
        f"{'who':<10} {'period':<6} {'group_by':<9} {'percentiles':<11} {'tickets':>8} "
        f"{'first s':>8} {'median s':>9}"
    )
    for who, window, group_by, kind, count, first, median in measure(["counted", "rolled up"]):
        print(
            f"{who:<10} {window:<6} {group_by:<9} {kind:<11} {count:>8} {first:>8.3f} "
            f"{median:>9.3f}"
        )


if __name__ == "__main__":
    main()
