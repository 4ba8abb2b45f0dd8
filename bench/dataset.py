"""The benchmark's own database: choosing it, filling it with set-based SQL, resetting it.

Never the developer's database: on PostgreSQL a separate database (`sla_bench`) on the
server DATABASE_URL names, created when missing; on SQLite the file var/bench.sqlite3.

Every ticket's fields are a pure function of its id and the benchmark's `now`, so the
same arguments build the same table on either database, and "reset" can put the due
tickets back exactly as they were loaded. Categories, by id:

- every `period`-th ticket (1% for --due-fraction 0.01) is due at `now`: half of them
  passed their deadline while at risk (they become breached, announce "missed"), half
  entered the warning window while on track (they become at risk, announce "warning");
- of the rest, about 9% are open and 2% pending, on track with deadlines from one hour
  past the warning window up to two weeks ahead (due later, not now); 2% are open and
  already breached; the remaining 87% were resolved or closed 30 days to 2 years ago
  (about one in ten of them late). Those last two groups have next_check_at NULL;
- a history of sent notifications, as production would have: a "created" email for
  every ticket, a "warning" and a "missed" email for every ticket that got them.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# BENCH_SQLITE_PATH moves it (several benchmark runs side by side, each with its own file).
SQLITE_PATH = Path(os.environ.get("BENCH_SQLITE_PATH") or ROOT / "var" / "bench.sqlite3")
DEFAULT_PG_NAME = "sla_bench"
USERS = 1000
# Bump when the generated data changes, so --reuse never measures a stale table.
DATA_VERSION = 2

# No quotes: it is inlined into the loading SQL.
DESCRIPTION = (
    "The printer on the third floor jams whenever a document is printed on both sides. "
    "It started after the firmware update last week; the paper tray and rollers were "
    "checked and look fine. Please escalate to the vendor if needed."
)


def bench_database_url(source_url: str, *, pg_name: str = DEFAULT_PG_NAME) -> str:
    """The benchmark's database URL: same PostgreSQL server, another database; or SQLite."""
    parts = urllib.parse.urlsplit(source_url)
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        return urllib.parse.urlunsplit(parts._replace(path=f"/{pg_name}"))
    if parts.scheme in {"", "sqlite"}:
        return f"sqlite:///{SQLITE_PATH}"
    raise SystemExit(f"unsupported DATABASE_URL scheme {parts.scheme!r}: use postgres or sqlite")


def ensure_postgres_database(url: str) -> bool:
    """Create the benchmark database when missing (autocommit, from the `postgres` db)."""
    import psycopg
    from psycopg import sql

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if exists.fetchone():
            return False
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def remove_sqlite_files() -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(f"{SQLITE_PATH}{suffix}")
        if path.exists():
            os.remove(path)


@dataclass(frozen=True)
class Spec:
    """What the data is a function of; --reuse only reuses a table built from the same."""

    tickets: int
    period: int  # every period-th ticket is due
    now: str  # ISO 8601, UTC, whole seconds
    warning_minutes: int
    users: int = USERS
    version: int = DATA_VERSION


class Dialect:
    """The few places where PostgreSQL and SQLite SQL differ, as trusted SQL fragments."""

    def __init__(self, vendor: str) -> None:
        if vendor not in {"postgresql", "sqlite"}:
            raise SystemExit(f"unsupported database vendor {vendor!r}")
        self.vendor = vendor
        self.pg = vendor == "postgresql"

    def numbers(self, low: int, high: int) -> str:
        """A row source `seq` with one column `i` from low to high inclusive."""
        if self.pg:
            return f"generate_series({low}::bigint, {high}::bigint) AS seq(i)"
        return (
            f"(WITH RECURSIVE seq(i) AS (SELECT {low} UNION ALL SELECT i + 1 FROM seq "  # noqa: S608
            f"WHERE i < {high}) SELECT i FROM seq) AS seq"
        )

    def moment(self, at: datetime) -> str:
        utc = at.astimezone(UTC)
        if self.pg:
            return f"TIMESTAMPTZ '{utc.isoformat()}'"
        # Django stores SQLite datetimes as naive UTC text, compared as strings.
        return f"'{utc.replace(tzinfo=None).isoformat(sep=' ')}'"

    def shift(self, expr: str, minutes: str) -> str:
        """`expr` moved by `minutes` (an SQL integer expression; NULL gives NULL)."""
        if self.pg:
            return f"({expr} + ({minutes}) * INTERVAL '1 minute')"
        return f"datetime({expr}, ({minutes}) || ' minutes')"

    def message_key(self, number: str) -> str:
        if self.pg:
            return f"lpad(to_hex({number}), 32, '0')::uuid"
        return f"printf('%032x', {number})"  # UUIDField is char(32) hex on SQLite


class Dataset:
    """The benchmark table in the database Django is connected to."""

    def __init__(self, spec: Spec, vendor: str) -> None:
        self.spec = spec
        self.d = Dialect(vendor)
        self.now = datetime.fromisoformat(spec.now)
        self.size = 0
        # Notifications with an id above this were made by the benchmark, not the loader.
        self.history_marker = 0

    # --- bookkeeping --------------------------------------------------------------------

    def _execute(self, statement: str) -> int:
        from django.db import connection

        with connection.cursor() as cursor:
            # No parameters: the SQL is built from this module's constants and integers,
            # and without parameters neither driver treats `%` as a placeholder.
            cursor.execute(statement)
            return int(cursor.rowcount)

    def _scalar(self, statement: str) -> int:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(statement)
            row = cursor.fetchone()
        return int(row[0] or 0) if row else 0

    def _save_meta(self) -> None:
        meta = json.dumps({**asdict(self.spec), "size": self.size, "marker": self.history_marker})
        self._execute("DELETE FROM bench_dataset")
        self._execute(
            "INSERT INTO bench_dataset (name, value) VALUES ('spec', '" + meta + "')"  # noqa: S608
        )

    def prepare(self, *, reuse: bool) -> bool:
        """Migrate; keep the loaded table when `reuse` and it was built from the same spec.

        Returns True when the existing table is reused.
        """
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        self._execute("CREATE TABLE IF NOT EXISTS bench_dataset (name VARCHAR(32), value TEXT)")
        if reuse:
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("SELECT value FROM bench_dataset WHERE name = 'spec'")
                row = cursor.fetchone()
            if row:
                meta = json.loads(row[0])
                size, marker = meta.pop("size"), meta.pop("marker")
                if meta == asdict(self.spec) and size == self.spec.tickets:
                    self.size, self.history_marker = size, marker
                    return True
        self._truncate()
        return False

    def _truncate(self) -> None:
        if self.d.pg:
            self._execute(
                "TRUNCATE notifications_notification, tickets_ticket, auth_user "
                "RESTART IDENTITY CASCADE"
            )
        else:
            # Fresh loads start from a new SQLite file; this covers a reused one.
            for table in ("notifications_notification", "tickets_ticket", "auth_user"):
                self._execute(f"DELETE FROM {table}")  # noqa: S608
        self._execute("DELETE FROM bench_dataset")
        self.size = 0
        self.history_marker = 0

    # --- loading ------------------------------------------------------------------------

    def grow_to(self, size: int) -> None:
        """Add tickets (and their notification history) up to `size`, in one transaction."""
        from django.db import transaction

        if size <= self.size:
            return
        self.reset()
        low, high = self.size + 1, size
        with transaction.atomic():
            if self.size == 0:
                self._insert_users()
            self._execute(self._tickets_sql(low, high))
            for kind in ("created", "warning", "missed"):
                self._execute(self._history_sql(kind, low, high))
            if self.d.pg:
                for table in ("auth_user", "tickets_ticket"):
                    self._execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                        f"(SELECT MAX(id) FROM {table}))"
                    )
            self.size = size
            self.history_marker = self._scalar("SELECT MAX(id) FROM notifications_notification")
            self._save_meta()
        self.analyze()

    def _insert_users(self) -> None:
        now = self.d.moment(self.now)
        self._execute(
            "INSERT INTO auth_user (id, password, last_login, is_superuser, username, "  # noqa: S608
            "first_name, last_name, email, is_staff, is_active, date_joined) "
            f"SELECT i, '!', NULL, FALSE, 'bench-user-' || i, '', '', "
            f"'bench-user-' || i || '@example.com', FALSE, TRUE, {now} "
            f"FROM {self.d.numbers(1, self.spec.users)}"
        )

    def _tickets_sql(self, low: int, high: int) -> str:
        p, w, d = self.spec.period, self.spec.warning_minutes, self.d
        now = d.moment(self.now)
        span = max(w - 1, 1)
        category = f"""CASE
            WHEN i % {p} = 0 THEN
                (CASE WHEN (i / {p}) % 2 = 0 THEN 'due_breach' ELSE 'due_warn' END)
            WHEN (i * 37) % 100 < 9 THEN 'on_track'
            WHEN (i * 37) % 100 < 11 THEN 'pending'
            WHEN (i * 37) % 100 < 13 THEN 'open_breached'
            WHEN (i * 37) % 10 = 3 THEN 'done_late'
            ELSE 'done_ok' END"""
        # Times are minutes relative to `now`, turned into timestamps in the outer SELECT.
        created = """CASE cat
            WHEN 'due_breach' THEN -(1441 + j % 50)
            WHEN 'due_warn' THEN -(60 + i % 1380)
            WHEN 'on_track' THEN -(i % 4320)
            WHEN 'pending' THEN -(i % 4320)
            WHEN 'open_breached' THEN -(4320 + i % 40000)
            ELSE -(43200 + i % 1000000) END"""
        deadline = f"""CASE cat
            WHEN 'due_breach' THEN -(1 + j % 50)
            WHEN 'due_warn' THEN 1 + j % {span}
            WHEN 'on_track' THEN {w + 60} + i % 20160
            WHEN 'pending' THEN {w + 60} + i % 20160
            WHEN 'open_breached' THEN -(2880 + i % 40000)
            ELSE -(41760 + i % 1000000) END"""
        status = """CASE
            WHEN cat IN ('done_ok', 'done_late') THEN
                (CASE WHEN i % 3 = 0 THEN 'closed' ELSE 'resolved' END)
            WHEN cat = 'pending' OR (cat = 'due_warn' AND j % 4 = 1) THEN 'pending'
            ELSE 'open' END"""
        resolution_state = """CASE cat
            WHEN 'due_breach' THEN 'at_risk'
            WHEN 'open_breached' THEN 'breached'
            WHEN 'done_late' THEN 'breached'
            WHEN 'done_ok' THEN 'achieved'
            ELSE 'on_track' END"""
        next_check = f"""CASE
            WHEN cat = 'due_breach' THEN deadline_min
            WHEN cat IN ('due_warn', 'on_track', 'pending') THEN deadline_min - {w} END"""
        warned = f"""CASE WHEN cat IN ('due_breach', 'open_breached', 'done_late')
            THEN deadline_min - {w} + 1 END"""
        breached = "CASE WHEN cat IN ('open_breached', 'done_late') THEN deadline_min END"
        # The engine's record of the warning announced (business seconds left); no policy,
        # so the one threshold is SLA_WARNING_MINUTES before the deadline.
        resolution_warning_threshold = f"""CASE
            WHEN cat IN ('due_breach', 'open_breached', 'done_late') THEN {w * 60} END"""
        # The deadline still ahead of a running metric (resolution only: no first response).
        next_breach = """CASE WHEN cat IN ('due_breach', 'due_warn', 'on_track', 'pending')
            THEN deadline_min END"""
        priority = """CASE i % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'normal' WHEN 2 THEN 'high'
            ELSE 'urgent' END"""
        return f"""
        INSERT INTO tickets_ticket (id, owner_id, title, description, deadline, status,
            priority, created_at, updated_at, resolved_at, resolution_state,
            resolution_warning_sent_at, resolution_breached_at, next_check_at, deadline_source,
            resolution_warning_threshold, next_breach_at, first_response_state)
        SELECT i, 1 + i % {self.spec.users},
            'Printer on floor ' || (i % 40) || ' jams on duplex pages (case ' || i || ')',
            '{DESCRIPTION}',
            {d.shift(now, "deadline_min")},
            {status},
            {priority},
            {d.shift(now, "created_min")},
            {d.shift(now, "COALESCE(resolved_min, created_min)")},
            {d.shift(now, "resolved_min")},
            {resolution_state},
            {d.shift(now, warned)},
            {d.shift(now, breached)},
            {d.shift(now, next_check)},
            'manual',
            {resolution_warning_threshold},
            {d.shift(now, next_breach)},
            ''
        FROM (
            SELECT i, j, cat, created_min, deadline_min,
                CASE cat WHEN 'done_ok' THEN created_min + i % 1380
                         WHEN 'done_late' THEN deadline_min + 180 END AS resolved_min
            FROM (
                SELECT i, j, cat, {created} AS created_min, {deadline} AS deadline_min
                FROM (SELECT i, i / {p} AS j, {category} AS cat FROM {d.numbers(low, high)}) AS l1
            ) AS l2
        ) AS l3
        """  # noqa: S608

    def _history_sql(self, kind: str, low: int, high: int) -> str:
        d = self.d
        number, at, condition, threshold = {
            "created": ("t.id * 4", d.shift("t.created_at", "1"), "", "0"),
            "warning": (
                "t.id * 4 + 1",
                "t.resolution_warning_sent_at",
                "AND t.resolution_warning_sent_at IS NOT NULL",
                "t.resolution_warning_threshold",
            ),
            "missed": (
                "t.id * 4 + 2",
                "t.resolution_breached_at",
                "AND t.resolution_breached_at IS NOT NULL",
                "0",
            ),
        }[kind]
        return f"""
        INSERT INTO notifications_notification (ticket_id, metric, kind, deadline, threshold,
            message_key, status, recipient, attempts, next_attempt_at, last_error, created_at,
            sent_at)
        SELECT t.id, 'resolution', '{kind}', t.deadline, {threshold}, {d.message_key(number)},
            'sent', u.email, 1, NULL, '', {at}, {at}
        FROM tickets_ticket t JOIN auth_user u ON u.id = t.owner_id
        WHERE t.id BETWEEN {low} AND {high} {condition}
        ORDER BY t.id
        """  # noqa: S608

    def analyze(self, *, vacuum: bool = True) -> None:
        """Fresh planner statistics; on PostgreSQL also VACUUM (this server runs no autovacuum)."""
        if self.d.pg:
            verb = "VACUUM (ANALYZE)" if vacuum else "ANALYZE"
            self._execute(f"{verb} auth_user, tickets_ticket, notifications_notification")
        else:
            self._execute("ANALYZE")
            self._execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- resetting ----------------------------------------------------------------------

    def reset(self) -> None:
        """Put the due tickets back as loaded and drop every notification the run made."""
        if not self.size:
            return
        p, w, d = self.spec.period, self.spec.warning_minutes, self.d
        breach = f"(id / {p}) % 2 = 0"
        self._execute(f"DELETE FROM notifications_notification WHERE id > {self.history_marker}")  # noqa: S608
        self._execute(
            f"""UPDATE tickets_ticket SET
                resolution_state = CASE WHEN {breach} THEN 'at_risk' ELSE 'on_track' END,
                next_check_at = CASE WHEN {breach} THEN deadline
                    ELSE {d.shift("deadline", str(-w))} END,
                resolution_warning_sent_at = CASE
                    WHEN {breach} THEN {d.shift("deadline", str(1 - w))} END,
                resolution_warning_threshold = CASE WHEN {breach} THEN {w * 60} END,
                resolution_breached_at = NULL,
                next_breach_at = deadline,
                first_response_state = '',
                first_response_warning_threshold = NULL,
                first_response_breached_at = NULL
            WHERE id % {p} = 0"""  # noqa: S608
        )

    def due_count(self) -> int:
        return self.size // self.spec.period

    def count_due_now(self) -> int:
        now = self.d.moment(self.now)
        return self._scalar(
            f"SELECT COUNT(*) FROM tickets_ticket WHERE next_check_at <= {now}"  # noqa: S608
        )

    # --- the delivery benchmark's own notifications -------------------------------------

    def add_pending_warnings(self, count: int) -> list[int]:
        """Queue `count` warning emails for on-track tickets; returns those tickets' ids.

        Warnings, not misses, because sending one also stamps the ticket (the heavier path).
        """
        now = self.d.moment(self.now)
        key = self.d.message_key("t.id * 4 + 3")
        self._execute(
            f"""INSERT INTO notifications_notification (ticket_id, kind, deadline, message_key,
                status, recipient, attempts, next_attempt_at, last_error, created_at, sent_at)
            SELECT t.id, 'warning', t.deadline, {key}, 'pending', '', 0, {now}, '', {now}, NULL
            FROM tickets_ticket t
            WHERE t.resolution_state = 'on_track' AND t.next_check_at > {now}
            ORDER BY t.id LIMIT {count}"""  # noqa: S608
        )
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT ticket_id FROM notifications_notification "  # noqa: S608
                f"WHERE id > {self.history_marker} AND status = 'pending' ORDER BY id"
            )
            return [row[0] for row in cursor.fetchall()]

    def remove_warnings(self, ticket_ids: list[int]) -> None:
        self._execute(f"DELETE FROM notifications_notification WHERE id > {self.history_marker}")  # noqa: S608
        from tickets.models import Ticket

        for start in range(0, len(ticket_ids), 500):
            Ticket.objects.filter(pk__in=ticket_ids[start : start + 500]).update(
                resolution_warning_sent_at=None
            )
