import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from sla.enums import Announcement, Metric, choices

# What makes an announcement one notification; each recipient adds its own columns.
ONCE = ["ticket", "metric", "kind", "deadline", "threshold"]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # waiting for (another) delivery attempt
    SENT = "sent"  # accepted by the mail server
    FAILED = "failed"  # gave up: permanent error or attempts exhausted; retry from admin
    SKIPPED = "skipped"  # nobody to send to (owner without an email address)
    # The recipient has not confirmed their address yet (queued again when they do), or is
    # in their quiet hours (`held_until`: queued again by the check when they end).
    HELD = "held"
    CANCELLED = "cancelled"  # no longer true: ticket resolved, deadline moved, superseded


class EndpointKind(models.TextChoices):
    WEBHOOK = "webhook"  # signed JSON (transports/webhook.py)
    SLACK = "slack"  # Slack-compatible incoming webhook (transports/slack.py)


def new_secret() -> str:
    """A webhook's signing key: 256 random bits, shown once when the endpoint is created."""
    return secrets.token_urlsafe(32)


class Endpoint(models.Model):
    """Where a team's SLA warnings and misses are also POSTed (docs/webhooks.md).

    Staff-managed. The URL passed the SSRF guard when it was saved (the API checks it); the
    secret is generated here and never readable through the API after creation. A 410 Gone
    from the receiver disables it (`disabled_reason` says why).
    """

    kind = models.CharField(max_length=16, choices=EndpointKind.choices)
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    enabled = models.BooleanField(default=True)
    # A string reference: notifications imports no people module (pyproject's app layers).
    team = models.ForeignKey("people.Team", on_delete=models.CASCADE, related_name="endpoints")
    created_at = models.DateTimeField(auto_now_add=True)
    disabled_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} endpoint {self.pk} of team {self.team_id}"


class Notification(models.Model):
    """One email the SLA engine owes someone: the outbox row and its delivery record.

    Written in the same transaction as the state change that calls for it, and unique per
    ticket, kind and deadline, so a notification is created exactly once however many
    checkers run. The row, not any queue message, is the record of whether it was sent.
    """

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=16, choices=choices(Announcement))
    # Which of the ticket's deadlines a warning or miss is about (creation: resolution).
    metric = models.CharField(
        max_length=16, choices=choices(Metric), default=Metric.RESOLUTION, db_default="resolution"
    )
    # The deadline this notification is about: a moved deadline is a new notification.
    deadline = models.DateTimeField()
    # For a warning, the threshold it announces (business seconds left); 0 otherwise.
    threshold = models.PositiveIntegerField(default=0, db_default=0)
    # Stable across retries, so a receiver can recognise a re-sent message.
    message_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    recipient = models.CharField(max_length=254, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # None: the email to the ticket's owner. Otherwise the webhook or Slack endpoint this
    # copy of the announcement goes to (outbox.enqueue: one per enabled endpoint of the
    # ticket's team); it is delivered through that endpoint's kind of transport.
    endpoint = models.ForeignKey(
        Endpoint,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    # Escalation (sla.escalation): 0 is the seed's announcement to the owner and the
    # team's endpoints; 1, 2, ... the levels of the ticket's escalation policy. `repeat`
    # counts a breach level's re-notifications (0: its first firing).
    level = models.PositiveSmallIntegerField(default=0, db_default=0)
    repeat = models.PositiveSmallIntegerField(default=0, db_default=0)
    # The person an escalation email goes to; None: the ticket's owner (level 0), or an
    # endpoint's copy.
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # Held (status held) for the recipient's quiet hours until this instant; the check
    # queues it then (outbox.release_quiet).
    held_until = models.DateTimeField(null=True, blank=True)
    # For a pending row: when it may next be claimed. Claiming pushes it one lease ahead,
    # so a row held by a sender that died becomes claimable again when the lease ends.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # When delivery gave up on it (status failed), for /healthz's recent failures.
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Exactly once per ticket, metric, kind, deadline, threshold, level, repeat and
            # recipient. Cancelled rows are left out so that a reopened ticket can be warned
            # again about a deadline.
            # The owner's emails (no endpoint, no recipient_user): NULLs are distinct in a
            # unique index, hence one constraint per kind of recipient.
            models.UniqueConstraint(
                fields=[*ONCE, "level", "repeat"],
                condition=~Q(status="cancelled")
                & Q(endpoint__isnull=True, recipient_user__isnull=True),
                name="notification_once_per_deadline",
            ),
            # The same, once per endpoint for the webhook and Slack copies.
            models.UniqueConstraint(
                fields=[*ONCE, "level", "repeat", "endpoint"],
                condition=~Q(status="cancelled") & Q(endpoint__isnull=False),
                name="notification_once_per_endpoint",
            ),
            # And once per person for an escalation level's emails.
            models.UniqueConstraint(
                fields=[*ONCE, "level", "repeat", "recipient_user"],
                condition=~Q(status="cancelled") & Q(recipient_user__isnull=False),
                name="notification_once_per_person",
            ),
        ]
        indexes = [
            # Due pending rows oldest first: WHERE status = 'pending' AND next_attempt_at
            # <= now ORDER BY next_attempt_at, id: the backlog's counts, next_due_at. The
            # claim reads its own two indexes below (first attempts, retries).
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status="pending"),
                name="notification_claim_idx",
            ),
            # The claim's first pick, rows never tried yet (delivery.claim): their own
            # index, so a backlog of retries due earlier is not read past every batch.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status="pending", attempts=0),
                name="notification_first_attempt_idx",
            ),
            # The claim's pick of retries (delivery.claim: attempts > 0), oldest first. Read
            # through notification_claim_idx it walked past every first attempt due, the
            # whole backlog, in each batch. Rows in flight enter it too (the claim counts
            # the attempt), at their lease's end, out of the way until it passes.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status="pending", attempts__gt=0),
                name="notification_retry_idx",
            ),
            # The check's release of rows held for quiet hours (outbox.release_quiet):
            # only those are in it, never the rows waiting for an address confirmation.
            models.Index(
                fields=["held_until"],
                condition=Q(status="held", held_until__isnull=False),
                name="notification_quiet_idx",
            ),
            # /healthz and /metrics: the oldest pending row, MIN(created_at) WHERE status =
            # 'pending', without reading the sent rows that make up most of the table.
            models.Index(
                fields=["created_at"],
                condition=Q(status="pending"),
                name="notification_pending_age_idx",
            ),
            # /metrics: failed rows by kind, without reading the sent ones. Pending rows
            # never enter it (they are most inserts); a row enters once, when it fails.
            models.Index(
                fields=["kind"],
                condition=Q(status="failed"),
                name="notification_failed_idx",
            ),
            # /healthz and /metrics: emails given up on lately, COUNT WHERE status =
            # 'failed' AND failed_at > now - window, without reading older failures.
            models.Index(
                fields=["failed_at"],
                condition=Q(status="failed"),
                name="notification_failed_at_idx",
            ),
            # /healthz and /metrics: pending rows claimed more often than any ordinary
            # outcome allows (notifications.backlog.stuck), WHERE status = 'pending' AND
            # attempts > SLA_DELIVERY_MAX_ATTEMPTS. A row enters only on its second claim,
            # so first attempts, most of the writes, never touch it.
            models.Index(
                fields=["attempts"],
                condition=Q(status="pending", attempts__gt=1),
                name="notification_retried_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for ticket {self.ticket_id} ({self.status})"

    @property
    def message_id(self) -> str:
        return f"<{self.message_key}@sla-watchdog>"


class DeliveryLatency(models.Model):
    """How long sent emails waited in the outbox (sent_at - created_at), as a histogram.

    One row per bucket of notifications.latency.BUCKETS, counting the emails whose wait
    fell in it (not cumulatively) and the sum of those waits. Every sender process adds to
    the same rows and /metrics reads them from any process; see notifications.latency.
    """

    # Index into notifications.latency.BUCKETS; len(BUCKETS) is the +Inf bucket.
    bucket = models.PositiveSmallIntegerField(primary_key=True)
    count = models.PositiveBigIntegerField(default=0)
    sum_seconds = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"bucket {self.bucket}: {self.count}"
