"""/healthz: can this deployment do its job right now?

Anyone may ask, and an anonymous caller learns only that (`{"status": "ok"}`, 200, or
"unhealthy", 503): the checks' facts (backlog, checker age, database vendor) are for the
operator, with the metrics token (`Authorization: Bearer <METRICS_TOKEN>`) or a staff
session, as /metrics. Even then a failing check names only the exception's class; the
details (host names, URLs) go to the log. Cheap enough to probe every few seconds: one
cache round trip, one broker connection when Celery is configured, and a few indexed
queries.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from notifications.backlog import backlog
from tickets.checker import last_run
from watchdog.celery import broker_connection
from watchdog.metrics import may_read_operations

log = logging.getLogger(__name__)

# Give up on the broker after this long: a probe must answer before the prober gives up.
BROKER_TIMEOUT_SECONDS = 2


@dataclass
class Check:
    ok: bool
    facts: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.facts}


def _failed(name: str, error: Exception) -> Check:
    log.warning("healthz: %s check failed: %s: %s", name, type(error).__name__, error)
    return Check(ok=False, facts={"error": type(error).__name__})


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:
        return _failed("database", error)
    return Check(ok=True, facts={"vendor": connection.vendor})


def check_cache() -> Check:
    try:
        cache.set("healthz", "ok", timeout=10)
        answered = cache.get("healthz") == "ok"
    except Exception as error:
        return _failed("cache", error)
    return Check(ok=answered)


def check_broker() -> Check:
    if not settings.CELERY_BROKER_URL:
        # The embedded default: the check_sla loop does the work, no broker is involved.
        return Check(ok=True, facts={"configured": False})
    try:
        with broker_connection(timeout=BROKER_TIMEOUT_SECONDS) as broker:
            broker.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
            transport = broker.transport_cls
    except Exception as error:
        return _failed("broker", error)
    return Check(ok=True, facts={"configured": True, "transport": str(transport)})


def check_checker(now: datetime) -> Check:
    run = last_run()
    if run is None:
        return Check(ok=False, facts={"last_run_at": None})
    age = max(0.0, (now - run.finished_at).total_seconds())
    return Check(
        ok=age <= settings.HEALTH_CHECKER_STALE_SECONDS,
        facts={
            "last_run_at": run.finished_at.isoformat(),
            "seconds_since_last_run": round(age, 3),
            "last_run_duration_seconds": round(run.duration_seconds, 6),
            "stale_after_seconds": settings.HEALTH_CHECKER_STALE_SECONDS,
        },
    )


def check_outbox(now: datetime) -> Check:
    state = backlog(now=now)
    overdue = state.overdue_seconds(now)
    # A row no sender can move is unhealthy; an email given up on is reported, not a
    # failure of the deployment (a mistyped address fails its email for good).
    return Check(
        ok=overdue <= settings.HEALTH_MAX_OVERDUE_SECONDS and not state.stuck,
        facts={
            "pending": state.pending,
            "due": state.due,
            "oldest_pending_age_seconds": round(state.oldest_pending_age_seconds(now), 3),
            "overdue_seconds": round(overdue, 3),
            "max_overdue_seconds": settings.HEALTH_MAX_OVERDUE_SECONDS,
            "stuck": state.stuck,
            "failed_recently": state.failed_recently,
            "failed_window_seconds": settings.HEALTH_FAILED_WINDOW_SECONDS,
        },
    )


def health(*, now: datetime | None = None) -> tuple[bool, dict[str, Any]]:
    """Every check, and whether all of them passed."""
    now = now or timezone.now()
    checks = {
        "database": check_database(),
        "cache": check_cache(),
        "broker": check_broker(),
    }
    if checks["database"].ok:
        for name, check in (("checker", check_checker), ("outbox", check_outbox)):
            try:
                checks[name] = check(now)
            except Exception as error:
                checks[name] = _failed(name, error)
    else:
        unknown = Check(ok=False, facts={"error": "database unavailable"})
        checks["checker"] = checks["outbox"] = unknown
    healthy = all(check.ok for check in checks.values())
    return healthy, {
        "status": "ok" if healthy else "unhealthy",
        "checks": {name: check.as_json() for name, check in checks.items()},
    }


@csrf_exempt  # a POST is a 405 from require_safe, not CSRF's HTML 403
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, report = health()
    if not may_read_operations(request):
        report = {"status": report["status"]}
    return JsonResponse(report, status=200 if healthy else 503)
