"""`manage.py check_sla`: one pass (for cron), or `--loop` to run continuously."""

import logging
import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from tickets.checker import run_check, seconds_until_next_due
from tickets.engine import preview

log = logging.getLogger(__name__)


class Command(BaseCommand):
    # Checks run once at server start; cron output should be the one-line summary.
    requires_system_checks: list[str] = []
    help = (
        "Apply due SLA state changes and deliver pending emails. Exits 0 when deliveries "
        "failed and were rescheduled; non-zero only when the check itself could not run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--loop", action="store_true", help="Run continuously, waking at the next due time."
        )
        parser.add_argument(
            "--max-interval",
            type=float,
            default=settings.SLA_CHECK_INTERVAL,
            help="With --loop: the longest sleep between checks, in seconds "
            "(default SLA_CHECK_INTERVAL=%(default)s).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what is due; change and send nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            self._dry_run()
        elif options["loop"]:
            self._loop(max_interval=options["max_interval"])
        else:
            self.stdout.write(run_check().summary())

    def _dry_run(self) -> None:
        from notifications.models import DeliveryStatus, Notification

        now = timezone.now()
        plan = preview(now=now, limit=10_000)
        for facts, result in plan:
            announce = (
                ", ".join(f"{metric} {kind}" for metric, kind, _ in result.announcements())
                or "nothing"
            )
            self.stdout.write(
                f"ticket {facts.id}: {facts.resolution_state} -> "
                f"{result.resolution.state}, would announce {announce}"
            )
        pending = Notification.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).count()
        self.stdout.write(f"check_sla --dry-run: {len(plan)} due tickets, {pending} emails due")

    def _loop(self, *, max_interval: float) -> None:
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.stdout.write(f"check_sla: looping, at most {max_interval:g} s between checks")
        while not stop.is_set():
            try:
                close_old_connections()
                report = run_check()
                if report.state_changes or report.delivery.sent or report.delivery.retrying:
                    self.stdout.write(report.summary())
                wait = seconds_until_next_due(ceiling=max_interval)
            except DatabaseError:
                # The database may be restarting: keep the loop alive and try again.
                log.exception("check_sla: database unavailable, retrying")
                wait = max_interval
            except Exception:
                # Whatever one pass tripped on (a row's data, a bug), the next pass may
                # well succeed, and a dead loop sends nothing at all: log and go on.
                log.exception("check_sla: the check failed, retrying")
                wait = max_interval
            # Sleep at least a moment so a row that stays due cannot spin the loop.
            stop.wait(max(wait, 0.05))
        self.stdout.write("check_sla: stopped")
