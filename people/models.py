"""Teams: who works tickets together (and, with issue 13's escalation, who hears of them).

A team is its own app rather than part of `accounts`: tickets point at teams, and the
import contracts keep `accounts` free of `tickets` and `policies`, while the profiles here
point at `policies.BusinessCalendar`. `people` sits between the two: `tickets` may import
it, it may import `policies`, and neither `accounts` nor `notifications` imports it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from people.validation import validate_quiet_hours
from policies.validation import validate_time_zone


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
    """The ids of `user_id`'s teams, in id order: what a ticket list reads branch by branch."""
    through = Team.members.through
    return list(
        through.objects.filter(user_id=user_id)
        .order_by("team_id")
        .values_list("team_id", flat=True)
    )


class Profile(models.Model):
    """How a user wants to hear of SLA events: their time zone, quiet hours, channels.

    Read by issue 13's escalation (not yet built): a notification for a recipient in their
    quiet hours is to wait until they end, unless its level breaks through. Made on first
    use (people.services.profile_of), so users made before it have one as soon as asked.
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
    # Per channel: whether this user wants it at all. Email is today's only channel.
    email_enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"profile of user {self.user_id}"

    def clean(self) -> None:
        validate_quiet_hours(self.quiet_hours_start, self.quiet_hours_end)
