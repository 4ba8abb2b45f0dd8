"""Delivery latency: how long sent emails waited in the outbox, as a Prometheus histogram.

The wait is sent_at - created_at: from the state change (or ticket creation) that called
for the email to the mail server accepting it, retries included.

Why rows in the database rather than a prometheus_client Histogram in memory: emails are
sent by whichever process holds a batch (a check_sla loop, cron, any Celery worker on any
host), while /metrics is answered by a web process. In-memory histograms would each see
only their own process's emails and start from zero on every restart. Here each batch adds
its waits to shared counters in one short transaction (one per batch, not per email, since
every sender writes the same rows), and a scrape reads them back as one cumulative
histogram: counters that only grow, across processes and restarts, as rate() expects.
Computing the histogram from the outbox rows at scrape time would read every sent row,
or with a time window, give buckets that go down, which Prometheus takes for a reset.
"""

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from notifications.models import DeliveryLatency

# Upper bounds in seconds: first attempts take seconds; retries after an outage, hours.
BUCKETS: tuple[float, ...] = (
    1,
    5,
    15,
    30,
    60,
    120,
    300,
    600,
    1800,
    3600,
    3 * 3600,
    12 * 3600,
    24 * 3600,
)


@dataclass(frozen=True)
class Histogram:
    # Cumulative, as Prometheus has it: (upper bound, emails that waited at most that long),
    # ending with (inf, every email).
    buckets: list[tuple[float, int]]
    sum_seconds: float

    @property
    def count(self) -> int:
        return self.buckets[-1][1]


def bucket_of(seconds: float) -> int:
    """Index of the first bound >= seconds (len(BUCKETS) for the +Inf bucket)."""
    return bisect.bisect_left(BUCKETS, seconds)


def record(waits: Iterable[float]) -> None:
    """Add one batch's waits, in seconds, to the shared histogram."""
    totals: dict[int, tuple[int, float]] = {}
    for seconds in waits:
        seconds = max(0.0, seconds)
        count, total = totals.get(bucket_of(seconds), (0, 0.0))
        totals[bucket_of(seconds)] = (count + 1, total + seconds)
    if not totals:
        return
    with transaction.atomic():
        # Ascending order: senders that lock the shared rows all take them in the same
        # order, so two batches finishing together wait for each other, never deadlock.
        for bucket, (count, total) in sorted(totals.items()):
            row = DeliveryLatency.objects.filter(bucket=bucket)
            added = {"count": F("count") + count, "sum_seconds": F("sum_seconds") + total}
            if not row.update(**added):
                # First email in this bucket: create the row (or find another sender's).
                DeliveryLatency.objects.bulk_create(
                    [DeliveryLatency(bucket=bucket)], ignore_conflicts=True
                )
                row.update(**added)


def histogram() -> Histogram:
    counts = [0] * (len(BUCKETS) + 1)
    sum_seconds = 0.0
    for row in DeliveryLatency.objects.filter(bucket__lte=len(BUCKETS)):
        counts[row.bucket] = row.count
        sum_seconds += row.sum_seconds
    cumulative: list[tuple[float, int]] = []
    running = 0
    for bound, count in zip([*BUCKETS, float("inf")], counts, strict=True):
        running += count
        cumulative.append((float(bound), running))
    return Histogram(buckets=cumulative, sum_seconds=sum_seconds)
