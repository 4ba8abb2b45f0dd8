"""Ticket lists seen through owner, assignee and teams: plans and timings on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/watchdog \
        .venv/bin/python bench/visibility.py --tickets 500000 [--pg-database sla_bench_visibility]

Loads N tickets (set-based SQL) owned by 1,000 users: 40% assigned to another user, half
in one of 20 teams of 16 to 67 members (plus the users `late` and `big`, bench/README.md),
and compares for each user of --users the list's first page, a cursor page and the
numbered page's capped count:

- `or`: one query WHERE owner = u OR assignee = u OR team IN (...), ORDER BY deadline, id
  LIMIT 51, what visible_to alone gives;
- `branches`: what tickets.pagination runs, one query per branch with that branch's
  condition only, merged in Python (keyset.read);
- `branches + OR`: the same with visible_to's OR kept in each query (rejected: the
  redundant OR skews the planner's row estimates, see bench/README.md);
- `owner only`: the list as it was before assignees and teams, for reference.

Prints each plan's top node and timing (EXPLAIN ANALYZE, best of --repeat), and the plans
with --plans. The database is the benchmark's own (created when missing), never yours.
"""

# ruff: noqa: S608  (the SQL is built from this file's integer constants and arguments)
from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

USERS = 1000
TEAMS = 20


def use_database(name: str) -> None:
    import psycopg

    source = os.environ.get("DATABASE_URL", "")
    parts = urllib.parse.urlsplit(source)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise SystemExit("DATABASE_URL must name a PostgreSQL server")
    if not name.startswith(("sla_bench", "h13")):
        raise SystemExit("the benchmark's database name must start with sla_bench")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchdog.settings")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 60)
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def load(tickets: int) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM tickets_ticket")
        if cur.fetchone()[0] == tickets + 55_000:
            return
        print(f"loading {tickets:,} tickets ...", flush=True)
        cur.execute("TRUNCATE tickets_ticket, people_team_members, people_team, auth_user CASCADE")
        cur.execute(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, "
            "last_name, email, is_staff, is_active, date_joined) "
            "SELECT g, '!', false, 'u' || g, '', '', 'u' || g || '@example.com', false, true, "
            f"now() FROM generate_series(1, {USERS}) g"
        )
        cur.execute(
            f"INSERT INTO people_team (id, name) SELECT g, 'Team ' || g "
            f"FROM generate_series(1, {TEAMS}) g"
        )
        # Every user in team (u % 20) + 1 if u is odd; every third also in (u*7 % 20) + 1.
        cur.execute(
            "INSERT INTO people_team_members (team_id, user_id) "
            f"SELECT DISTINCT t, u FROM generate_series(1, {USERS}) u, "
            f"LATERAL (VALUES (CASE WHEN u % 2 = 1 THEN u % {TEAMS} + 1 END), "
            f"(CASE WHEN u % 3 = 0 THEN (u * 7) % {TEAMS} + 1 END)) AS v(t) "
            "WHERE t IS NOT NULL"
        )
        cur.execute(
            "INSERT INTO tickets_ticket (owner_id, assignee_id, team_id, title, description, "
            "deadline, status, priority, created_at, updated_at, deadline_source, "
            "resolution_state, first_response_state) "
            f"SELECT g % {USERS} + 1, "
            # Multiplicative hashes, so that who is assigned does not follow g's last digits.
            f"CASE WHEN g % 10 < 4 THEN ((g * 2654435761) % 1000003) % {USERS} + 1 END, "
            f"CASE WHEN g % 2 = 0 THEN ((g * 40503) % 65521) % {TEAMS} + 1 END, "
            "'T' || g, '', now() + ((g * 13) % 40000) * interval '1 minute', 'open', "
            "(ARRAY['low','normal','high','urgent'])[g % 4 + 1], "
            "now() - (g % 5000) * interval '1 minute', now(), 'manual', 'on_track', '' "
            f"FROM generate_series(1::bigint, {tickets}) g"
        )
        # Two harder users: "late" is only in a team whose 5,000 tickets all fall due after
        # everyone else's (an OR walking ticket_deadline_idx reads the whole table before
        # its first row); "big" owns 50,000 tickets spread over the deadlines.
        cur.execute(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, "
            "last_name, email, is_staff, is_active, date_joined) VALUES "
            f"({USERS + 1}, '!', false, 'late', '', '', '', false, true, now()), "
            f"({USERS + 2}, '!', false, 'big', '', '', '', false, true, now())"
        )
        cur.execute(f"INSERT INTO people_team (id, name) VALUES ({TEAMS + 1}, 'Late')")
        cur.execute(
            f"INSERT INTO people_team_members (team_id, user_id) VALUES ({TEAMS + 1}, {USERS + 1})"
        )
        late = "now() + interval '60 days' + g * interval '1 minute'"
        spread = "now() + ((g * 13) % 40000) * interval '1 minute'"
        for owner, team, deadline, count in (
            (f"g % {USERS} + 1", str(TEAMS + 1), late, 5_000),
            (str(USERS + 2), "NULL", spread, 50_000),
        ):
            cur.execute(
                "INSERT INTO tickets_ticket (owner_id, team_id, title, description, deadline, "
                "status, priority, created_at, updated_at, deadline_source, resolution_state, "
                f"first_response_state) SELECT {owner}, {team}, 'X' || g, '', {deadline}, "
                "'open', 'normal', now(), now(), 'manual', 'on_track', '' "
                f"FROM generate_series(1::bigint, {count}) g"
            )
        cur.execute("ANALYZE")


def measure(sql: str, params: Any, repeat: int) -> tuple[float, list[str]]:
    from django.db import connection

    best = float("inf")
    plan: list[str] = []
    with connection.cursor() as cur:
        for _ in range(repeat):
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = [row[0] for row in cur.fetchall()]
            took = float(plan[-1].split(":")[1].split()[0])  # "Execution Time: 1.234 ms"
            best = min(best, took)
    return best, plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=500_000)
    parser.add_argument("--pg-database", default="sla_bench_visibility")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--plans", action="store_true")
    # u3: odd and a multiple of 3, in two teams; u2: in none.
    parser.add_argument("--users", default="u3,u2,late,big")
    args = parser.parse_args()
    use_database(args.pg_database)
    load(args.tickets)

    from django.contrib.auth.models import User

    for username in args.users.split(","):
        report(User.objects.get(username=username), args)


def report(user: Any, args: argparse.Namespace) -> None:
    from django.db.models import Q

    from tickets.models import Ticket, visibility_branches

    branches = visibility_branches(user) or [Q()]
    visible = Ticket.objects.visible_to(user).order_by("deadline", "id")
    unscoped = Ticket.objects.order_by("deadline", "id")
    by_rank = Ticket.objects.order_by("-priority_rank", "deadline", "id")
    by_created = Ticket.objects.order_by("created_at", "deadline", "id")
    total = visible.count()
    cursor_row = visible[500]
    after = Q(deadline__gte=cursor_row.deadline) & (
        Q(deadline__gt=cursor_row.deadline) | Q(deadline=cursor_row.deadline, id__gt=cursor_row.pk)
    )
    print(
        f"{args.tickets:,} tickets; user {user.username} sees {total:,} "
        f"(owns {Ticket.objects.filter(owner=user).count():,}, "
        f"{len(branches)} branches: owner, assignee, {len(branches) - 2} teams)"
    )
    own = Ticket.objects.filter(owner=user).order_by("deadline", "id")
    cases: list[tuple[str, list[Any]]] = [
        ("owner only, first page", [own[:51]]),
        ("or, first page", [visible[:51]]),
        ("branches, first page", [unscoped.filter(b)[:51] for b in branches]),
        ("branches + OR, first", [visible.filter(b)[:51] for b in branches]),
        ("or, cursor page", [visible.filter(after)[:51]]),
        ("branches, cursor page", [unscoped.filter(b, after)[:51] for b in branches]),
        ("branches + OR, cursor", [visible.filter(b, after)[:51] for b in branches]),
        # ?ordering=-priority's first part (urgent, a rank team tickets lack here), and
        # ?ordering=created_at, which no assignee or team index serves.
        ("branches, urgent rank", [by_rank.filter(b, priority_rank=3)[:51] for b in branches]),
        ("branches, created_at", [by_created.filter(b)[:51] for b in branches]),
    ]
    for name, querysets in cases:
        took = 0.0
        plans = []
        for qs in querysets:
            sql, params = qs.query.sql_with_params()
            best, plan = measure(sql, params, args.repeat)
            took += best
            plans.append(plan)
        tops = "; ".join(p[0].split("  (")[0].strip() + " / " + _scan(p) for p in plans)
        queries = "1 query" if len(querysets) == 1 else f"{len(querysets)} queries"
        print(f"{name:<24} {took:8.2f} ms  {queries}")
        print(f"{'':<24} {tops}")
        if args.plans:
            for plan in plans:
                print("\n".join("    " + line for line in plan))
    # The numbered page's count, capped at API_COUNT_LIMIT + 1 rows (watchdog.pagination.counts).
    from django.conf import settings

    count_qs = visible.order_by()[: settings.API_COUNT_LIMIT + 1]
    start = time.perf_counter()
    count_qs.count()
    took = (time.perf_counter() - start) * 1000
    print(f"{'or, capped count':<24} {took:8.2f} ms (wall, one run)")


def _scan(plan: list[str]) -> str:
    """The index (or scan) the plan reads."""
    for line in plan:
        for marker in ("Index Scan", "Index Only Scan", "Bitmap Index Scan", "Seq Scan"):
            if marker in line:
                return line.strip().lstrip("-> ").split("  (")[0]
    return "?"


if __name__ == "__main__":
    main()
