from __future__ import annotations

import functools
import operator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from people.models import team_ids_of
from sla.enums import PRIORITY_RANK, UNTRACKED, Metric, Priority, SlaState, Status, choices

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


# The `next_check_at` of a row the SLA engine has not assessed since it was inserted or
# saved by other code (a script, an import, loaddata, another app): long past, so that the
# next check takes it first, through the same index as every other due ticket.
UNASSESSED = datetime(1970, 1, 1, tzinfo=UTC)


# The open and pending statuses in one fixed order: a partial index's condition and the
# queries it serves must spell the list alike for PostgreSQL to match them.
ACTIVE_STATUS_LIST = [Status.OPEN.value, Status.PENDING.value]
# The at-risk board's order: the next breach, else (breached) the deadline.
BOARD_ORDER = Coalesce(F("next_breach_at"), F("deadline"))


class DeadlineSource(models.TextChoices):
    """Who set a ticket's deadline: a client (kept as sent) or its SLA policy (re-applied)."""

    MANUAL = "manual"
    POLICY = "policy"


def visibility_branches(user: User | AnonymousUser) -> list[Q] | None:
    """What `user` may see, as disjoint-enough parts each one index serves; None: all.

    A ticket is seen by its owner, its assignee and its team's members (staff see every
    ticket). One OR over the three cost the owner's list its index order (PostgreSQL
    bitmap-ORs the branches, then sorts all of them): ticket lists read each branch on its
    own index, ordered and limited, and merge them (tickets.pagination). A ticket may be
    in several branches (owned and assigned): readers drop the repeats by id.
    """
    if not user.is_authenticated:
        return []
    if user.is_staff:
        return None
    return [
        Q(owner_id=user.pk),
        Q(assignee_id=user.pk),
        # One branch per team, not team_id IN (...): an IN list on the index's leading
        # column comes out unordered, and a user is in a handful of teams.
        *(Q(team_id=team_id) for team_id in team_ids_of(user.pk)),
    ]


class TicketQuerySet(models.QuerySet["Ticket"]):
    def visible_to(self, user: User | AnonymousUser) -> TicketQuerySet:
        """Staff see every ticket; everyone else those they own, are assigned, or whose
        team they are in (visibility_branches); anonymous users none."""
        branches = visibility_branches(user)
        if branches is None:
            return self
        if not branches:
            return self.none()
        return self.filter(functools.reduce(operator.or_, branches))

    def due(self, now: datetime) -> TicketQuerySet:
        """Tickets whose SLA state may have changed by `now` (served by ticket_due_idx)."""
        return self.filter(next_check_at__lte=now)


class Ticket(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tickets"
    )
    # Who works the ticket, and the team it belongs to: both see it (visible_to). Indexed
    # below, partially, by the lists they read.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        db_index=False,
    )
    team = models.ForeignKey(
        "people.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
        db_index=False,
    )
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    deadline = models.DateTimeField()
    status = models.CharField(max_length=16, choices=choices(Status), default=Status.OPEN)
    priority = models.CharField(max_length=16, choices=choices(Priority), default=Priority.NORMAL)
    # The priority's urgency (low 0 ... urgent 3), what "?ordering=priority" sorts by.
    # Stored by the database, so that an index can hold it: ordering by the CASE at query
    # time sorted all of an owner's tickets for every page. Never in the API.
    priority_rank = models.GeneratedField(
        expression=Case(
            *(When(priority=p, then=Value(rank)) for p, rank in PRIORITY_RANK.items()),
            output_field=models.PositiveSmallIntegerField(),
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )
    # Set by tickets.services to the `now` it works with, so deadlines count from it.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
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

    # When someone first responded (POST /api/tickets/<id>/respond/, or resolving it).
    first_responded_at = models.DateTimeField(null=True, blank=True)

    # Managed by the SLA engine only (tickets.engine); read-only in the API and admin.
    # Resolution: `deadline`, and how the ticket stands against it.
    resolution_state = models.CharField(
        max_length=16, choices=choices(SlaState), default=SlaState.ON_TRACK
    )
    resolution_warning_sent_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    # The latest warning threshold passed for the current deadline, in business seconds
    # left (sla.rules.Thresholds); NULL before the first.
    resolution_warning_threshold = models.PositiveIntegerField(
        null=True, blank=True, editable=False
    )
    # While the ticket is pending, the resolution clock of a policy deadline is stopped
    # (since this instant); the pause extends the deadline when it ends. See TicketPause.
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    # First response: its deadline (NULL when the ticket's policy sets no target) and state.
    first_response_due = models.DateTimeField(null=True, blank=True)
    first_response_state = models.CharField(
        max_length=16,
        choices=[(UNTRACKED, "untracked"), *choices(SlaState)],
        default=UNTRACKED,
        db_default=UNTRACKED,
        blank=True,
    )
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    first_response_warning_threshold = models.PositiveIntegerField(
        null=True, blank=True, editable=False
    )
    # Escalation (sla.escalation): how many of each metric's breach firings have fired for
    # its current deadline (0 again when a new deadline is set), written by the engine
    # with the notifications they queue.
    resolution_escalation_step = models.PositiveSmallIntegerField(
        default=0, db_default=0, editable=False
    )
    first_response_escalation_step = models.PositiveSmallIntegerField(
        default=0, db_default=0, editable=False
    )
    # Someone acknowledged the ticket's breach (POST .../acknowledge/): no more repeats and
    # no later level. Cleared when a new deadline is set, which re-arms the escalation.
    acknowledged_at = models.DateTimeField(null=True, blank=True, editable=False)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        db_index=False,
    )
    # The earliest deadline still ahead of a running metric: "?ordering=next_breach_at" and
    # "?breaching_within=2h" read it. NULL when nothing can be breached any more.
    next_breach_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the clock alone next changes this ticket's SLA state; NULL when it never will
    # (resolved, closed, already breached). The checker reads only rows due by now. A row
    # inserted by anything but the engine starts UNASSESSED: the database's default covers
    # raw SQL and bulk loads as well as the ORM, so no ticket goes unwatched.
    next_check_at = models.DateTimeField(
        null=True, blank=True, editable=False, default=UNASSESSED, db_default=UNASSESSED
    )

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
            # The default list of an assignee's and of a team's tickets: each one branch of
            # a list (visibility_branches), read in deadline order like the owner's. Partial:
            # unassigned tickets and tickets without a team cost them nothing. They also
            # serve ON DELETE SET NULL when a user or a team is deleted.
            models.Index(
                fields=["assignee", "deadline", "id"],
                condition=Q(assignee__isnull=False),
                name="ticket_assignee_deadline_idx",
            ),
            models.Index(
                fields=["team", "deadline", "id"],
                condition=Q(team__isnull=False),
                name="ticket_team_deadline_idx",
            ),
            # ?ordering=priority for those branches, rank by rank as the owner's: without
            # them a rank a team has few tickets of read the team's whole deadline index
            # (86 ms for a 12,500-ticket team, bench/README.md). created_at and
            # next_breach_at have none: those branches sort their rows (see there).
            models.Index(
                fields=["assignee", "priority_rank", "deadline", "id"],
                condition=Q(assignee__isnull=False),
                name="ticket_assignee_prio_idx",
            ),
            models.Index(
                fields=["team", "priority_rank", "deadline", "id"],
                condition=Q(team__isnull=False),
                name="ticket_team_prio_idx",
            ),
            # The compliance report for staff (tickets.reports): a period of creation
            # across owners. Without it, every report read the whole table (350 ms at 1M
            # tickets for each of its queries); an owner's report uses
            # ticket_owner_created_idx.
            models.Index(fields=["created_at"], name="ticket_created_idx"),
            # Staff list and deadline-range filters across owners.
            models.Index(fields=["deadline", "id"], name="ticket_deadline_idx"),
            # ?ordering=priority and -priority: one owner's tickets, and every ticket for
            # staff. Pages are read one rank at a time (watchdog.pagination.keyset.parts), each a
            # range of (deadline, id) within the rank, so one index serves both directions
            # (-priority is urgency down but deadline up, which no btree range is).
            models.Index(
                fields=["owner", "priority_rank", "deadline", "id"], name="ticket_owner_prio_idx"
            ),
            models.Index(fields=["priority_rank", "deadline", "id"], name="ticket_prio_idx"),
            # /metrics: open and pending tickets counted by state, an index-only scan that
            # never touches the resolved and closed ones (most of the table, over time).
            models.Index(
                fields=["resolution_state", "first_response_state"],
                condition=Q(status__in=[Status.OPEN, Status.PENDING]),
                name="ticket_open_states_idx",
            ),
            # A policy's tickets: SET_NULL when it is deleted. Partial: tickets without a
            # policy (every ticket when no policy is configured) cost it nothing.
            models.Index(
                fields=["policy"],
                condition=Q(policy__isnull=False),
                name="ticket_policy_idx",
            ),
            # Recompute after a policy or calendar edit: a policy's open tickets, in id order.
            models.Index(
                fields=["policy", "id"],
                condition=Q(policy__isnull=False, status__in=[Status.OPEN, Status.PENDING]),
                name="ticket_open_policy_idx",
            ),
            # At risk, soonest first: one owner's tickets, and every ticket for staff.
            models.Index(
                fields=["owner", "next_breach_at", "id"],
                condition=Q(next_breach_at__isnull=False),
                name="ticket_owner_breach_idx",
            ),
            models.Index(
                fields=["next_breach_at", "id"],
                condition=Q(next_breach_at__isnull=False),
                name="ticket_breach_idx",
            ),
            # The at-risk board (dashboard.board): open and pending tickets by next breach,
            # a breached one (no next breach) by its past deadline, the first 100. Without
            # these, every page sorted all of the open tickets (150 ms at 60k open).
            models.Index(
                BOARD_ORDER,
                F("id"),
                condition=Q(status__in=ACTIVE_STATUS_LIST),
                name="ticket_board_idx",
            ),
            models.Index(
                F("owner"),
                BOARD_ORDER,
                F("id"),
                condition=Q(status__in=ACTIVE_STATUS_LIST),
                name="ticket_owner_board_idx",
            ),
            # The board of an assignee and of a team's members (read branch by branch, as
            # the lists are: dashboard.board.board_tickets).
            models.Index(
                F("assignee"),
                BOARD_ORDER,
                F("id"),
                condition=Q(status__in=ACTIVE_STATUS_LIST, assignee__isnull=False),
                name="ticket_assignee_board_idx",
            ),
            models.Index(
                F("team"),
                BOARD_ORDER,
                F("id"),
                condition=Q(status__in=ACTIVE_STATUS_LIST, team__isnull=False),
                name="ticket_team_board_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save; unless the SLA engine is the one saving, the next check assesses the row.

        Code outside tickets.services may change a deadline or a status with a plain
        save(); the SLA columns it leaves behind would then be stale, so the row is marked
        due at once rather than trusted. (QuerySet.update() bypasses this: set
        next_check_at=UNASSESSED in the same update, or go through tickets.services.)
        """
        if not self._saved_by_engine:
            self.next_check_at = UNASSESSED
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "next_check_at"}
        self._saved_by_engine = False
        super().save(*args, **kwargs)

    def save_assessed(self) -> None:
        """Save with the SLA columns the engine has just computed (tickets.engine only)."""
        self._saved_by_engine = True
        self.save()

    _saved_by_engine = False

    @property
    def sla_warning_sent(self) -> bool:
        return self.resolution_warning_sent_at is not None

    @property
    def sla_missed(self) -> bool:
        return self.resolution_state == SlaState.BREACHED

    def check_and_notify_sla(self) -> None:
        """Bring this ticket's SLA state up to date and deliver what it has to announce.

        Kept for the original spec's loop; `manage.py check_sla` does the same for every
        due ticket at once and is what should run periodically. The ticket is assessed
        whether or not it is due: this is the caller asking for it to be up to date.
        """
        # The checker sits above the models and imports them: reached through the app
        # (tickets.apps), so that no import runs the other way.
        app = apps.get_app_config("tickets")
        app.check_ticket(ticket_id=self.pk)  # type: ignore[attr-defined]
        self.refresh_from_db()


class TicketPause(models.Model):
    """A stretch of time a ticket waited on its customer, with its resolution clock stopped."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="pauses")
    started_at = models.DateTimeField()
    # NULL while the ticket is still pending.
    ended_at = models.DateTimeField(null=True, blank=True)
    # The calendar the clock stopped on (its policy's). If the policy is deleted meanwhile,
    # leaving pending still moves the deadline by the business time paused, on this one.
    calendar = models.ForeignKey(
        "policies.BusinessCalendar",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [models.Index(fields=["ticket", "started_at"], name="ticketpause_ticket_idx")]

    def __str__(self) -> str:
        end = self.ended_at.isoformat() if self.ended_at else "now"
        return f"ticket {self.ticket_id} paused {self.started_at.isoformat()} - {end}"


class SlaEventKind(models.TextChoices):
    """Why a ticket's deadlines are what they are: the entries of its SLA timeline."""

    POLICY_APPLIED = "policy_applied"
    MANUAL_DEADLINE = "manual_deadline"
    PRIORITY_CHANGED = "priority_changed"
    PAUSED = "paused"
    RESUMED = "resumed"
    POLICY_EDITED = "policy_edited"
    CALENDAR_EDITED = "calendar_edited"
    RESPONDED = "responded"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    ACKNOWLEDGED = "acknowledged"  # a breach, by the user the detail names


class SlaEvent(models.Model):
    """One entry of a ticket's SLA timeline (GET /api/tickets/<id>/sla/).

    Written in the transaction of the change it records, by tickets.services and
    tickets.recompute only.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=24, choices=SlaEventKind.choices)
    metric = models.CharField(max_length=16, choices=choices(Metric), blank=True, default="")
    # The metric's deadline after the event, and before it when the event moved it.
    deadline = models.DateTimeField(null=True, blank=True)
    previous_deadline = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at", "id"], name="slaevent_ticket_idx")]

    def __str__(self) -> str:
        return f"ticket {self.ticket_id}: {self.kind} at {self.at.isoformat()}"


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


class ReportCell(models.Model):
    """The compliance report's numbers for the tickets created on one day (UTC) that share
    one value of one grouping (or all of that day's tickets: dimension "all"). A day with
    tickets has its cells or a ReportStale mark, never neither (tickets.rollup).

    Counts and paused time (ended pauses only; a running one grows with the clock and is
    added when the report is read) as the report shows them, and each duration's
    histogram (sla.histograms) for its percentiles: {metric: {bucket: count}}."""

    # "day", or "month": the sum of a month's day cells (day: the month's first), which a
    # long report reads instead of them; rebuilt with every change to one of its days.
    span = models.CharField(max_length=5, default="day")
    day = models.DateField()
    # "priority", "policy", "team", "assignee" or "all".
    dimension = models.CharField(max_length=16)
    # The priority, or the policy's, team's or assignee's id; "" for none; "all" for all.
    key = models.CharField(max_length=32, blank=True)
    tickets = models.PositiveIntegerField(default=0)
    achieved = models.PositiveIntegerField(default=0)
    breached = models.PositiveIntegerField(default=0)
    first_response_breached = models.PositiveIntegerField(default=0)
    paused_seconds = models.FloatField(default=0.0)
    paused_business_seconds = models.FloatField(default=0.0)
    histograms = models.JSONField(default=dict)
    # A day's "all" cell only: the resolutions met and missed of the tickets created in
    # each quarter of an hour of the day, {quarter: [achieved, breached]}, from which the
    # report's chart finds its days and weeks in any time zone.
    decided = models.JSONField(default=dict)

    class Meta:
        constraints = [
            # Also the index a report's read uses: one range of days.
            models.UniqueConstraint(
                fields=["span", "dimension", "day", "key"], name="reportcell_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day.isoformat()} {self.dimension}={self.key or '-'}: {self.tickets}"


class ReportStale(models.Model):
    """A day (UTC) whose ReportCells no longer tell its tickets as they are; no day: every
    day (a calendar or a policy's calendar changed, which moves business time).

    Written by the database itself, by triggers on the ticket, pause, policy and calendar
    tables (migration 0017), so a change made by any code or by hand marks its day;
    tickets.rollup counts the marked days again and deletes the marks it has seen."""

    day = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["day"], name="reportstale_day_idx")]

    def __str__(self) -> str:
        return f"report roll-up stale: {self.day.isoformat() if self.day else 'every day'}"
