"""People: teams (who works tickets together), profiles (how each wants to hear of SLA
events) and escalation policies (who else hears of a warning or a breach, and when).

A team is its own app rather than part of `accounts`: tickets point at teams, and the
import contracts keep `accounts` free of `tickets` and `policies`, while the profiles here
point at `policies.BusinessCalendar`. `people` sits between the two: `tickets` may import
it, it may import `policies`, and neither `accounts` nor `notifications` imports it.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models

from people.validation import validate_level, validate_quiet_hours, validate_roles
from policies.validation import validate_time_zone
from sla.business_time import Calendar
from sla.enums import Metric, choices
from sla.escalation import Trigger
from sla.quiet_hours import QuietHours


class TeamQuerySet(models.QuerySet["Team"]):
    def of(self, user_id: int) -> TeamQuerySet:
        """The teams `user_id` is a member of (served by the membership table's index)."""
        return self.filter(members__id=user_id)


class Team(models.Model):
    """Staff-managed: a name, its members, a lead, and whom to escalate to beyond the lead."""

    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    # Neither the lead nor the escalation contact needs to be a member: a manager may lead
    # several teams without working their tickets.
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="led_teams",
    )
    escalation_contact = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


def team_ids_of(user_id: int) -> list[int]:
    """The ids of the teams whose tickets `user_id` sees, in id order: those they are a
    member of, lead, or are the escalation contact of (the people a breach is escalated to
    can open it). What a ticket list reads branch by branch."""
    found = Team.objects.filter(
        models.Q(members__id=user_id)
        | models.Q(lead_id=user_id)
        | models.Q(escalation_contact_id=user_id)
    ).values_list("pk", flat=True)
    return sorted(set(found))


class Profile(models.Model):
    """How a user wants to hear of SLA events: their time zone, quiet hours, channels.

    Read when an escalation level fires (tickets.escalation): an email to a recipient in
    their quiet hours is held until they end, unless the level breaks through. Made on
    first use (people.services.profile_of), so users made before it have one when asked.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    # An IANA name (Europe/Berlin): quiet hours are wall-clock times there, DST included.
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # Quiet from start to end, local time; past midnight when end < start (22:00-07:00).
    # Both or neither (people.validation.validate_quiet_hours).
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    # Or quiet whenever this calendar is closed (nights, weekends, its holidays).
    quiet_calendar = models.ForeignKey(
        "policies.BusinessCalendar",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Per channel: whether this user wants escalation emails at all (a person's channel is
    # email; chat and webhooks belong to teams). The owner's own ticket emails always go.
    email_enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"profile of user {self.user_id}"

    def clean(self) -> None:
        validate_quiet_hours(self.quiet_hours_start, self.quiet_hours_end)

    def quiet_hours(self, calendar: Calendar | None = None) -> QuietHours | None:
        """When this user is quiet (None: never); `calendar`: the quiet calendar's
        domain calendar if the caller has it already."""
        if calendar is None and self.quiet_calendar is not None:
            calendar = self.quiet_calendar.to_domain()
        if calendar is None and self.quiet_hours_start is None:
            return None
        return QuietHours(
            zone=ZoneInfo(self.time_zone),
            start=self.quiet_hours_start,
            end=self.quiet_hours_end,
            calendar=calendar,
        )


class EscalationPolicyQuerySet(models.QuerySet["EscalationPolicy"]):
    def default(self) -> EscalationPolicy | None:
        return self.filter(is_default=True).first()


class EscalationPolicy(models.Model):
    """An ordered list of levels (sla.escalation), for the SLA policies that name it.

    The default policy (at most one) serves tickets whose SLA policy names none, and
    tickets without a policy. Staff-managed, in the admin.
    """

    name = models.CharField(max_length=100, unique=True)
    is_default = models.BooleanField(default=False)

    objects = EscalationPolicyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "escalation policies"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="escalationpolicy_one_default",
                violation_error_message="There is already a default escalation policy.",
            )
        ]

    def __str__(self) -> str:
        return self.name


# A level's fields in the order the admin edits them and the API shows them.
LEVEL_FIELDS = (
    "position",
    "trigger",
    "metric",
    "delay",
    "business_time",
    "repeat_every",
    "repeat_limit",
    "roles",
    "user",
    "endpoint",
    "breaks_quiet_hours",
)


class EscalationLevel(models.Model):
    """When a level fires and whom it tells (sla.escalation.Level and Role)."""

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField(help_text="1 for the first level, then 2, ...")
    trigger = models.CharField(max_length=16, choices=choices(Trigger))
    # Blank: both metrics.
    metric = models.CharField(max_length=16, choices=choices(Metric), blank=True, default="")
    delay = models.DurationField(
        default=timedelta(0), blank=True, help_text="Breach levels: how long after the breach."
    )
    business_time = models.BooleanField(
        default=False, help_text="Count the delay and the repeats on the policy's calendar."
    )
    repeat_every = models.DurationField(null=True, blank=True)
    repeat_limit = models.PositiveSmallIntegerField(default=0, blank=True)
    # Role values (sla.escalation.Role): resolved against the ticket when the level fires.
    roles = models.JSONField(default=list, blank=True, validators=[validate_roles])
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="A fixed person to tell, besides the roles.",
    )
    endpoint = models.ForeignKey(
        "notifications.Endpoint",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="A fixed webhook or chat endpoint to tell, besides the roles.",
    )
    breaks_quiet_hours = models.BooleanField(
        default=False, help_text="Send at once even to people in their quiet hours."
    )

    class Meta:
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "position"], name="escalationlevel_one_per_position"
            )
        ]

    def __str__(self) -> str:
        return f"level {self.position} of {self.policy_id}"

    def clean(self) -> None:
        validate_level(
            trigger=self.trigger,
            delay=self.delay,
            repeat_every=self.repeat_every,
            repeat_limit=self.repeat_limit,
            has_recipient=bool(self.roles or self.user_id or self.endpoint_id),
        )
