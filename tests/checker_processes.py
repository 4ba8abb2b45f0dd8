"""Running SLA checkers side by side: as threads, or as real `manage.py check_sla` processes.

Threads each open their own database connection (Django's connections are per thread)
and close it when done, so the test database can be flushed and dropped afterwards.
Processes get the test database's URL in their environment: they see what the test
committed, which is why every test using them is `django_db(transaction=True)`.

Also here: `StallingSmtpServer`, the recording server of tests/smtp_server.py with one
more way to misbehave: it accepts the first N messages, then holds the next one at DATA
until released, so a test knows exactly which message is in flight when it kills a sender.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection

from sla.enums import Announcement, SlaState
from tests.smtp_server import LOOPBACK, ReceivedMessage, SmtpServer, _RecordingHandler
from tickets.clocks import warning_window
from tickets.models import Ticket

T = TypeVar("T")

# Generous: a thread or process that is still running after this is stuck, not slow.
STUCK_AFTER_SECONDS = 120.0


# --- Threads --------------------------------------------------------------------------------


def side_by_side(*work: Callable[[], T]) -> list[T]:
    """Run each callable on its own thread, all released at once; return their results.

    The first exception raised on any thread is raised here, after every thread ended.
    """
    start = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)
    errors: list[BaseException] = []

    def run(index: int, job: Callable[[], T]) -> None:
        try:
            start.wait(timeout=STUCK_AFTER_SECONDS)
            results[index] = job()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, job), name=f"checker-{index}", daemon=True)
        for index, job in enumerate(work)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=STUCK_AFTER_SECONDS)
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"still running after {STUCK_AFTER_SECONDS} s: {stuck}"
    if errors:
        raise errors[0]
    return results


# --- Processes ------------------------------------------------------------------------------


def current_database_url() -> str:
    """DATABASE_URL naming the database this test runs on (pytest-django's test copy)."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    assert database["ENGINE"] == "django.db.backends.postgresql", database["ENGINE"]
    user = quote(str(database.get("USER") or ""), safe="")
    password = quote(str(database.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = database.get("HOST") or "localhost"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(str(database['NAME']), safe='')}"


def checker_environment(*, smtp_port: int, **sla_settings: object) -> dict[str, str]:
    """The environment for a checker process: test database, real SMTP to loopback.

    `sla_settings` are extra variables, for instance SLA_DELIVERY_LEASE_SECONDS=10.
    """
    environment = dict(os.environ)
    environment.update(
        DATABASE_URL=current_database_url(),
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST=LOOPBACK,
        EMAIL_PORT=str(smtp_port),
        EMAIL_TIMEOUT="5",
        EMAIL_USE_TLS="false",
        EMAIL_USE_SSL="false",
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        LOG_LEVEL="WARNING",
    )
    environment.update({name: str(value) for name, value in sla_settings.items()})
    return environment


def start_check_sla(environment: dict[str, str]) -> subprocess.Popen[str]:
    """`manage.py check_sla` (one pass) as a separate process; the caller waits or kills."""
    return subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "check_sla"],
        cwd=settings.BASE_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> str:
    """Wait for a checker process; its stdout, or an assertion error with its stderr."""
    stdout, stderr = process.communicate(timeout=STUCK_AFTER_SECONDS)
    assert process.returncode == 0, f"check_sla exited {process.returncode}:\n{stderr}"
    return stdout


# --- Tickets, made in bulk ------------------------------------------------------------------

Expected = set[tuple[int, str, datetime]]


def bulk_due_tickets(*, owner: User, now: datetime, count: int) -> Expected:
    """Insert `count` tickets whose SLA state changes at `now`, as the engine left them.

    A third are on track and enter the warning window, a third are on track and already
    past their deadline (first seen late: missed, never warned), a third are at risk and
    past their deadline. Returns the (ticket id, kind, deadline) each transition announces.
    """
    window = warning_window()
    rows: list[tuple[Ticket, str]] = []
    for index in range(count):
        spread = timedelta(seconds=index)  # distinct deadlines, so ordering is stable
        group = index % 3
        if group == 0:
            deadline = now + window / 2 - spread
            rows.append((_due_ticket(owner, deadline, SlaState.ON_TRACK, deadline - window), "w"))
        elif group == 1:
            deadline = now - timedelta(minutes=5) - spread
            rows.append((_due_ticket(owner, deadline, SlaState.ON_TRACK, deadline - window), "m"))
        else:
            deadline = now - timedelta(minutes=1) - spread
            rows.append((_due_ticket(owner, deadline, SlaState.AT_RISK, deadline), "m"))
    created = Ticket.objects.bulk_create([ticket for ticket, _ in rows], batch_size=500)
    return {
        (
            ticket.pk,
            Announcement.WARNING if code == "w" else Announcement.MISSED,
            ticket.deadline,
        )
        for ticket, (_, code) in zip(created, rows, strict=True)
    }


def _due_ticket(
    owner: User, deadline: datetime, state: SlaState, next_check_at: datetime
) -> Ticket:
    return Ticket(
        owner=owner,
        title=f"Due at {deadline.isoformat()}",
        deadline=deadline,
        resolution_state=state,
        next_check_at=next_check_at,
    )


# --- A mail server that holds one message -----------------------------------------------------


class _StallingHandler(_RecordingHandler):
    def __init__(self, server: StallingSmtpServer) -> None:
        super().__init__(server)
        self.stalling = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        stalling = self.stalling
        with stalling.lock:
            hold = len(stalling.messages) == stalling.accept_first and stalling.held is None
            if hold:
                stalling.held = ReceivedMessage(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    raw=bytes(envelope.original_content),
                )
                stalling.stalled.set()
        if not hold:
            return await super().handle_DATA(server, session, envelope)
        # Off the event loop, so other connections are served meanwhile. If the client
        # goes away first, aiosmtpd cancels this handler and the message is never accepted.
        await asyncio.to_thread(stalling.released.wait, STUCK_AFTER_SECONDS)
        reply = await super().handle_DATA(server, session, envelope)
        stalling.accepted.set()
        return reply


class StallingSmtpServer(SmtpServer):
    """Accepts `accept_first` messages, then holds the next one at DATA (after reading it,
    before replying) until `release()`; later messages are accepted as usual.

    `stalled` is set when the held message has arrived, `accepted` once it was released
    and recorded (and its 250 reply is on its way to a sender that may be gone by then).
    """

    def __init__(self, *, accept_first: int) -> None:
        super().__init__()
        self.accept_first = accept_first
        self.held: ReceivedMessage | None = None
        self.stalled = threading.Event()
        self.released = threading.Event()
        self.accepted = threading.Event()
        self._handler = _StallingHandler(self)

    def release(self) -> None:
        self.released.set()

    def stop(self) -> None:
        self.release()  # never leave a handler thread waiting on a stopped server
        super().stop()
