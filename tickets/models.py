from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Case, Q, Value, When

from tickets.sla import PRIORITY_RANK, Priority, SlaState, Status

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


class DeadlineSource(models.TextChoices):
    """Who set a ticket's deadline: a client (kept as sent) or its SLA policy (re-applied)."""

    MANUAL = "manual"
    POLICY = "policy"


class TicketQuerySet(models.QuerySet["Ticket"]):
    def visible_to(self, user: User | AnonymousUser) -> TicketQuerySet:
        """Staff see every ticket; everyone else only their own."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(owner_id=user.pk)

    def due(self, now: datetime) -> TicketQuerySet:
        """Tickets whose SLA state may have changed by `now` (served by ticket_due_idx)."""
        return self.filter(next_check_at__lte=now)

    def with_priority_rank(self) -> TicketQuerySet:
        return self.annotate(
            priority_rank=Case(
                *(When(priority=p, then=Value(rank)) for p, rank in PRIORITY_RANK.items()),
                output_field=models.PositiveSmallIntegerField(),
            )
        )


class Ticket(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tickets"
    )
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    deadline = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    deadline_source = models.CharField(
        max_length=16, choices=DeadlineSource.choices, default=DeadlineSource.MANUAL
    )
    # The SLA policy that applies to the ticket's priority (the default policy when the
    # priority has none); it set the deadline when deadline_source is "policy".
    policy = models.ForeignKey(
        "policies.SlaPolicy",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
        db_index=False,
    )

    # Managed by the SLA engine only (tickets.engine); read-only in the API and admin.
    sla_state = models.CharField(max_length=16, choices=SlaState.choices, default=SlaState.ON_TRACK)
    warning_sent_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    # When the clock alone next changes this ticket's SLA state; NULL when it never will
    # (resolved, closed, already breached). The checker reads only rows due by now.
    next_check_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TicketQuerySet.as_manager()

    class Meta:
        indexes = [
            # The checker's scan: WHERE next_check_at <= now. Partial, so tickets with
            # nothing left to announce (most of them, over time) are not in it at all.
            models.Index(
                fields=["next_check_at"],
                condition=Q(next_check_at__isnull=False),
                name="ticket_due_idx",
            ),
            # The default list: one owner's tickets ordered by deadline.
            models.Index(fields=["owner", "deadline", "id"], name="ticket_owner_deadline_idx"),
            # One owner's tickets ordered by creation (?ordering=created_at), any page depth.
            models.Index(fields=["owner", "created_at", "id"], name="ticket_owner_created_idx"),
            # Staff list and deadline-range filters across owners.
            models.Index(fields=["deadline", "id"], name="ticket_deadline_idx"),
            # A policy's tickets: SET_NULL when it is deleted. Partial: tickets without a
            # policy (every ticket when no policy is configured) cost it nothing.
            models.Index(
                fields=["policy"],
                condition=Q(policy__isnull=False),
                name="ticket_policy_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def sla_warning_sent(self) -> bool:
        return self.warning_sent_at is not None

    @property
    def sla_missed(self) -> bool:
        return self.sla_state == SlaState.BREACHED

    def check_and_notify_sla(self) -> None:
        """Bring this ticket's SLA state up to date and deliver what it has to announce.

        Kept for the original spec's loop; `manage.py check_sla` does the same for every
        due ticket at once and is what should run periodically.
        """
        from notifications.delivery import deliver_due
        from tickets.engine import run_transitions

        run_transitions(ticket_ids=[self.pk])
        deliver_due(ticket_ids=[self.pk])
        self.refresh_from_db()


class CheckerRun(models.Model):
    """The SLA checker's heartbeat: one row, brought up to date by every check.

    Checks run in whichever process runs them (a check_sla loop, cron, a Celery worker),
    and /healthz and /metrics answer from any web process, so the record lives in the
    database they all share rather than in a process or a cache.
    """

    SINGLETON_ID = 1

    finished_at = models.DateTimeField()
    # The last check: how long its state-change pass took and how many tickets it moved.
    duration_seconds = models.FloatField()
    state_changes = models.PositiveIntegerField()
    # Since the row was created, for Prometheus' rate(): checks run and their total time.
    runs = models.PositiveBigIntegerField(default=0)
    total_duration_seconds = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"SLA check finished at {self.finished_at.isoformat()}"
