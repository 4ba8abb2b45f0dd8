"""/metrics: Prometheus metrics, read from the database when Prometheus scrapes.

Checks and deliveries run in other processes than the one answering (check_sla loops,
cron, Celery workers on other hosts), so nothing here is counted in this process's memory:
every value is read from the rows all of them write (tickets, the outbox, the checker's
heartbeat, the delivery-latency buckets). Any web process answers for the whole
deployment, and restarting one resets nothing.

Readable with "Authorization: Bearer <METRICS_TOKEN>" or by a staff user signed in to the
admin. Without a token configured, anyone else gets 404, as if there were nothing here;
with one, a missing or wrong token gets 401.
"""

import hmac
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from notifications import latency
from notifications.backlog import backlog
from notifications.models import DeliveryStatus, Notification
from sla.enums import ACTIVE_STATUSES, UNTRACKED, Announcement, SlaState
from tickets.checker import last_run
from tickets.models import Ticket

PREFIX = "sla_watchdog"
UNSENT_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)


class WatchdogCollector(Collector):
    def __init__(self, *, now: datetime) -> None:
        self.now = now

    def collect(self) -> Iterator[Metric]:
        yield from self._tickets()
        yield from self._notifications()
        yield from self._delivery_latency()
        yield from self._checker()
        yield from self._outbox()

    def _tickets(self) -> Iterator[Metric]:
        # Open and pending tickets only, from the partial index ticket_open_states_idx (an
        # index-only scan): resolved and closed tickets pile up forever, and a scrape every
        # 15 s must not read them all. One pass serves both gauges.
        counts = (
            Ticket.objects.filter(status__in=sorted(ACTIVE_STATUSES))
            .order_by()
            .values_list("resolution_state", "first_response_state")
            .annotate(n=Count("*"))
        )
        resolution: Counter[str] = Counter()
        first_response: Counter[str] = Counter()
        for sla_state, first_response_state, n in counts:
            resolution[sla_state] += n
            if first_response_state != UNTRACKED:
                first_response[first_response_state] += n
        tickets = GaugeMetricFamily(
            f"{PREFIX}_open_tickets",
            "Tickets not yet resolved or closed (open or pending), by the SLA state of their "
            "resolution. Resolved and closed tickets are not counted.",
            labels=["sla_state"],
        )
        for state in SlaState:
            tickets.add_metric([state.value], resolution[state.value])
        yield tickets
        gauge = GaugeMetricFamily(
            f"{PREFIX}_open_first_response_tickets",
            "Tickets not yet resolved or closed that have a first-response target, by the "
            "state of that target.",
            labels=["state"],
        )
        for state in SlaState:
            if state != SlaState.PAUSED:  # first response is never paused
                gauge.add_metric([state.value], first_response[state.value])
        yield gauge

    def _notifications(self) -> Iterator[Metric]:
        notifications = GaugeMetricFamily(
            f"{PREFIX}_notifications_unsent",
            "Emails not (yet) sent, by kind: pending (waiting for a first or another "
            "attempt) or failed (given up; retried only from the admin). Sent, skipped and "
            "cancelled rows are not counted: delivery_latency_seconds_count counts sent "
            "emails.",
            labels=["status", "kind"],
        )
        # Each status through its partial index (notification_pending_age_idx,
        # notification_failed_idx): never the sent rows, most of the table.
        for status in UNSENT_STATUSES:
            counts = dict(
                Notification.objects.filter(status=status)
                .order_by()
                .values_list("kind")
                .annotate(n=Count("*"))
            )
            for kind in Announcement:
                notifications.add_metric([status.value, kind.value], counts.get(kind.value, 0))
        yield notifications

    def _delivery_latency(self) -> Iterator[Metric]:
        histogram = latency.histogram()
        yield HistogramMetricFamily(
            f"{PREFIX}_delivery_latency_seconds",
            "How long sent emails waited in the outbox (sent_at - created_at, retries "
            "included), counted by every sender process.",
            buckets=[(_le(bound), count) for bound, count in histogram.buckets],
            sum_value=histogram.sum_seconds,
        )

    def _checker(self) -> Iterator[Metric]:
        run = last_run()
        duration = SummaryMetricFamily(
            f"{PREFIX}_checker_run_duration_seconds",
            "SLA checks run (count) and their total time (sum): the state-change pass, in "
            "any process.",
            count_value=run.runs if run else 0,
            sum_value=run.total_duration_seconds if run else 0.0,
        )
        yield duration
        if run is None:
            return
        yield GaugeMetricFamily(
            f"{PREFIX}_checker_last_run_duration_seconds",
            "How long the last SLA check's state-change pass took.",
            value=run.duration_seconds,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_checker_last_run_timestamp_seconds",
            "When the last SLA check finished (Unix time).",
            value=run.finished_at.timestamp(),
        )

    def _outbox(self) -> Iterator[Metric]:
        state = backlog(now=self.now)
        for name, help_text, value in (
            ("outbox_pending", "Emails waiting for a first or another attempt.", state.pending),
            ("outbox_due", "Emails due now that no sender has taken yet.", state.due),
            (
                "outbox_oldest_pending_age_seconds",
                "How long the oldest pending email has been in the outbox.",
                state.oldest_pending_age_seconds(self.now),
            ),
            (
                "outbox_overdue_seconds",
                "How long the longest-due email has waited for a sender.",
                state.overdue_seconds(self.now),
            ),
            (
                "outbox_stuck",
                "Pending emails claimed more often than SLA_DELIVERY_MAX_ATTEMPTS: each "
                "claim past it ended with its sender dying on the row, so no sender can "
                "move it.",
                state.stuck,
            ),
            (
                "outbox_failed_recently",
                "Emails given up on (status failed) within the last HEALTH_FAILED_WINDOW_SECONDS.",
                state.failed_recently,
            ),
        ):
            yield GaugeMetricFamily(f"{PREFIX}_{name}", help_text, value=value)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def render(*, now: datetime | None = None) -> bytes:
    """The Prometheus text exposition of every metric, as of `now`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WatchdogCollector(now=now or timezone.now()))
    return generate_latest(registry)


def may_read_operations(request: HttpRequest) -> bool:
    """Whether the request carries the metrics token or comes from a signed-in staff user:
    who may read /metrics and /healthz's details."""
    token = settings.METRICS_TOKEN
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if (
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(credentials.strip().encode(), token.encode())
    ):
        return True
    return bool(request.user.is_authenticated and request.user.is_staff)


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """Why this request may not read the metrics, or None when it may."""
    if may_read_operations(request):
        return None
    if not settings.METRICS_TOKEN:
        return JsonResponse({"detail": "Not found."}, status=404)
    refused = JsonResponse({"detail": "Missing or invalid metrics token."}, status=401)
    refused["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return refused


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
